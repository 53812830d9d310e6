import type { TableSource } from "../../tables/types.js";
import type { StepModelFile } from "../../schema/fit.js";
import { quantileSorted } from "../math/stats.js";
import { pairingKeys, withoutSuffix } from "../client-ids.js";
import { machineOf, sameGpus, type MachineIdentity } from "../machine.js";
import { collectFitData } from "./data.js";
import { termValue } from "./features.js";
import { compareGpu, GpuSampler, type GpuKindRow } from "./gpu-timeline.js";
import { comparePace, compareProgress, compareWork, PaceSampler, ProgressSampler, WorkSampler, type PaceBin, type ProgressWindow, type WorkMilestone } from "./pace.js";

/**
 * Calibration of a simulated run against the recorded one (docs/fit.md): requests paired
 * by the client's request id (client-ids.ts: vLLM's random suffix dropped, so two real runs of
 * the same requests pair too), steps paired by step number.
 *
 * - per metric (TTFT, E2E, queue delay; scheduler side, from add_request()): APE of each
 *   paired request |sim − rec| / rec, its median, p90 and mean; the error of the means
 *   |mean(sim) − mean(rec)| / mean(rec) and of the p90s likewise.
 * - step membership: step i of both runs scheduled the same set of (request, tokens)
 *   ("exact") or the same requests ("membership"); shares over max(steps), and the first
 *   step where they differ.
 * Per-step sets are kept as order-free hashes (count and two 32-bit sums), never as lists.
 */
export interface LatencyAgreement {
  metric: "ttft" | "e2e" | "queue_delay";
  pairs: number;
  median_ape: number | null;
  p90_ape: number | null;
  mean_ape: number | null;
  recorded_mean_ns: number | null;
  simulated_mean_ns: number | null;
  error_of_means: number | null;
  recorded_p90_ns: number | null;
  simulated_p90_ns: number | null;
  error_of_p90s: number | null;
}

export interface StepAgreement {
  recorded_steps: number;
  simulated_steps: number;
  exact_matches: number;
  membership_matches: number;
  exact_share: number | null;
  membership_share: number | null;
  first_divergent_step: number | null;
  /** batch sizes at the first divergent step */
  first_divergence: { recorded_batch: number; simulated_batch: number } | null;
}

export interface CalibrationResult {
  kind: "vsched.calibrate";
  recorded: string;
  simulated: string;
  /**
   * Requests pair by the client's id (client-ids.ts) where both runs have the same prompt length and
   * max_tokens; `mismatched` had the id in both runs but not those (other requests under reused ids).
   */
  requests: { recorded: number; simulated: number; paired: number; only_recorded: number; only_simulated: number; mismatched: number };
  latency: LatencyAgreement[];
  steps: StepAgreement;
  makespan: { recorded_ns: number | null; simulated_ns: number | null; error: number | null };
  /** the α regression's queue-delay error on the recorded run, beside the replay's (null without a model carrying one) */
  alpha_regression_queue_delay: LatencyAgreement | null;
  note: string;
  /** the time from one schedule() entry to the next, per step type and batch bin, recorded against simulated (fit/pace.ts) */
  pace: PaceBin[];
  /** steps, tokens scheduled and the waiting queue by window of each run's time from its first step (fit/pace.ts) */
  progress: ProgressWindow[];
  /** the time each run took to schedule 1%, 10%, … of its tokens, and the replay's lead (fit/pace.ts) */
  work: WorkMilestone[];
  /** each run's GPU busy and idle time, all steps and by kind, where both runs have GPU times (fit/gpu-timeline.ts); empty otherwise */
  gpu: GpuKindRow[];
  /** which runs had GPU times per step (update.gpu): where one lacks them, gpu is empty */
  gpu_timed: { recorded: boolean; simulated: boolean };
  /** which machine each run had (trace schema 1.7; null for a replay or an older trace), and whether their GPUs were the same (null unless both say) */
  machines: { recorded: MachineIdentity | null; simulated: MachineIdentity | null; same_gpus: boolean | null };
}

interface Req {
  /** what identifies the request beyond its id: two runs' requests of one id pair only if these agree */
  input_tokens: number;
  max_tokens: number | null;
  ttft: number | null;
  e2e: number | null;
  queue: number | null;
  completion: number | null;
}

/** a step's scheduled set as order-free sums: of (request, tokens) keys (a, b) and of requests alone (ids, idb) */
interface SetHash {
  n: number;
  a: number;
  b: number;
  ids: number;
  idb: number;
}

/** a step's set by the ids as given, and by the client's ids (vLLM's suffix dropped): which one counts is known only once the run's ids are all read */
interface StepHash {
  given: SetHash;
  client: SetHash;
}

const emptySet = (): SetHash => ({ n: 0, a: 0, b: 0, ids: 0, idb: 0 });

/** one scheduled (request, tokens) as the four hashes a set sums */
function rowHashes(id: string, tokens: number): [number, number, number, number] {
  const key = `${id}\u0000${tokens}`;
  return [fnv1a(key, 2166136261), fnv1a(key, 0x9747b28c), fnv1a(id, 2166136261), fnv1a(id, 0x9747b28c)];
}

function addToSet(h: SetHash, [a, b, ids, idb]: [number, number, number, number]): void {
  h.n++;
  h.a = (h.a + a) >>> 0;
  h.b = (h.b + b) >>> 0;
  h.ids = (h.ids + ids) >>> 0;
  h.idb = (h.idb + idb) >>> 0;
}

function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

async function gather(source: TableSource): Promise<{ reqs: Map<string, Req>; requestIds: string[]; steps: Map<number, SetHash>; stepCount: number; pace: PaceSampler; progress: ProgressSampler; work: WorkSampler; gpu: GpuSampler }> {
  const ids: string[] = [], arrivals: (number | null)[] = [], facts: Req[] = [];
  const steps = new Map<number, StepHash>();
  const pace = new PaceSampler();
  const progress = new ProgressSampler();
  const work = new WorkSampler();
  const gpu = new GpuSampler();
  let stepCount = 0;
  await source.scan({
    per_request: (r) => {
      ids.push(r.request_id);
      arrivals.push(r.arrival_time);
      facts.push({
        input_tokens: r.input_tokens, max_tokens: r.max_tokens,
        ttft: r.ttft, e2e: r.e2e_latency, completion: r.completion_time,
        queue: r.first_scheduled_time === null ? null : r.first_scheduled_time - r.arrival_time,
      });
    },
    per_iteration: (r) => {
      stepCount = Math.max(stepCount, r.iteration_id + 1);
      // unknown counts (a summary-level trace) count as busy: the median keeps an odd idle gap out
      const idle = r.running_count_after_update === 0 && (r.waiting_count_after_update ?? 0) === 0;
      pace.add({ dp_rank: r.dp_rank, start_time: r.start_time, batch_size: r.batch_size, num_prefill_reqs: r.num_prefill_reqs, busy_after: !idle });
      progress.add(r);
      work.add(r);
      gpu.add(r);
    },
    per_iteration_requests: (r) => {
      if (r.scheduled_tokens <= 0) return;
      let h = steps.get(r.iteration_id);
      if (!h) steps.set(r.iteration_id, (h = { given: emptySet(), client: emptySet() }));
      // hashed once where the id has no suffix to drop (every id of a run vLLM did not suffix)
      const given = rowHashes(r.request_id, r.scheduled_tokens), client = withoutSuffix(r.request_id);
      addToSet(h.given, given);
      addToSet(h.client, client === r.request_id ? given : rowHashes(client, r.scheduled_tokens));
    },
  });
  const { keys, suffixed } = pairingKeys(ids, arrivals);
  const reqs = new Map(keys.map((k, i) => [k, facts[i]]));
  const side = suffixed ? "client" : "given";
  return { reqs, requestIds: ids, steps: new Map([...steps].map(([i, h]) => [i, h[side]])), stepCount, pace, progress, work, gpu };
}

function agreement(metric: LatencyAgreement["metric"], rec: number[], sim: number[]): LatencyAgreement {
  const ape = Float64Array.from(rec.map((r, i) => (r > 0 ? Math.abs(sim[i] - r) / r : 0))).sort();
  const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : null);
  const p90 = (v: number[]) => quantileSorted(Float64Array.from(v).sort(), 0.9);
  const rel = (s: number | null, r: number | null) => (s === null || r === null || r === 0 ? null : Math.abs(s - r) / r);
  const rm = mean(rec), sm = mean(sim), rp = p90(rec), sp = p90(sim);
  return {
    metric, pairs: rec.length,
    median_ape: quantileSorted(ape, 0.5), p90_ape: quantileSorted(ape, 0.9), mean_ape: ape.length ? ape.reduce((s, x) => s + x, 0) / ape.length : null,
    recorded_mean_ns: rm, simulated_mean_ns: sm, error_of_means: rel(sm, rm),
    recorded_p90_ns: rp, simulated_p90_ns: sp, error_of_p90s: rel(sp, rp),
  };
}

function stepAgreement(rec: Awaited<ReturnType<typeof gather>>, sim: Awaited<ReturnType<typeof gather>>): StepAgreement {
  const n = Math.max(rec.stepCount, sim.stepCount);
  const empty = emptySet();
  let exact = 0, member = 0, first: number | null = null;
  for (let i = 0; i < n; i++) {
    const inBoth = i < rec.stepCount && i < sim.stepCount;
    const r = rec.steps.get(i) ?? empty, s = sim.steps.get(i) ?? empty;
    const sameMembers = inBoth && r.n === s.n && r.ids === s.ids && r.idb === s.idb;
    const same = sameMembers && r.a === s.a && r.b === s.b;
    if (same) exact++;
    if (sameMembers) member++;
    if (!same && first === null) first = i;
  }
  return {
    recorded_steps: rec.stepCount, simulated_steps: sim.stepCount, exact_matches: exact, membership_matches: member,
    exact_share: n ? exact / n : null, membership_share: n ? member / n : null, first_divergent_step: first,
    first_divergence: first === null ? null : { recorded_batch: (rec.steps.get(first) ?? empty).n, simulated_batch: (sim.steps.get(first) ?? empty).n },
  };
}

function makespan(reqs: Map<string, Req>): number | null {
  let m: number | null = null;
  for (const r of reqs.values()) if (r.completion !== null) m = Math.max(m ?? r.completion, r.completion);
  return m;
}

async function alphaRegressionError(recorded: TableSource, model: StepModelFile | null, requestIds: readonly string[]): Promise<LatencyAgreement | null> {
  if (!model?.alpha) return null;
  const recReqs = new Set(requestIds);
  const data = await collectFitData(recorded, { warmupSteps: 0, testFraction: 0 });
  const alpha = model.alpha;
  const rec: number[] = [], pred: number[] = [];
  for (const row of data.requests) {
    if (!recReqs.has(row.request_id)) continue;
    const get = (f: string) => Number((row as unknown as Record<string, unknown>)[f]);
    rec.push(row.queue_delay_ns);
    pred.push(Math.max(0, alpha.terms.reduce((s, t) => s + t.coef * 1e9 * termValue(t, get), 0)));
  }
  return agreement("queue_delay", rec, pred);
}

function machinesOf(recorded: TableSource, simulated: TableSource): CalibrationResult["machines"] {
  const r = machineOf(recorded), m = machineOf(simulated);
  return { recorded: r, simulated: m, same_gpus: sameGpus(r, m) };
}

export async function calibrate(recorded: TableSource, simulated: TableSource, model: StepModelFile | null = null): Promise<CalibrationResult> {
  const rec = await gather(recorded), sim = await gather(simulated);
  const cols = { ttft: [[], []], e2e: [[], []], queue_delay: [[], []] } as Record<LatencyAgreement["metric"], [number[], number[]]>;
  let paired = 0, mismatched = 0;
  for (const [id, r] of rec.reqs) {
    const s = sim.reqs.get(id);
    if (!s) continue;
    if (s.input_tokens !== r.input_tokens || s.max_tokens !== r.max_tokens) {
      mismatched++;
      continue;
    }
    paired++;
    const add = (k: LatencyAgreement["metric"], a: number | null, b: number | null) => {
      if (a !== null && b !== null) (cols[k][0].push(a), cols[k][1].push(b));
    };
    add("ttft", r.ttft, s.ttft);
    add("e2e", r.e2e, s.e2e);
    add("queue_delay", r.queue, s.queue);
  }
  const mr = makespan(rec.reqs), ms = makespan(sim.reqs);
  return {
    kind: "vsched.calibrate",
    recorded: recorded.info.label,
    simulated: simulated.info.label,
    requests: { recorded: rec.reqs.size, simulated: sim.reqs.size, paired, only_recorded: rec.reqs.size - paired - mismatched, only_simulated: sim.reqs.size - paired - mismatched, mismatched },
    latency: (["ttft", "e2e", "queue_delay"] as const).map((k) => agreement(k, cols[k][0], cols[k][1])),
    steps: stepAgreement(rec, sim),
    makespan: { recorded_ns: mr, simulated_ns: ms, error: mr && ms !== null ? Math.abs(ms - mr) / mr : null },
    alpha_regression_queue_delay: await alphaRegressionError(recorded, model, rec.requestIds),
    note: "Latencies are scheduler-side (from add_request()). Queue delay under load comes from the replay; the alpha regression row shows what a regression alone would have predicted for the same requests.",
    pace: comparePace(rec.pace, sim.pace),
    progress: compareProgress(rec.progress, sim.progress),
    work: compareWork(rec.work, sim.work),
    gpu: compareGpu(rec.gpu, sim.gpu),
    gpu_timed: { recorded: rec.gpu.timed, simulated: sim.gpu.timed },
    machines: machinesOf(recorded, simulated),
  };
}
