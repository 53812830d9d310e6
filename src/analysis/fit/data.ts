import type { TableSource } from "../../tables/types.js";
import type { AlphaTrainingRow, BetaTrainingRow, ExclusionReason } from "../../schema/fit.js";
import { captureSizesOf, chunkAttentionPairs, paddedTokens, runsWithoutGraph, type CaptureSizes } from "./gpu.js";

/**
 * Training data for vsched fit, gathered in one pass over per_iteration,
 * per_iteration_requests (context tokens, aggregated per step as rows stream by) and
 * per_request. What stays in memory is one small record per step and per request, never
 * the per-request-per-step rows.
 *
 * The step-time target (docs/fit.md): update_from_output() entry of step N minus
 * max(schedule() return of N, update_from_output() entry of N-1). Synchronously this is
 * forward_duration (schedule returns after the previous update); under async scheduling
 * step N is scheduled while N-1 still runs, and N's batch can only start once N-1's output
 * is collected, so it is the interval between successive updates: model time alone, never
 * the overlapped forward_duration.
 */
export interface FitDataOptions {
  /** steps left out at the start of each rank (compilation, cache warm-up) */
  warmupSteps: number;
  /** share of kept steps (and requests), latest first, held out for testing */
  testFraction: number;
}

export interface FitData {
  steps: BetaTrainingRow[];
  requests: AlphaTrainingRow[];
  /** median over busy steps of max(0, schedule() return − previous update entry): CPU time outside the model, 0 when pipelined */
  perStepOverheadNs: number;
  sources: string[];
  vllmVersion: string;
  /** CUDA-graph capture sizes used for padded_tokens (rank 0's) */
  captureSizes: CaptureSizes;
  /** the emitter level the run was recorded at (schedule_ns includes the emitter's hooks) */
  emitterLevel: string;
  /** per busy step, from its update_from_output() entry to the rank's next schedule() entry, with the batch the update collected (the host part of the GPU clock, fit/host-part.ts) */
  postUpdates: PostUpdate[];
}

/** Floats rounded as the CSV writes them (6 decimals), so the fit uses exactly the exported training data. */
const asExported = (v: number) => Math.round(v * 1e6) / 1e6;

interface StepAgg {
  ctx: number;
  decodeCtx: number;
  attn: number;
  prefillAttn: number;
}

type Config = Pick<BetaTrainingRow, "max_num_seqs" | "max_num_batched_tokens" | "num_gpu_blocks" | "block_size" | "enable_chunked_prefill" | "async_scheduling" | "vllm_version">;

function headerOf(source: TableSource, rank: number) {
  return (source.info.sources.find((s) => s.header.dp_rank === rank) ?? source.info.sources[0])?.header;
}

function configOf(source: TableSource, rank: number): Config {
  const h = headerOf(source, rank);
  const c = h?.config;
  return {
    max_num_seqs: c?.max_num_seqs ?? 0,
    max_num_batched_tokens: c?.max_num_batched_tokens ?? 0,
    num_gpu_blocks: c?.num_gpu_blocks ?? 0,
    block_size: c?.block_size ?? 0,
    enable_chunked_prefill: c?.enable_chunked_prefill ? 1 : 0,
    async_scheduling: c?.async_scheduling ? 1 : 0,
    vllm_version: h?.vllm_version ?? "unknown",
  };
}

interface StepRaw {
  rank: number;
  it: number;
  start: number;
  schedEnd: number;
  updStart: number | null;
  fwd: number | null;
  batch: number;
  pr: number;
  dr: number;
  pt: number;
  dt: number;
  running: number;
  kvAfterSched: number;
  kvTotal: number;
  // after the update: what a request arriving next sees
  end: number | null;
  waitingAfter: number | null;
  runningAfter: number | null;
  kvUtil: number | null;
  /** the engine thread's run-queue wait since the previous step's schedule() entry (trace step.cpu); null: not captured */
  cpuWait: number | null;
  /** the step's own GPU time and the GPU idle time before it (trace update.gpu); null: not captured */
  gpuStep: number | null;
  gpuGap: number | null;
  runnerHost: number | null;
}

interface ReqRaw {
  id: string;
  rank: number;
  arrival: number;
  firstSched: number | null;
  prompt: number;
  arrivalEpoch: string | null;
  vllmArrivalEpoch: string | null;
}

export async function collectFitData(source: TableSource, opts: FitDataOptions): Promise<FitData> {
  const agg = new Map<string, StepAgg>();
  const steps: StepRaw[] = [];
  const reqs: ReqRaw[] = [];
  await source.scan({
    per_iteration_requests: (r) => {
      if (r.scheduled_tokens <= 0) return;
      const key = `${r.dp_rank}:${r.iteration_id}`;
      let a = agg.get(key);
      if (!a) agg.set(key, (a = { ctx: 0, decodeCtx: 0, attn: 0, prefillAttn: 0 }));
      a.ctx += r.computed_tokens;
      a.attn += r.scheduled_tokens * r.computed_tokens;
      if (r.scheduled_tokens === 1 && r.running_reason === null) a.decodeCtx += r.computed_tokens;
      else a.prefillAttn += chunkAttentionPairs(r.scheduled_tokens, r.computed_tokens);
    },
    per_iteration: (r) => {
      const schedEnd = r.start_time + r.scheduling_overhead;
      steps.push({
        rank: r.dp_rank, it: r.iteration_id, start: r.start_time, schedEnd,
        updStart: r.forward_duration === null ? null : schedEnd + r.forward_duration, fwd: r.forward_duration,
        batch: r.batch_size, pr: r.num_prefill_reqs, dr: r.num_decode_reqs, pt: r.prefill_tokens, dt: r.decode_tokens,
        running: r.running_count, kvAfterSched: r.kv_cache_used_after_schedule, kvTotal: r.kv_cache_total,
        end: r.end_time, waitingAfter: r.waiting_count_after_update, runningAfter: r.running_count_after_update, kvUtil: r.kv_cache_utilization,
        cpuWait: r.engine_cpu_wait_ns, gpuStep: r.gpu_step_ns, gpuGap: r.gpu_gap_ns, runnerHost: r.runner_host_ns,
      });
    },
    per_request: (r) => {
      reqs.push({ id: r.request_id, rank: r.dp_rank, arrival: r.arrival_time, firstSched: r.first_scheduled_time, prompt: r.input_tokens, arrivalEpoch: r.arrival_time_epoch_ns, vllmArrivalEpoch: r.vllm_arrival_time_epoch_ns });
    },
  });
  steps.sort((a, b) => a.rank - b.rank || a.it - b.it);
  const { rows, overheadNs } = betaRows(source, steps, agg, opts);
  const requests = alphaRows(source, reqs, steps, opts);
  const cfg = configOf(source, 0);
  return { steps: rows, requests, perStepOverheadNs: overheadNs, postUpdates: postUpdates(steps), sources: source.info.sources.map((s) => s.path), vllmVersion: cfg.vllm_version, captureSizes: captureSizesOf(headerOf(source, 0)), emitterLevel: headerOf(source, 0)?.level ?? "full" };
}

/** One pass of the engine loop after an update: its time and the batch whose output it handled. */
export interface PostUpdate {
  ns: number;
  batch: number;
  /** the update's entry (ns, the run's time base): the host index of its window divides it */
  at: number;
}

/**
 * From each update_from_output() entry to the first schedule() entry after it on the rank (under
 * async scheduling the step after next: the next one was scheduled before the update), where the
 * engine had work left (an idle engine waits for arrivals instead). The loop's own time: the
 * update, output handling, the next schedule() call; the update walks the batch's requests, so
 * the batch goes with it.
 */
function postUpdates(steps: readonly StepRaw[]): PostUpdate[] {
  const out: PostUpdate[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.updStart === null || !((s.runningAfter ?? 0) > 0)) continue;
    for (let j = i + 1; j <= i + 2 && j < steps.length; j++) {
      const n = steps[j];
      if (n.rank !== s.rank || n.it !== s.it + (j - i)) break;
      if (n.start >= s.updStart) {
        out.push({ ns: n.start - s.updStart, batch: s.batch, at: s.updStart });
        break;
      }
    }
  }
  return out;
}

interface GpuFeatures {
  padded: number;
  hasPrefill: number;
  decodeCtx: number;
  prefillAttn: number;
  noGraph: number;
}
const NO_STEP: GpuFeatures = { padded: 0, hasPrefill: 0, decodeCtx: 0, prefillAttn: 0, noGraph: 0 };

function gpuFeatures(s: StepRaw, a: StepAgg | undefined, sizes: readonly number[]): GpuFeatures {
  return { padded: paddedTokens(s.pt + s.dt, sizes), hasPrefill: s.pr > 0 ? 1 : 0, decodeCtx: a?.decodeCtx ?? 0, prefillAttn: a?.prefillAttn ?? 0, noGraph: runsWithoutGraph(s.pt + s.dt, sizes) };
}

/**
 * The step whose launch overlaps step i's wait for its output: under async scheduling vLLM
 * schedules and launches N+1 before it collects N, and a launch that syncs with the device (a
 * prefill) delays that collection, so N's measured time depends on N+1's batch too.
 */
function nextOverlapping(steps: StepRaw[], i: number): StepRaw | null {
  const s = steps[i], n = steps[i + 1];
  if (!n || n.rank !== s.rank || n.it !== s.it + 1 || s.updStart === null) return null;
  return n.start < s.updStart && n.pt + n.dt > 0 ? n : null;
}

function betaRows(source: TableSource, steps: StepRaw[], agg: Map<string, StepAgg>, opts: FitDataOptions): { rows: BetaTrainingRow[]; overheadNs: number } {
  const rows: BetaTrainingRow[] = [];
  const sizesByRank = new Map<number, number[]>();
  const sizesOf = (rank: number) => sizesByRank.get(rank) ?? sizesByRank.set(rank, captureSizesOf(headerOf(source, rank)).sizes).get(rank)!;
  const gaps: number[] = [];
  let prev: StepRaw | null = null;
  let seenInRank = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (!prev || prev.rank !== s.rank) seenInRank = 0;
    const prevUpd = prev && prev.rank === s.rank && prev.it === s.it - 1 ? prev.updStart : null;
    const stepTime = stepTimeNs(s, prevUpd);
    const a = agg.get(`${s.rank}:${s.it}`) ?? { ctx: 0, decodeCtx: 0, attn: 0, prefillAttn: 0 };
    const sizes = sizesOf(s.rank);
    const g = gpuFeatures(s, a, sizes);
    const nx = nextOverlapping(steps, i);
    const n = nx ? gpuFeatures(nx, agg.get(`${nx.rank}:${nx.it}`), sizes) : NO_STEP;
    let excluded: ExclusionReason | null = null;
    if (seenInRank < opts.warmupSteps) excluded = "warmup";
    else if (s.pt + s.dt === 0) excluded = "idle";
    else if (stepTime === null || stepTime <= 0) excluded = "incomplete";
    // CPU time between two model runs that the model clock does not see: only when the engine
    // had work left after the previous update (not waiting for arrivals); 0 when schedule()
    // overlapped the previous batch (async).
    const busy = prev !== null && prevUpd !== null && ((prev.runningAfter ?? 0) > 0 || (prev.waitingAfter ?? 0) > 0);
    if (!excluded && busy && s.updStart !== null) gaps.push(Math.max(0, s.schedEnd - prevUpd!));
    seenInRank++;
    rows.push({
      step_time_ns: stepTime, prefill_reqs: s.pr, decode_reqs: s.dr, prefill_tokens: s.pt, decode_tokens: s.dt,
      scheduled_tokens: s.pt + s.dt, running_depth: s.running, kv_ratio: s.kvTotal > 0 ? asExported(s.kvAfterSched / s.kvTotal) : 0,
      context_tokens: a.ctx, ...configOf(source, s.rank),
      batch_size: s.batch, decode_context_tokens: a.decodeCtx, attention_work: a.attn, iteration_id: s.it, dp_rank: s.rank,
      start_time: s.start, forward_duration: s.fwd, excluded, split: null,
      padded_tokens: g.padded, has_prefill: g.hasPrefill, prefill_attention_work: g.prefillAttn,
      next_has_prefill: n.hasPrefill, next_padded_tokens: n.padded, next_decode_context_tokens: n.decodeCtx, next_prefill_attention_work: n.prefillAttn,
      block: null,
      no_cudagraph: g.noGraph, next_no_cudagraph: n.noGraph, schedule_ns: s.schedEnd - s.start,
      // set per run by hostCpuIndices() once every training run is read (fit/host-cpu.ts)
      cpu_index: 1,
      cpu_wait_ns: spanWait(steps, i),
      gpu_step_ns: s.gpuStep, gpu_gap_ns: s.gpuGap, runner_host_ns: s.runnerHost,
      // the span; fit --gpu-work censored reads the host-bound steps' work (fit/gpu-work.ts)
      gpu_work_ns: s.gpuStep,
    });
    prev = s;
  }
  const kept = rows.filter((r) => r.excluded === null);
  markSplit(kept, (r) => r.start_time, opts.testFraction);
  markBlocks(kept, (r) => r.start_time, CV_BLOCKS);
  gaps.sort((x, y) => x - y);
  return { rows, overheadNs: gaps.length ? gaps[Math.floor(gaps.length / 2)] : 0 };
}

/** The step-time target (module comment): update entry − max(schedule() return, the previous step's update entry); null without an update. */
export function stepTimeNs(s: { schedEnd: number; updStart: number | null }, prevUpdStart: number | null): number | null {
  return s.updStart === null ? null : s.updStart - Math.max(s.schedEnd, prevUpdStart ?? -Infinity);
}

/**
 * The engine thread's run-queue wait over step i's span. A step record's cpu covers the time
 * from the previous schedule() entry to its own, and under async scheduling step i runs from its
 * schedule() to the next one's (vLLM schedules i+1 before it collects i), so the next step's
 * figure is i's; the last step of a rank takes its own. Null where the trace has none.
 */
function spanWait(steps: StepRaw[], i: number): number | null {
  const s = steps[i], n = steps[i + 1];
  return n && n.rank === s.rank && n.it === s.it + 1 ? n.cpuWait : s.cpuWait;
}

/** Folds of the blocked cross-validation: contiguous stretches of the run, so every phase (ramp-up, load, drain) is tested once. */
export const CV_BLOCKS = 5;

function markBlocks<R extends { block: number | null }>(rows: R[], time: (r: R) => number, k: number): void {
  const order = [...rows].sort((a, b) => time(a) - time(b));
  order.forEach((r, i) => (r.block = Math.floor((i * k) / order.length)));
}

/** The latest `fraction` of rows by time become "test", the rest "train". */
function markSplit<R extends { split: "train" | "test" | null }>(rows: R[], time: (r: R) => number, fraction: number): void {
  const order = [...rows].sort((a, b) => time(a) - time(b));
  const nTest = Math.round(order.length * fraction);
  order.forEach((r, i) => (r.split = i >= order.length - nTest ? "test" : "train"));
}

function alphaRows(source: TableSource, reqs: ReqRaw[], steps: StepRaw[], opts: FitDataOptions): AlphaTrainingRow[] {
  // per rank: updates in time order, to read the state a request found when it arrived
  const byRank = new Map<number, StepRaw[]>();
  for (const s of steps) if (s.end !== null) (byRank.get(s.rank) ?? byRank.set(s.rank, []).get(s.rank)!).push(s);
  for (const list of byRank.values()) list.sort((a, b) => a.end! - b.end!);
  const rows: AlphaTrainingRow[] = [];
  for (const q of reqs) {
    if (q.firstSched === null) continue;
    const list = byRank.get(q.rank) ?? [];
    const idx = countEndedBy(list, q.arrival);
    const last = idx > 0 ? list[idx - 1] : null;
    const frontend = q.arrivalEpoch !== null && q.vllmArrivalEpoch !== null ? Number(BigInt(q.arrivalEpoch) - BigInt(q.vllmArrivalEpoch)) : null;
    const waiting = last?.waitingAfter ?? 0;
    const running = last?.runningAfter ?? 0;
    const inFlight = idx < list.length && list[idx].start <= q.arrival;
    rows.push({
      queue_delay_ns: q.firstSched - q.arrival, prompt_tokens: q.prompt, waiting_depth: waiting, running_depth: running,
      kv_ratio: asExported(last?.kvUtil ?? 0), ...configOf(source, q.rank), request_id: q.id, arrival_time: q.arrival,
      frontend_delay_ns: frontend, engine_idle_at_arrival: waiting === 0 && running === 0 && !inFlight ? 1 : 0, split: null,
      dp_rank: q.rank,
    });
  }
  markSplit(rows, (r) => r.arrival_time, opts.testFraction);
  return rows;
}

/** number of steps (sorted by end) whose update ended at or before t */
function countEndedBy(list: StepRaw[], t: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].end! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
