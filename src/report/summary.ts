import type { CsvRecord } from "../parse/csv-read.js";
import { WAITING_REASONS } from "../schema/waiting.js";
import type { TableName } from "../schema/tables.js";
import { jainIndex, kendallTauB, mean, quantileSorted, TopK, Values } from "./stats.js";
import { IterationAccumulator } from "./summary-iterations.js";
import { ProgressAccumulator } from "./summary-progress.js";
import type { TableSource } from "./summary-source.js";
import { SUMMARY_FORMAT_VERSION, type LatencyStats, type Slo, type Summary } from "./summary-types.js";

export type { Summary, Slo, LatencyStats } from "./summary-types.js";

export interface SummaryOptions {
  slo?: Slo;
  /** how many requests to list by waiting time */
  topWaiting?: number;
}

/** The columns the summary reads; only these are parsed into values. */
const READ_COLUMNS = {
  per_request: [
    "request_id", "finish_reason", "arrival_time", "completion_time", "waiting_time", "e2e_latency", "input_tokens", "output_tokens",
    "ttft", "tpot", "preemption_count", "eviction_count", "recomputed_tokens", "longest_wait", "predicted_remaining_tokens", "priority_score",
    ...WAITING_REASONS.map((r) => `wait_${r}_ns`),
  ],
  per_iteration: [
    "iteration_id", "dp_rank", "start_time", "end_time", "duration", "scheduling_overhead", "forward_duration", "batch_size", "waiting_count",
    "prefill_tokens", "decode_tokens", "recompute_tokens", "num_prefill_reqs", "num_decode_reqs", "prefill_chunk_min", "prefill_chunk_max",
    "kv_cache_used", "kv_cache_total",
  ],
  per_iteration_requests: ["iteration_id", "dp_rank", "request_id", "state", "queue_position", "tokens_generated", "scheduled_tokens"],
} as const satisfies Partial<Record<TableName, readonly string[]>>;

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

export const num = (row: CsvRecord, col: string): number | null => {
  const v = row[col];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
};

const WAIT_COLS = WAITING_REASONS.map((r) => [r, `wait_${r}_ns`] as const);
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

/** Stream the tables once each and compute every figure of the summary. */
export async function computeSummary(source: TableSource, opts: SummaryOptions = {}): Promise<Summary> {
  const notes: string[] = [];
  const slo = opts.slo && Object.keys(opts.slo).length ? opts.slo : null;

  // ---- per_request ----------------------------------------------------------
  const req = { total: 0, completed: 0, aborted: 0, failed: 0, unfinished: 0 };
  const ttft = new Values();
  const tpot = new Values();
  const queue = new Values();
  const e2e = new Values();
  const longestWaits = new Values();
  const serviceRates = new Values();
  const predicted: number[] = [];
  const predictedTrue: number[] = [];
  const scores: number[] = [];
  const scoresTrue: number[] = [];
  const completedIds = new Set<string>();
  let start: number | null = null;
  let end: number | null = null;
  let completedOut = 0;
  let completedIn = 0;
  let good = 0;
  let preempted = 0;
  let preemptions = 0;
  let evictions = 0;
  let recomputed = 0;
  let totalWaiting = 0;
  const causeTotals = new Float64Array(WAIT_COLS.length);
  let longest: { request_id: string; wait_ns: number } | null = null;
  const top = new TopK<Summary["waiting"]["top_requests"][number]>(opts.topWaiting ?? 5, (a, b) => b.waiting_ns - a.waiting_ns || cmpStr(a.request_id, b.request_id));

  const pr = await source.read("per_request", (row) => {
    req.total++;
    const id = String(row.request_id ?? "");
    const reason = row.finish_reason;
    const arrival = num(row, "arrival_time");
    const completion = num(row, "completion_time");
    if (arrival !== null && (start === null || arrival < start)) start = arrival;
    if (completion !== null && (end === null || completion > end)) end = completion;

    const pc = num(row, "preemption_count") ?? 0;
    if (pc > 0) preempted++;
    preemptions += pc;
    evictions += num(row, "eviction_count") ?? 0;
    recomputed += num(row, "recomputed_tokens") ?? 0;

    const waiting = num(row, "waiting_time") ?? 0;
    totalWaiting += waiting;
    let dominant: string | null = null;
    let dominantNs = 0;
    for (let i = 0; i < WAIT_COLS.length; i++) {
      const v = num(row, WAIT_COLS[i][1]) ?? 0;
      causeTotals[i] += v;
      if (v > dominantNs) {
        dominantNs = v;
        dominant = WAIT_COLS[i][0];
      }
    }
    top.offer({ request_id: id, waiting_ns: waiting, dominant_cause: dominant, dominant_cause_ns: dominantNs });
    const lw = num(row, "longest_wait");
    if (lw !== null) {
      longestWaits.push(lw);
      if (!longest || lw > longest.wait_ns || (lw === longest.wait_ns && cmpStr(id, longest.request_id) < 0)) longest = { request_id: id, wait_ns: lw };
    }

    if (reason === "abort") req.aborted++;
    else if (reason === "error" || reason === "ignored") req.failed++;
    else if (reason === "unfinished") req.unfinished++;
    // repetition: vLLM's repetition detector stopped it, a natural end like stop
    if (reason !== "stop" && reason !== "length" && reason !== "repetition") return;

    // completed requests: every latency figure
    req.completed++;
    completedIds.add(id);
    const out = num(row, "output_tokens") ?? 0;
    completedOut += out;
    completedIn += num(row, "input_tokens") ?? 0;
    const t = num(row, "ttft");
    const p = num(row, "tpot");
    const q = num(row, "waiting_time");
    const e = num(row, "e2e_latency");
    if (t !== null) ttft.push(t);
    if (p !== null) tpot.push(p);
    if (q !== null) queue.push(q);
    if (e !== null) e2e.push(e);
    if (e !== null && e > 0) serviceRates.push(out / (e / NS_PER_S));
    if (slo && meetsSlo(slo, t, p, e)) good++;
    const pred = num(row, "predicted_remaining_tokens");
    if (pred !== null) {
      predicted.push(pred);
      predictedTrue.push(out);
    }
    const score = num(row, "priority_score");
    if (score !== null) {
      scores.push(score);
      scoresTrue.push(out);
    }
  }, READ_COLUMNS.per_request);
  if (!pr.present) throw new MissingTableError("per_request", null);
  requireColumns("per_request", pr.columns);

  const duration = start !== null && end !== null && end > start ? end - start : null;
  const perSecond = (n: number): number | null => (duration === null ? null : n / (duration / NS_PER_S));

  // ---- per_iteration ----------------------------------------------------------
  const iters = new IterationAccumulator();
  const pi = await source.read("per_iteration", (row) => iters.add(row), READ_COLUMNS.per_iteration);
  if (!pi.present) throw new MissingTableError("per_iteration", null);
  requireColumns("per_iteration", pi.columns);

  // ---- per_iteration_requests (inter-token latency, queue progress) --------------
  const progress = new ProgressAccumulator(iters, completedIds);
  const pir = await source.read("per_iteration_requests", (row) => progress.add(row), READ_COLUMNS.per_iteration_requests);
  const itl = pir.present ? progress.itl() : null;
  if (!pir.present) notes.push("no_iteration_requests");
  else if (itl === null) notes.push("itl_needs_complete_iteration_requests");
  const queueProgress = pir.present ? progress.queueProgress() : null;
  if (pir.present && queueProgress === null) notes.push("queue_progress_needs_waiting_rows");
  if (duration === null) notes.push("no_completed_span");

  const sortedLongest = longestWaits.sortedView();
  const sr = serviceRates.view();
  let srMin: number | null = null;
  for (const v of sr) if (srMin === null || v < srMin) srMin = v;

  const policy: Summary["policy"] =
    predicted.length || scores.length
      ? {
          predicted_remaining_tokens: predicted.length ? predictionStats(predicted, predictedTrue) : null,
          priority_score: scores.length ? { count: scores.length, kendall_tau: kendallTauB(scores, scoresTrue) } : null,
        }
      : null;

  return {
    summary_format: SUMMARY_FORMAT_VERSION,
    schema_version: source.schemaVersion(),
    requests: req,
    span: { start_ns: start, end_ns: end, duration_ns: duration },
    latency: {
      ttft: latencyStats(ttft),
      tpot: latencyStats(tpot),
      itl: itl ? latencyStats(itl) : null,
      queue_time: latencyStats(queue),
      e2e: latencyStats(e2e),
    },
    throughput: {
      requests_per_s: perSecond(req.completed),
      output_tokens_per_s: perSecond(completedOut),
      total_tokens_per_s: perSecond(completedIn + completedOut),
    },
    goodput: slo ? { slo, requests: good, share: ratio(good, req.completed), requests_per_s: perSecond(good) } : null,
    scheduler: iters.schedulerStats(),
    resources: {
      ...iters.kvStats(),
      preempted_requests: preempted,
      preemption_rate: ratio(preempted, req.total),
      preemptions,
      evictions,
      recomputed_tokens: recomputed,
    },
    waiting: {
      total_waiting_ns: totalWaiting,
      by_cause: WAIT_COLS.map(([cause], i) => ({ cause, waiting_ns: causeTotals[i], share: ratio(causeTotals[i], totalWaiting) }))
        .filter((c) => c.waiting_ns > 0)
        .sort((a, b) => b.waiting_ns - a.waiting_ns || cmpStr(a.cause, b.cause)),
      top_requests: top.result().filter((t) => t.waiting_ns > 0),
    },
    fairness: {
      longest_wait: longest,
      longest_wait_p99_ns: quantileSorted(sortedLongest, 0.99),
      service_rate_jain_index: jainIndex(sr),
      service_rate_mean_tokens_per_s: mean(sr),
      service_rate_min_tokens_per_s: srMin,
      queue_progress: queueProgress,
    },
    policy,
    notes,
  };
}

/** A completed request meets the SLO when every given bound holds; below 2 tokens TPOT counts as 0, as in vLLM's benchmark. */
export function meetsSlo(slo: Slo, ttft: number | null, tpot: number | null, e2e: number | null): boolean {
  if (slo.ttft_ns !== undefined && (ttft === null || ttft > slo.ttft_ns)) return false;
  if (slo.tpot_ns !== undefined && (tpot ?? 0) > slo.tpot_ns) return false;
  if (slo.e2e_ns !== undefined && (e2e === null || e2e > slo.e2e_ns)) return false;
  return true;
}

function predictionStats(pred: number[], actual: number[]): NonNullable<NonNullable<Summary["policy"]>["predicted_remaining_tokens"]> {
  let err = 0;
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - actual[i];
    err += d;
    abs += Math.abs(d);
    sq += d * d;
  }
  const n = pred.length;
  return { count: n, mean_error_tokens: err / n, mean_abs_error_tokens: abs / n, rmse_tokens: Math.sqrt(sq / n), kendall_tau: kendallTauB(pred, actual) };
}

function requireColumns(table: keyof typeof SUMMARY_COLUMNS, columns: string[]): void {
  for (const c of SUMMARY_COLUMNS[table]) if (!columns.includes(c)) throw new MissingTableError(table, c);
}

export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
