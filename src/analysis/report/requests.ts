import { WAITING_REASONS } from "../../schema/waiting.js";
import type { TableRow } from "../../tables/types.js";
import { Appender, Indexed } from "./arrays.js";
import type { StepCollector } from "./steps.js";
import type { Lanes, RequestTable } from "./types.js";

/** lane codes: the running states first, then one per waiting cause (palette.ts colours both) */
export const LANE_STATES = ["prefill", "decode", "running_unscheduled"] as const;
export const LANE_CODES: string[] = [...LANE_STATES, ...WAITING_REASONS];
const CODE = new Map(LANE_CODES.map((c, i) => [c, i]));
const FINISH_REASONS = ["stop", "length", "abort", "error", "ignored", "repetition", "unfinished"];
const COMPLETED = new Set(["stop", "length", "repetition"]);
/** a queue position is kept when it moved by at least this share of the last kept one (or by 1 below 4) */
export const QUEUE_CHANGE_KEPT = 1 / 3;
/** a lane longer than this many segments is redrawn at this resolution (see compactLane) */
export const MAX_LANE_SEGMENTS = 32;

interface Live {
  idx: number;
  rank: number;
  code: number;
  segStart: number;
  lastIter: number;
  keptPos: number;
  lastPos: number;
  lastPosIter: number;
  /** closed segments: start iteration, end iteration, code, … */
  segs: number[];
}

/** Per-request rows, lanes and queue positions, from per_request and per_iteration_requests in any order. */
export class RequestCollector {
  private readonly index = new Map<number | string, Map<string, number>>();
  readonly ids: string[] = [];
  readonly rank = new Indexed<Float32Array>(Float32Array);
  readonly arrival = new Indexed<Float64Array>(Float64Array, NaN);
  readonly ttft = new Indexed<Float64Array>(Float64Array, NaN);
  readonly tpot = new Indexed<Float64Array>(Float64Array, NaN);
  readonly e2e = new Indexed<Float64Array>(Float64Array, NaN);
  readonly waitingNs = new Indexed<Float64Array>(Float64Array, NaN);
  readonly queueNs = new Indexed<Float64Array>(Float64Array, NaN);
  readonly longestWait = new Indexed<Float64Array>(Float64Array, NaN);
  readonly preemptions = new Indexed<Float32Array>(Float32Array);
  readonly output = new Indexed<Float32Array>(Float32Array);
  readonly predicted = new Indexed<Float32Array>(Float32Array, NaN);
  readonly dominant = new Indexed<Int32Array>(Int32Array, -1);
  readonly finish = new Indexed<Uint8Array>(Uint8Array, FINISH_REASONS.indexOf("unfinished") + 1);
  private readonly live = new Map<number, Live>();
  /** requests whose lanes compactLane redrew */
  private readonly compactedSet = new Set<number>();
  private readonly seg = { req: new Appender<Uint32Array>(Uint32Array), rank: new Appender<Uint32Array>(Uint32Array), a: new Appender<Uint32Array>(Uint32Array), b: new Appender<Uint32Array>(Uint32Array), code: new Appender<Uint8Array>(Uint8Array) };
  private readonly q = { req: new Appender<Uint32Array>(Uint32Array), it: new Appender<Uint32Array>(Uint32Array), pos: new Appender<Float32Array>(Float32Array) };

  /** a request is (rank, id, lifetime): ids repeat across ranks, and vLLM lets a finished id be used again */
  private idx(rank: number, id: string, instance: number): number {
    // one map per rank and lifetime, so no key string is built per row
    const slot = instance === 0 ? rank : `${rank}:${instance}`;
    let m = this.index.get(slot);
    if (!m) this.index.set(slot, (m = new Map()));
    let i = m.get(id);
    if (i === undefined) {
      i = this.ids.length;
      m.set(id, i);
      this.ids.push(id);
      this.rank.set(i, rank);
    }
    return i;
  }

  request(row: TableRow<"per_request">): void {
    const i = this.idx(row.dp_rank, row.request_id, row.request_instance);
    this.arrival.set(i, row.arrival_time);
    this.waitingNs.set(i, row.waiting_time);
    this.longestWait.set(i, row.longest_wait);
    this.preemptions.set(i, row.preemption_count);
    this.output.set(i, row.output_tokens);
    this.finish.set(i, FINISH_REASONS.indexOf(row.finish_reason) + 1);
    let best = -1;
    let bestNs = 0;
    for (let c = 0; c < WAITING_REASONS.length; c++) {
      const v = (row as Record<string, unknown>)[`wait_${WAITING_REASONS[c]}_ns`];
      if (typeof v === "number" && v > bestNs) {
        bestNs = v;
        best = c;
      }
    }
    this.dominant.set(i, best);
    if (!COMPLETED.has(row.finish_reason)) return;
    // the summary's population: completed requests carry every latency
    if (row.ttft !== null) this.ttft.set(i, row.ttft);
    if (row.tpot !== null) this.tpot.set(i, row.tpot);
    if (row.e2e_latency !== null) this.e2e.set(i, row.e2e_latency);
    this.queueNs.set(i, row.waiting_time);
    if (row.predicted_remaining_tokens !== null) this.predicted.set(i, row.predicted_remaining_tokens);
  }

  /** one request at one step: extends or closes its lane segment, keeps its queue position */
  iterationRequest(row: TableRow<"per_iteration_requests">, steps: StepCollector): void {
    const i = this.idx(row.dp_rank, row.request_id, row.request_instance);
    const it = row.iteration_id;
    let l = this.live.get(i);
    if (row.state === "completed") {
      if (l) this.retire(l, it + 1);
      this.live.delete(i);
      return;
    }
    const waiting = row.state === "waiting" || row.state === "preempted";
    let code: number;
    if (waiting) {
      code = CODE.get(row.waiting_reason ?? "unknown")!;
      steps.waiting(row.dp_rank, it, row.waiting_reason ?? "unknown");
    } else if (row.scheduled_tokens === 0) code = CODE.get("running_unscheduled")!;
    else code = row.running_reason === "chunked_prefill" || row.running_reason === "recomputation" || row.tokens_generated === 0 ? 0 : 1;
    if (!l) {
      l = { idx: i, rank: row.dp_rank, code, segStart: it, lastIter: it, keptPos: NaN, lastPos: NaN, lastPosIter: -1, segs: [] };
      this.live.set(i, l);
    } else if (code !== l.code) {
      this.close(l, it);
      l.code = code;
      l.segStart = it;
    }
    l.lastIter = it;
    if (waiting && row.queue_position !== null) this.queuePosition(l, it, row.queue_position);
    else if (!waiting && !Number.isNaN(l.keptPos)) this.flushPosition(l);
  }

  private queuePosition(l: Live, it: number, pos: number): void {
    const kept = l.keptPos;
    if (Number.isNaN(kept) || (pos !== kept && Math.abs(pos - kept) >= Math.max(1, kept * QUEUE_CHANGE_KEPT))) {
      this.pushPos(l.idx, it, pos);
      l.keptPos = pos;
      l.lastPos = NaN;
    } else {
      l.lastPos = pos;
      l.lastPosIter = it;
    }
  }

  /** the last position before leaving the queue is always kept, so a lane ends where the request did */
  private flushPosition(l: Live): void {
    if (!Number.isNaN(l.lastPos) && l.lastPos !== l.keptPos) this.pushPos(l.idx, l.lastPosIter, l.lastPos);
    l.lastPos = NaN;
    l.keptPos = NaN;
  }

  private pushPos(idx: number, it: number, pos: number): void {
    this.q.req.push(idx);
    this.q.it.push(it);
    this.q.pos.push(pos);
  }

  private close(l: Live, endIter: number): void {
    l.segs.push(l.segStart, endIter, l.code);
  }

  /** the request left the run: its lane, compacted if long, joins the others */
  private retire(l: Live, endIter: number): void {
    if (!Number.isNaN(l.keptPos)) this.flushPosition(l);
    this.close(l, endIter);
    const segs = l.segs.length / 3 > MAX_LANE_SEGMENTS ? compactLane(l.segs, MAX_LANE_SEGMENTS) : l.segs;
    if (segs !== l.segs) this.compactedSet.add(l.idx);
    for (let k = 0; k < segs.length; k += 3) {
      this.seg.req.push(l.idx);
      this.seg.rank.push(l.rank);
      this.seg.a.push(segs[k]);
      this.seg.b.push(segs[k + 1]);
      this.seg.code.push(segs[k + 2]);
    }
  }

  /** closes lanes of requests still live when the run ended */
  finishLanes(): void {
    for (const l of this.live.values()) this.retire(l, l.lastIter + 1);
    this.live.clear();
  }

  get count(): number {
    return this.ids.length;
  }

  /**
   * The rows to embed: all of them up to `cap`, else the union of the longest waits,
   * slowest E2E and TTFT and most preempted (a quarter of the cap each), by arrival.
   */
  select(cap: number): number[] {
    const n = this.count;
    const all = Array.from({ length: n }, (_, i) => i);
    if (n <= cap) return all;
    const keys = [this.longestWait, this.e2e, this.ttft, this.preemptions, this.waitingNs];
    const chosen = new Set<number>();
    const q = Math.floor(cap / keys.length);
    for (const k of keys) {
      const v = (i: number) => (Number.isNaN(k.get(i)) ? -Infinity : k.get(i));
      for (const i of [...all].sort((a, b) => v(b) - v(a) || a - b).slice(0, q)) chosen.add(i);
    }
    return [...chosen].sort((a, b) => this.arrival.get(a) - this.arrival.get(b) || a - b);
  }

  table(rows: number[], total: number): RequestTable {
    const f64 = (s: Indexed<Float64Array>) => Float64Array.from(rows, (i) => s.get(i));
    const f32 = (s: Indexed<Float32Array>) => Float32Array.from(rows, (i) => s.get(i));
    return {
      total,
      ids: rows.map((i) => this.ids[i]),
      dp_rank: f32(this.rank),
      arrival_ns: f64(this.arrival),
      ttft_ns: f64(this.ttft),
      e2e_ns: f64(this.e2e),
      waiting_ns: f64(this.waitingNs),
      preemptions: f32(this.preemptions),
      output_tokens: f32(this.output),
      dominant_cause: Int32Array.from(rows, (i) => this.dominant.get(i)),
      causes: [...WAITING_REASONS],
      finish_reason: Uint8Array.from(rows, (i) => Math.max(0, this.finish.get(i) - 1)),
      finish_reasons: FINISH_REASONS,
      selection: rows.length === total ? "all" : "top",
    };
  }

  /** lanes of the embedded rows, with step numbers turned into run time */
  lanes(rows: number[], steps: StepCollector): Lanes {
    const pos = new Map(rows.map((r, k) => [r, k]));
    const s = { req: new Appender<Uint32Array>(Uint32Array), a: new Appender<Float64Array>(Float64Array), b: new Appender<Float64Array>(Float64Array), code: new Appender<Uint8Array>(Uint8Array) };
    for (let k = 0; k < this.seg.req.length; k++) {
      const row = pos.get(this.seg.req.get(k));
      if (row === undefined) continue;
      const rank = this.seg.rank.get(k);
      s.req.push(row);
      s.a.push(steps.stepTime(rank, this.seg.a.get(k)));
      s.b.push(steps.stepTime(rank, this.seg.b.get(k)));
      s.code.push(this.seg.code.get(k));
    }
    const q = { req: new Appender<Uint32Array>(Uint32Array), t: new Appender<Float64Array>(Float64Array), p: new Appender<Float32Array>(Float32Array) };
    for (let k = 0; k < this.q.req.length; k++) {
      const r = this.q.req.get(k);
      const row = pos.get(r);
      if (row === undefined) continue;
      q.req.push(row);
      q.t.push(steps.stepTime(this.rank.get(r), this.q.it.get(k)));
      q.p.push(this.q.pos.get(k));
    }
    return {
      codes: LANE_CODES,
      seg_request: s.req.toArray(),
      seg_start_ns: s.a.toArray(),
      seg_end_ns: s.b.toArray(),
      seg_code: s.code.toArray(),
      queue_request: q.req.toArray(),
      queue_t_ns: q.t.toArray(),
      queue_position: q.p.toArray(),
      queue_change_kept: QUEUE_CHANGE_KEPT,
      max_segments: MAX_LANE_SEGMENTS,
      compacted_requests: this.compactedSet.size,
      compacted_rows: Uint32Array.from(rows.flatMap((r, k) => (this.compactedSet.has(r) ? [k] : []))),
    };
  }
}

/**
 * A lane with more segments than a chart can show (causes that alternate step by step)
 * redrawn at `k` equal spans of the request's life, each span taking the code that covers
 * most of it, equal neighbours merged. Flat [start, end, code, …] in and out.
 */
export function compactLane(segs: number[], k: number): number[] {
  const first = segs[0];
  const span = segs[segs.length - 2] - first;
  const out: number[] = [];
  const cover = new Map<number, number>();
  let j = 0;
  for (let b = 0; b < k; b++) {
    const a0 = first + (span * b) / k;
    const a1 = first + (span * (b + 1)) / k;
    cover.clear();
    while (j < segs.length && segs[j + 1] <= a0) j += 3;
    for (let m = j; m < segs.length && segs[m] < a1; m += 3) {
      const o = Math.min(a1, segs[m + 1]) - Math.max(a0, segs[m]);
      if (o > 0) cover.set(segs[m + 2], (cover.get(segs[m + 2]) ?? 0) + o);
    }
    let code = -1;
    let best = -1;
    for (const [c, o] of cover) if (o > best || (o === best && c < code)) [code, best] = [c, o];
    if (code < 0) continue;
    const s0 = Math.round(a0);
    const s1 = b === k - 1 ? segs[segs.length - 2] : Math.round(a1);
    if (out.length && out[out.length - 1] === code && out[out.length - 2] === s0) out[out.length - 2] = s1;
    else if (s1 > s0) out.push(s0, s1, code);
  }
  return out;
}
