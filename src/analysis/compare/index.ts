import type { TableSource } from "../../tables/types.js";
import { WAITING_REASONS } from "../../schema/waiting.js";
import { collectRun, type RequestFacts, type RunData } from "./collect.js";
import type { OccupancyBucket } from "./occupancy.js";
import { pairRuns, type Pairing } from "./pairing.js";
import { predictorQuality, type PredictorQuality } from "./predictor.js";
import { fitSlowdownModel, slowdownOf, type SlowdownModel } from "./slowdown.js";
import { blockLength, bootstrapCIs, minNForQuantile, statOf, wilcoxonSignedRank, type Statistic } from "./stats.js";

/**
 * `vsched compare A B [C…]`: runs against a baseline (A). Pure over TableSources; returns a
 * plain, JSON-serialisable object (times in ns, keys ending _ns). See docs/compare.md.
 */
export const COMPARE_FORMAT_VERSION = 1;

export interface Slo {
  ttft_ns?: number;
  tpot_ns?: number;
  e2e_ns?: number;
}

export interface CompareOptions {
  resamples: number;
  seed: number;
  slo?: Slo;
}

export type StatName = "mean" | "p50" | "p90" | "p99";
const STATS: { name: StatName; s: Statistic }[] = [
  { name: "mean", s: { kind: "mean" } },
  { name: "p50", s: { kind: "quantile", q: 0.5 } },
  { name: "p90", s: { kind: "quantile", q: 0.9 } },
  { name: "p99", s: { kind: "quantile", q: 0.99 } },
];

export interface MetricStats {
  n: number;
  /** null when n is too small for that percentile (see `withheld`) */
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  withheld: StatName[];
}

export interface Difference {
  run: string;
  stat: StatName;
  paired: boolean;
  n: number;
  baseline: number;
  value: number;
  /**
   * value / baseline (= B/A - 1); null when the baseline is near zero (below NEAR_ZERO for its
   * unit, or not positive in every bootstrap resample): the difference is reported alone
   */
  relative: number | null;
  /** 95% interval of the difference (value), in the metric's unit */
  ci95_lo: number;
  ci95_hi: number;
  /** 95% interval of the relative change, bootstrapped as B/A - 1 per resample (never below -1); null with relative */
  relative_ci95_lo: number | null;
  relative_ci95_hi: number | null;
  /** two-sided Wilcoxon signed-rank p of the paired differences (mean rows of paired runs) */
  wilcoxon_p: number | null;
}

export interface MetricResult {
  name: string;
  unit: string;
  description: string;
  runs: MetricStats[];
  differences: Difference[];
  /** stats withheld because n was too small, per run and overall */
  note: string | null;
}

export interface RunSummary {
  label: string;
  policy: string;
  vllm_version: string;
  requests: number;
  completed: number;
  iterations: number;
  span_ns: number | null;
  throughput_tokens_per_s: number | null;
  throughput_requests_per_s: number | null;
  goodput_requests_per_s: number | null;
  goodput_share: number | null;
  preemptions: number;
  recomputed_tokens: number;
  longest_wait_ns: number | null;
  occupancy: { mean_waiting: number | null; mean_running: number | null; share_time_queued: number | null; max_waiting: number; bucket_ns: number; series: OccupancyBucket[] };
  predictor: PredictorQuality | null;
}

export interface CompareResult {
  compare_format: number;
  baseline: string;
  runs: RunSummary[];
  pairing: Pairing[];
  metrics: MetricResult[];
  slowdown_model: SlowdownModel | null;
  /** per metric (jct, ttft, queue_time), per run: the 0th, 1st, …, 100th percentile (plots) */
  quantile_curves: Record<string, (number | null)[][]>;
  settings: { resamples: number; seed: number; confidence: 0.95; block_length: string; min_tail: number; slo: Slo | null };
  notes: string[];
}

interface MetricDef {
  name: string;
  unit: string;
  description: string;
  get: (r: RequestFacts) => number | null;
  /** restrict to these request ids of each run (starvation: the longest outputs) */
  subset?: (run: RunData) => Set<string>;
}

function longestTenth(run: RunData): Set<string> {
  const done = run.requests.filter((r) => r.completed).sort((a, b) => b.output_tokens - a.output_tokens || (a.id < b.id ? -1 : 1));
  return new Set(done.slice(0, Math.max(1, Math.ceil(done.length / 10))).map((r) => r.id));
}

function metricDefs(runs: RunData[], model: SlowdownModel | null): MetricDef[] {
  const defs: MetricDef[] = [
    { name: "jct", unit: "ns", description: "E2E latency / job completion time: completion - arrival", get: (r) => r.e2e_ns },
    { name: "ttft", unit: "ns", description: "time to first token (scheduler side)", get: (r) => r.ttft_ns },
    { name: "tpot", unit: "ns", description: "time per output token after the first = the request's mean inter-token latency", get: (r) => r.tpot_ns },
    { name: "queue_time", unit: "ns", description: "time in the waiting queue (initial wait + waits after preemptions)", get: (r) => r.queue_ns },
    { name: "slowdown", unit: "x", description: "E2E / modelled service time alone (slowdown_model)", get: (r) => slowdownOf(model, r) },
    { name: "preemptions", unit: "count", description: "preemptions per request", get: (r) => r.preemptions },
    { name: "recomputed_tokens", unit: "tokens", description: "tokens recomputed after preemptions, per request", get: (r) => r.recomputed_tokens },
    { name: "queue_time_longest10pct", unit: "ns", description: "queue time of the 10% of requests with the longest outputs (starvation)", get: (r) => r.queue_ns, subset: longestTenth },
  ];
  WAITING_REASONS.forEach((cause, i) => {
    if (runs.some((run) => run.requests.some((r) => r.completed && r.wait_by_cause[i] > 0))) {
      defs.push({ name: `wait_${cause}`, unit: "ns", description: `waiting time attributed to '${cause}' (docs/waiting-reasons.md)`, get: (r) => r.wait_by_cause[i] });
    }
  });
  return defs;
}

function values(run: RunData, def: MetricDef, ids: Set<string> | null): number[] {
  const out: number[] = [];
  for (const r of run.requests) {
    if (!r.completed || (ids && !ids.has(r.id))) continue;
    const v = def.get(r);
    if (v !== null && Number.isFinite(v)) out.push(v);
  }
  return out;
}

const allowed = (s: Statistic, n: number): boolean => s.kind === "mean" ? n >= 1 : n >= minNForQuantile(s.q);

function runStats(v: number[]): MetricStats {
  const out: MetricStats = { n: v.length, mean: null, p50: null, p90: null, p99: null, withheld: [] };
  for (const { name, s } of STATS) {
    if (allowed(s, v.length)) out[name] = statOf(v, s);
    else out.withheld.push(name);
  }
  return out;
}

/** A stable seed per (metric, statistic, run): results do not depend on which metrics ran. */
function seedFor(seed: number, ...parts: string[]): number {
  let h = 0x811c9dc5 ^ seed;
  for (const ch of parts.join("|")) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/**
 * A baseline below this is "near zero" for a percentage: a few microseconds are the
 * scheduler's own bookkeeping (wait_arrived_after_decision is 1-2 us a request), and a
 * percentage of them says nothing. Other units need only a positive baseline.
 */
const NEAR_ZERO: Record<string, number> = { ns: 10_000 };

function differences(base: RunData, run: RunData, def: MetricDef, paired: [RequestFacts, RequestFacts][] | null, opts: CompareOptions): Difference[] {
  let a: number[];
  let b: number[];
  if (paired) {
    const ids = def.subset ? def.subset(base) : null;
    a = [];
    b = [];
    for (const [x, y] of paired) {
      if (ids && !ids.has(x.id)) continue;
      const va = def.get(x);
      const vb = def.get(y);
      if (va === null || vb === null || !Number.isFinite(va) || !Number.isFinite(vb)) continue;
      a.push(va);
      b.push(vb);
    }
  } else {
    a = values(base, def, def.subset ? def.subset(base) : null);
    b = values(run, def, def.subset ? def.subset(run) : null);
  }
  const n = Math.min(a.length, b.length);
  if (n < 2) return [];
  const out: Difference[] = [];
  for (const { name, s } of STATS) {
    if (!allowed(s, n)) continue;
    const sa = statOf(a, s);
    const value = statOf(b, s) - sa;
    const seed = seedFor(opts.seed, def.name, name, run.label);
    const ci = bootstrapCIs(a, b, s, opts.resamples, seed, paired !== null);
    const ratio = sa > 0 && sa >= (NEAR_ZERO[def.unit] ?? 0) ? ci.ratio : null;
    const w = paired && name === "mean" ? wilcoxonSignedRank(b.map((x, i) => x - a[i])) : null;
    out.push({
      run: run.label, stat: name, paired: paired !== null, n, baseline: sa, value,
      relative: ratio ? value / sa : null, ci95_lo: ci.diff.lo, ci95_hi: ci.diff.hi,
      relative_ci95_lo: ratio?.lo ?? null, relative_ci95_hi: ratio?.hi ?? null,
      wilcoxon_p: paired && name === "mean" ? (w ? w.p_value : 1) : null,
    });
  }
  return out;
}

function withheldNote(stats: MetricStats[]): string | null {
  const w = new Set(stats.flatMap((s) => s.withheld));
  if (!w.size) return null;
  const n = Math.min(...stats.map((s) => s.n));
  return `${[...w].join(", ")} not reported: n = ${n} is below ${[...w].map((q) => (q === "mean" ? "1" : `${minNForQuantile(Number(q.slice(1)) / 100)} (for ${q})`)).join(", ")}, the ${10} observations beyond the percentile it needs`;
}

function meets(slo: Slo, r: RequestFacts): boolean {
  if (slo.ttft_ns !== undefined && (r.ttft_ns === null || r.ttft_ns > slo.ttft_ns)) return false;
  if (slo.tpot_ns !== undefined && (r.tpot_ns ?? 0) > slo.tpot_ns) return false;
  if (slo.e2e_ns !== undefined && (r.e2e_ns === null || r.e2e_ns > slo.e2e_ns)) return false;
  return true;
}

async function summarizeRun(run: RunData, slo: Slo | null): Promise<RunSummary> {
  const done = run.requests.filter((r) => r.completed);
  let first = Infinity;
  let last = -Infinity;
  let tokens = 0;
  for (const r of done) {
    first = Math.min(first, r.arrival_ns);
    if (r.completion_ns !== null) last = Math.max(last, r.completion_ns);
    tokens += r.output_tokens;
  }
  const span = done.length && last > first ? last - first : null;
  const per = (x: number) => (span ? x / (span / 1e9) : null);
  const good = slo ? done.filter((r) => meets(slo, r)).length : null;
  return {
    label: run.label,
    policy: run.policy,
    vllm_version: run.vllm_version,
    requests: run.requests.length,
    completed: done.length,
    iterations: run.iterations,
    span_ns: span,
    throughput_tokens_per_s: per(tokens),
    throughput_requests_per_s: per(done.length),
    goodput_requests_per_s: good === null ? null : per(good),
    goodput_share: good === null || !done.length ? null : good / done.length,
    preemptions: run.preempted_total,
    recomputed_tokens: run.requests.reduce((s, r) => s + r.recomputed_tokens, 0),
    longest_wait_ns: run.requests.length ? run.requests.reduce((m, r) => Math.max(m, r.longest_wait_ns), 0) : null,
    occupancy: { ...run.occupancy.summary(), series: run.occupancy.series() },
    predictor: await predictorQuality(run),
  };
}

const CURVES = ["jct", "ttft", "queue_time"];

export async function compareRuns(sources: TableSource[], opts: CompareOptions): Promise<CompareResult> {
  const runs: RunData[] = [];
  for (const s of sources) runs.push(await collectRun(s));
  const [base, ...others] = runs;
  const model = fitSlowdownModel(base.fit, base.max_num_batched_tokens);
  const pairings = others.map((r) => pairRuns(base, r));
  const notes: string[] = [
    "ITL: per-token gaps are not in the tables; tpot is each request's mean inter-token latency",
    "throughput and goodput are run-level figures (one number per run): no interval",
  ];
  if (!model) notes.push("slowdown: the baseline's step durations do not determine the service-time model; slowdown left out");
  const versions = new Set(runs.map((r) => r.source.info.outputSchemaVersion ?? "unknown"));
  if (versions.size > 1) notes.push(`the runs' tables come from output schema versions ${[...versions].join(", ")}: columns added since the oldest are not compared`);
  const metrics: MetricResult[] = metricDefs(runs, model).map((def) => {
    const stats = runs.map((run) => runStats(values(run, def, def.subset ? def.subset(run) : null)));
    const diffs = others.flatMap((run, i) => differences(base, run, def, pairings[i].pairing.paired ? pairings[i].pairs : null, opts));
    return { name: def.name, unit: def.unit, description: def.description, runs: stats, differences: diffs, note: withheldNote(stats) };
  });
  const defs = metricDefs(runs, model);
  const quantile_curves: Record<string, (number | null)[][]> = {};
  for (const def of defs.filter((d) => CURVES.includes(d.name))) {
    quantile_curves[def.name] = runs.map((run) => {
      const v = Float64Array.from(values(run, def, null)).sort();
      return Array.from({ length: 101 }, (_, q) => (v.length ? statOf(v, { kind: "quantile", q: q / 100 }) : null));
    });
  }
  const summaries: RunSummary[] = [];
  for (const run of runs) summaries.push(await summarizeRun(run, opts.slo ?? null));
  return {
    compare_format: COMPARE_FORMAT_VERSION,
    baseline: base.label,
    runs: summaries,
    pairing: pairings.map((p) => p.pairing),
    metrics,
    quantile_curves,
    slowdown_model: model,
    settings: { resamples: opts.resamples, seed: opts.seed, confidence: 0.95, block_length: "round(n^(1/3)), circular", min_tail: 10, slo: opts.slo ?? null },
    notes,
  };
}

export { blockLength };
