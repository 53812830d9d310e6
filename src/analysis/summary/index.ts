import type { TableName } from "../../schema/tables.js";
import type { TableRow, TableSource } from "../../tables/types.js";
import { mean, quantileSorted, Values } from "../math/stats.js";
import { IterationAccumulator } from "./iterations.js";
import { ProgressAccumulator } from "./progress.js";
import { RequestAccumulator } from "./requests.js";
import { SUMMARY_FORMAT_VERSION, type LatencyStats, type Slo, type Summary } from "./types.js";
import { machineOf } from "../machine.js";

export type { Summary, Slo, LatencyStats } from "./types.js";
export { meetsSlo, cmpStr, isCompleted } from "./requests.js";

export interface SummaryOptions {
  slo?: Slo;
  /** how many requests to list by waiting time */
  topWaiting?: number;
}

/** The columns each table must have for the summary; a missing one is an input error. */
export const SUMMARY_COLUMNS = {
  per_request: ["request_id", "arrival_time", "completion_time", "waiting_time", "e2e_latency", "input_tokens", "output_tokens", "ttft", "tpot", "finish_reason", "preemption_count"],
  per_iteration: ["iteration_id", "batch_size", "scheduling_overhead", "kv_cache_used", "kv_cache_total"],
} as const satisfies Partial<Record<TableName, readonly string[]>>;

export class MissingTableError extends Error {
  constructor(
    readonly table: TableName,
    readonly column: string | null,
  ) {
    super(column ? `${table}.csv has no column ${column}` : `${table}.csv is missing`);
  }
}

const NS_PER_S = 1e9;

export function latencyStats(values: Values): LatencyStats {
  const s = values.sortedView();
  return {
    count: s.length,
    mean_ns: mean(s),
    p50_ns: quantileSorted(s, 0.5),
    p90_ns: quantileSorted(s, 0.9),
    p95_ns: quantileSorted(s, 0.95),
    p99_ns: quantileSorted(s, 0.99),
    p999_ns: quantileSorted(s, 0.999),
    max_ns: s.length ? s[s.length - 1] : null,
  };
}

const ratio = (a: number, b: number | null): number | null => (b === null || b <= 0 ? null : a / b);

/**
 * Every figure of the summary in one pass over per_request, per_iteration and
 * per_iteration_requests (a trace is replayed once); inter-token latency, which needs the
 * completed requests and the step times, is derived when the pass is over.
 */
export async function computeSummary(source: TableSource, opts: SummaryOptions = {}): Promise<Summary> {
  requireColumns(source);
  const slo = opts.slo && Object.keys(opts.slo).length ? opts.slo : null;
  const reqs = new RequestAccumulator(slo, opts.topWaiting ?? 5);
  const iters = new IterationAccumulator();
  const progress = source.columns("per_iteration_requests") ? new ProgressAccumulator(iters, reqs.completedIds) : null;
  await source.scan({
    per_request: (r) => reqs.add(r),
    per_iteration: (r) => iters.add(r),
    ...(progress ? { per_iteration_requests: (r: TableRow<"per_iteration_requests">) => progress.add(r) } : {}),
  });
  return assemble(source, reqs, iters, progress, slo);
}

function assemble(source: TableSource, reqs: RequestAccumulator, iters: IterationAccumulator, progress: ProgressAccumulator | null, slo: Slo | null): Summary {
  const notes: string[] = [];
  const itl = progress ? progress.itl() : null;
  if (!progress) notes.push("no_iteration_requests");
  else if (itl === null) notes.push("itl_needs_complete_iteration_requests");
  const queueProgress = progress ? progress.queueProgress() : null;
  if (progress && queueProgress === null) notes.push("queue_progress_needs_waiting_rows");
  const duration = reqs.duration();
  if (duration === null) notes.push("no_completed_span");
  const perSecond = (n: number): number | null => (duration === null ? null : n / (duration / NS_PER_S));
  return {
    summary_format: SUMMARY_FORMAT_VERSION,
    schema_version: source.info.outputSchemaVersion,
    requests: reqs.req,
    span: { start_ns: reqs.start, end_ns: reqs.end, duration_ns: duration },
    latency: {
      ttft: latencyStats(reqs.ttft),
      tpot: latencyStats(reqs.tpot),
      itl: itl ? latencyStats(itl) : null,
      queue_time: latencyStats(reqs.queue),
      e2e: latencyStats(reqs.e2e),
    },
    throughput: {
      requests_per_s: perSecond(reqs.req.completed),
      output_tokens_per_s: perSecond(reqs.completedOut),
      total_tokens_per_s: perSecond(reqs.completedIn + reqs.completedOut),
    },
    goodput: slo ? { slo, requests: reqs.good, share: ratio(reqs.good, reqs.req.completed), requests_per_s: perSecond(reqs.good) } : null,
    scheduler: iters.schedulerStats(),
    resources: {
      ...iters.kvStats(),
      preempted_requests: reqs.preempted,
      preemption_rate: ratio(reqs.preempted, reqs.req.total),
      preemptions: reqs.preemptions,
      evictions: reqs.evictions,
      recomputed_tokens: reqs.recomputed,
      engine_cpu: iters.engineCpu.stats(),
      gpu_time: iters.gpuTime.stats(),
    },
    waiting: reqs.waiting(),
    fairness: reqs.fairness(queueProgress),
    policy: reqs.policy(),
    notes,
    machine: machineOf(source),
  };
}

function requireColumns(source: TableSource): void {
  for (const table of Object.keys(SUMMARY_COLUMNS) as (keyof typeof SUMMARY_COLUMNS)[]) {
    const have = source.columns(table);
    if (!have) throw new MissingTableError(table, null);
    for (const c of SUMMARY_COLUMNS[table]) if (!have.includes(c)) throw new MissingTableError(table, c);
  }
}
