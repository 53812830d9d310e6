import type { EventRow, PerIterationRequestRow, PerIterationRow, PerRequestRow } from "../../schema/tables.js";
import type { WaitingReason } from "../../schema/waiting.js";

/**
 * Rolling figures of a run while it is being recorded (vsched watch): the engine's rows go
 * in as they are produced, a snapshot comes out whenever the view refreshes. Memory is
 * bounded by the window (its step rows), the sparkline length and the number of ranks,
 * never by the run: totals are counters, the waiting picture is the latest step's.
 */
export interface LiveWaiter {
  requestId: string;
  dpRank: number;
  /** time in its current wait at its rank's latest step (arrival or preemption) */
  waitedNs: number;
  cause: WaitingReason | null;
}

export interface LiveSnapshot {
  /** latest step start seen (ns on the watch's t=0) */
  nowNs: number;
  ranks: number;
  totals: { steps: number; arrived: number; finished: number; preemptions: number; tokens: number };
  window: {
    seconds: number;
    steps: number;
    meanPrefillReqs: number;
    meanDecodeReqs: number;
    tokensPerS: number;
    scheduleMs: { mean: number; p95: number };
    modelMs: { mean: number; p95: number };
    preemptions: number;
  };
  /** at each rank's latest step, summed over ranks */
  running: number;
  waiting: number;
  /** used / usable KV blocks over all ranks at their latest step, percent; null before a step */
  kvPercent: number | null;
  waitingByCause: { cause: string; requests: number }[];
  longestWaiters: LiveWaiter[];
  /** one value per second, oldest first: tokens scheduled, KV % (max), waiting (last) */
  spark: { tokensPerS: number[]; kvPercent: number[]; waiting: number[] };
}

interface StepSample {
  t: number;
  prefill: number;
  decode: number;
  tokens: number;
  scheduleNs: number;
  modelNs: number | null;
  preempted: number;
}

interface RankState {
  running: number;
  waiting: number;
  kvUsed: number;
  kvTotal: number;
  /** the step whose per_iteration_requests rows are being gathered */
  iteration: number;
  causes: Map<string, number>;
  waiters: LiveWaiter[];
}

const TOP_WAITERS = 5;
const SPARK_SECONDS = 60;
const NS = 1e9;

export function p95(values: number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)];
}

const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

export class LiveStats {
  private readonly samples: StepSample[] = [];
  private readonly ranks = new Map<number, RankState>();
  private readonly buckets = new Map<number, { tokens: number; kv: number; waiting: number }>();
  private nowNs = 0;
  private firstNs: number | null = null;
  private readonly totals = { steps: 0, arrived: 0, finished: 0, preemptions: 0, tokens: 0 };

  constructor(private readonly windowSeconds = 10) {}

  private rank(r: number): RankState {
    let s = this.ranks.get(r);
    if (!s) {
      s = { running: 0, waiting: 0, kvUsed: 0, kvTotal: 0, iteration: -1, causes: new Map(), waiters: [] };
      this.ranks.set(r, s);
    }
    return s;
  }

  perIteration(row: PerIterationRow): void {
    this.totals.steps++;
    this.totals.tokens += row.total_tokens;
    this.totals.preemptions += row.preempted_count;
    this.nowNs = Math.max(this.nowNs, row.start_time);
    this.firstNs = Math.min(this.firstNs ?? row.start_time, row.start_time);
    this.samples.push({
      t: row.start_time,
      prefill: row.num_prefill_reqs,
      decode: row.num_decode_reqs,
      tokens: row.total_tokens,
      scheduleNs: row.scheduling_overhead,
      // a step that scheduled nothing runs no model
      modelNs: row.total_tokens > 0 ? row.forward_duration : null,
      preempted: row.preempted_count,
    });
    const r = this.rank(row.dp_rank);
    r.running = row.running_count_after_update ?? row.running_count;
    r.waiting = row.waiting_count_after_update ?? row.waiting_count;
    r.kvUsed = row.kv_cache_used;
    r.kvTotal = row.kv_cache_total;
    const second = Math.floor(row.start_time / NS);
    const b = this.buckets.get(second) ?? { tokens: 0, kv: 0, waiting: 0 };
    b.tokens += row.total_tokens;
    b.kv = Math.max(b.kv, row.kv_cache_total > 0 ? (100 * row.kv_cache_used) / row.kv_cache_total : 0);
    b.waiting = r.waiting;
    this.buckets.set(second, b);
    this.trim();
  }

  perIterationRequest(row: PerIterationRequestRow): void {
    const r = this.rank(row.dp_rank);
    if (row.iteration_id !== r.iteration) {
      r.iteration = row.iteration_id;
      r.causes = new Map();
      r.waiters = [];
    }
    if (row.state !== "waiting" && row.state !== "preempted") return;
    const cause = row.waiting_reason ?? "unknown";
    r.causes.set(cause, (r.causes.get(cause) ?? 0) + 1);
    const w: LiveWaiter = { requestId: row.request_id, dpRank: row.dp_rank, waitedNs: row.time_in_state, cause: row.waiting_reason };
    if (r.waiters.length < TOP_WAITERS || w.waitedNs > r.waiters[r.waiters.length - 1].waitedNs) {
      r.waiters.push(w);
      r.waiters.sort((a, b) => b.waitedNs - a.waitedNs);
      if (r.waiters.length > TOP_WAITERS) r.waiters.pop();
    }
  }

  event(row: EventRow): void {
    if (row.event_type === "request_arrived") this.totals.arrived++;
  }

  perRequest(row: PerRequestRow): void {
    if (row.finish_reason !== "unfinished") this.totals.finished++;
  }

  /** drop samples older than the window and buckets older than the sparkline */
  private trim(): void {
    const from = this.nowNs - this.windowSeconds * NS;
    let k = 0;
    while (k < this.samples.length && this.samples[k].t < from) k++;
    if (k) this.samples.splice(0, k);
    const oldest = Math.floor(this.nowNs / NS) - SPARK_SECONDS;
    for (const s of this.buckets.keys()) if (s <= oldest) this.buckets.delete(s);
  }

  snapshot(): LiveSnapshot {
    const s = this.samples;
    // a run younger than the window: its rate over its own age (at least one second)
    const spanS = s.length ? Math.min(this.windowSeconds, Math.max(1, (this.nowNs - (this.firstNs ?? this.nowNs)) / NS)) : 0;
    const causes = new Map<string, number>();
    const waiters: LiveWaiter[] = [];
    let running = 0;
    let waiting = 0;
    let used = 0;
    let total = 0;
    for (const r of this.ranks.values()) {
      running += r.running;
      waiting += r.waiting;
      used += r.kvUsed;
      total += r.kvTotal;
      for (const [c, n] of r.causes) causes.set(c, (causes.get(c) ?? 0) + n);
      waiters.push(...r.waiters);
    }
    const models = s.map((x) => x.modelNs).filter((x): x is number => x !== null);
    const last = Math.floor(this.nowNs / NS);
    const seconds = Array.from({ length: Math.min(SPARK_SECONDS, this.buckets.size ? last - Math.min(...this.buckets.keys()) + 1 : 0) }, (_, i) => last - i).reverse();
    let lastWaiting = 0;
    const spark = { tokensPerS: [] as number[], kvPercent: [] as number[], waiting: [] as number[] };
    for (const sec of seconds) {
      const b = this.buckets.get(sec);
      if (b) lastWaiting = b.waiting;
      spark.tokensPerS.push(b?.tokens ?? 0);
      spark.kvPercent.push(b?.kv ?? 0);
      spark.waiting.push(lastWaiting);
    }
    return {
      nowNs: this.nowNs,
      ranks: this.ranks.size,
      totals: { ...this.totals },
      window: {
        seconds: this.windowSeconds,
        steps: s.length,
        meanPrefillReqs: mean(s.map((x) => x.prefill)),
        meanDecodeReqs: mean(s.map((x) => x.decode)),
        tokensPerS: spanS ? s.reduce((a, x) => a + x.tokens, 0) / spanS : 0,
        scheduleMs: { mean: mean(s.map((x) => x.scheduleNs)) / 1e6, p95: p95(s.map((x) => x.scheduleNs)) / 1e6 },
        modelMs: { mean: mean(models) / 1e6, p95: p95(models) / 1e6 },
        preemptions: s.reduce((a, x) => a + x.preempted, 0),
      },
      running,
      waiting,
      kvPercent: total > 0 ? (100 * used) / total : null,
      waitingByCause: [...causes].map(([cause, requests]) => ({ cause, requests })).sort((a, b) => b.requests - a.requests || a.cause.localeCompare(b.cause)),
      longestWaiters: waiters.sort((a, b) => b.waitedNs - a.waitedNs).slice(0, TOP_WAITERS),
      spark,
    };
  }
}
