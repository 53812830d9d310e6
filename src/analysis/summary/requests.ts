import { WAITING_REASONS } from "../../schema/waiting.js";
import type { TableRow } from "../../tables/types.js";
import { jainIndex, kendallTauB, mean, quantileSorted, TopK, Values } from "../math/stats.js";
import type { Slo, Summary } from "./types.js";

const NS_PER_S = 1e9;
const WAIT_KEYS = WAITING_REASONS.map((r) => `wait_${r}_ns` as const);

/**
 * One request lifetime: vLLM lets a client reuse an id once its request finished, and
 * data-parallel ranks number requests independently.
 */
export const lifetimeKey = (row: { request_id: string; request_instance: number | null; dp_rank: number }): string =>
  `${row.dp_rank}\u0000${row.request_instance ?? 0}\u0000${row.request_id}`;

export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A completed request meets the SLO when every given bound holds; below 2 tokens TPOT counts as 0, as in vLLM's benchmark. */
export function meetsSlo(slo: Slo, ttft: number | null, tpot: number | null, e2e: number | null): boolean {
  if (slo.ttft_ns !== undefined && (ttft === null || ttft > slo.ttft_ns)) return false;
  if (slo.tpot_ns !== undefined && (tpot ?? 0) > slo.tpot_ns) return false;
  if (slo.e2e_ns !== undefined && (e2e === null || e2e > slo.e2e_ns)) return false;
  return true;
}

/** stop, length, repetition: the natural ends, the population of every latency figure */
export const isCompleted = (reason: TableRow<"per_request">["finish_reason"]): boolean => reason === "stop" || reason === "length" || reason === "repetition";

/** Accumulates per_request: request counts, latencies, waiting by cause, fairness, policy scores. */
export class RequestAccumulator {
  readonly req = { total: 0, completed: 0, aborted: 0, failed: 0, unfinished: 0 };
  readonly ttft = new Values();
  readonly tpot = new Values();
  readonly queue = new Values();
  readonly e2e = new Values();
  readonly completedIds = new Set<string>();
  start: number | null = null;
  end: number | null = null;
  completedOut = 0;
  completedIn = 0;
  good = 0;
  preempted = 0;
  preemptions = 0;
  evictions = 0;
  recomputed = 0;
  totalWaiting = 0;
  private readonly longestWaits = new Values();
  private readonly serviceRates = new Values();
  private readonly predicted: number[] = [];
  private readonly predictedTrue: number[] = [];
  private readonly scores: number[] = [];
  private readonly scoresTrue: number[] = [];
  private readonly causeTotals = new Float64Array(WAIT_KEYS.length);
  private longest: { request_id: string; wait_ns: number } | null = null;
  private readonly top: TopK<Summary["waiting"]["top_requests"][number]>;

  constructor(
    private readonly slo: Slo | null,
    topWaiting: number,
  ) {
    this.top = new TopK(topWaiting, (a, b) => b.waiting_ns - a.waiting_ns || cmpStr(a.request_id, b.request_id));
  }

  add(row: TableRow<"per_request">): void {
    this.req.total++;
    if (row.arrival_time !== null && (this.start === null || row.arrival_time < this.start)) this.start = row.arrival_time;
    if (row.completion_time !== null && (this.end === null || row.completion_time > this.end)) this.end = row.completion_time;
    if (row.preemption_count > 0) this.preempted++;
    this.preemptions += row.preemption_count;
    this.evictions += row.eviction_count ?? 0;
    this.recomputed += row.recomputed_tokens ?? 0;
    this.addWaiting(row);
    const reason = row.finish_reason;
    if (reason === "abort") this.req.aborted++;
    else if (reason === "error" || reason === "ignored") this.req.failed++;
    else if (reason === "unfinished") this.req.unfinished++;
    if (isCompleted(reason)) this.addCompleted(row);
  }

  private addWaiting(row: TableRow<"per_request">): void {
    const waiting = row.waiting_time ?? 0;
    this.totalWaiting += waiting;
    let dominant: string | null = null;
    let dominantNs = 0;
    for (let i = 0; i < WAIT_KEYS.length; i++) {
      const v = row[WAIT_KEYS[i]] ?? 0;
      this.causeTotals[i] += v;
      if (v > dominantNs) {
        dominantNs = v;
        dominant = WAITING_REASONS[i];
      }
    }
    this.top.offer({ request_id: row.request_id, waiting_ns: waiting, dominant_cause: dominant, dominant_cause_ns: dominantNs });
    const lw = row.longest_wait;
    if (lw !== null) {
      this.longestWaits.push(lw);
      const l = this.longest;
      if (!l || lw > l.wait_ns || (lw === l.wait_ns && cmpStr(row.request_id, l.request_id) < 0)) this.longest = { request_id: row.request_id, wait_ns: lw };
    }
  }

  private addCompleted(row: TableRow<"per_request">): void {
    this.req.completed++;
    this.completedIds.add(lifetimeKey(row));
    const out = row.output_tokens ?? 0;
    this.completedOut += out;
    this.completedIn += row.input_tokens ?? 0;
    const { ttft: t, tpot: p, waiting_time: q, e2e_latency: e } = row;
    if (t !== null) this.ttft.push(t);
    if (p !== null) this.tpot.push(p);
    if (q !== null) this.queue.push(q);
    if (e !== null) this.e2e.push(e);
    if (e !== null && e > 0) this.serviceRates.push(out / (e / NS_PER_S));
    if (this.slo && meetsSlo(this.slo, t, p, e)) this.good++;
    if (row.predicted_remaining_tokens !== null) {
      this.predicted.push(row.predicted_remaining_tokens);
      this.predictedTrue.push(out);
    }
    if (row.priority_score !== null) {
      this.scores.push(row.priority_score);
      this.scoresTrue.push(out);
    }
  }

  /** the span from the first arrival to the last completion, when there is one */
  duration(): number | null {
    return this.start !== null && this.end !== null && this.end > this.start ? this.end - this.start : null;
  }

  waiting(): Summary["waiting"] {
    const total = this.totalWaiting;
    return {
      total_waiting_ns: total,
      by_cause: WAITING_REASONS.map((cause, i) => ({ cause, waiting_ns: this.causeTotals[i], share: total > 0 ? this.causeTotals[i] / total : null }))
        .filter((c) => c.waiting_ns > 0)
        .sort((a, b) => b.waiting_ns - a.waiting_ns || cmpStr(a.cause, b.cause)),
      top_requests: this.top.result().filter((t) => t.waiting_ns > 0),
    };
  }

  fairness(queueProgress: Summary["fairness"]["queue_progress"]): Summary["fairness"] {
    const sr = this.serviceRates.view();
    let srMin: number | null = null;
    for (const v of sr) if (srMin === null || v < srMin) srMin = v;
    return {
      longest_wait: this.longest,
      longest_wait_p99_ns: quantileSorted(this.longestWaits.sortedView(), 0.99),
      service_rate_jain_index: jainIndex(sr),
      service_rate_mean_tokens_per_s: mean(sr),
      service_rate_min_tokens_per_s: srMin,
      queue_progress: queueProgress,
    };
  }

  policy(): Summary["policy"] {
    if (!this.predicted.length && !this.scores.length) return null;
    return {
      predicted_remaining_tokens: this.predicted.length ? predictionStats(this.predicted, this.predictedTrue) : null,
      priority_score: this.scores.length ? { count: this.scores.length, kendall_tau: kendallTauB(this.scores, this.scoresTrue) } : null,
    };
  }
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
