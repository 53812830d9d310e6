import type { Finding } from "../core/finding.js";
import { WAITING_REASONS } from "../schema/waiting.js";
import type { TableName } from "../schema/tables.js";
import { IntByIndex } from "./collector.js";

/**
 * Cross-row and cross-file invariants of the output tables, checked on rows that already
 * passed their row schema. The checker sees the tables in TABLE_ORDER, so the request ids
 * of per_request.csv and the batch sizes of per_iteration.csv are known when the tables
 * that refer to them are read. Memory: one entry per request and one number per iteration.
 */
export type Emit = (code: string, line: number | undefined, args: Finding["args"]) => void;
type Row = Record<string, unknown>;

export const TABLE_ORDER = ["per_request", "per_iteration", "per_iteration_requests", "events", "state_transitions"] as const satisfies readonly TableName[];

const WAIT_COLS = WAITING_REASONS.map((r) => `wait_${r}_ns`);

/** Columns holding a duration (a difference of two times), which can never be negative. */
export const DURATION_COLUMNS: Partial<Record<TableName, readonly string[]>> = {
  per_request: [
    "waiting_time",
    "execution_time",
    "e2e_latency",
    "ttft",
    "tpot",
    "vllm_queued_time",
    "vllm_prefill_time",
    "vllm_decode_time",
    "vllm_inference_time",
    "vllm_mean_tpot",
    "longest_wait",
    ...WAIT_COLS,
  ],
  per_iteration: ["duration", "scheduling_overhead", "forward_duration", "update_duration"],
  per_iteration_requests: ["time_in_state"],
};

const n = (row: Row, c: string): number | null => (typeof row[c] === "number" ? (row[c] as number) : null);
/**
 * one request lifetime: (dp_rank, request_instance, request_id); tables before schema 1.1
 * have no instance (0). Each DP rank is its own scheduler: a client may send one id to two.
 */
const lifetimeKey = (row: Row, id: string): string => `${n(row, "dp_rank") ?? 0}\u0000${n(row, "request_instance") ?? 0}\u0000${id}`;
const has = (row: Row, ...cols: string[]) => cols.every((c) => c in row);

export class InvariantChecker {
  /** (dp_rank, request_instance, request_id) → line in per_request.csv */
  private readonly requests = new Map<string, number>();
  /** (dp_rank, request_id) → [arrival_time, completion_time] of its last lifetime read, to catch overlapping lifetimes */
  private readonly lastLifetime = new Map<string, [number | null, number | null]>();
  private requestsKnown = false;
  /** per dp_rank: batch_size and line of each iteration, and rows with scheduled_tokens > 0 */
  private readonly batch = new Map<number, { size: IntByIndex; line: IntByIndex; scheduled: IntByIndex }>();
  private readonly lastIteration = new Map<number, number>();
  private readonly lastEventT = new Map<number, number>();
  private iterationRequestsRead = false;
  private batchSizesJudgeable = true;

  constructor(private readonly iterationRequestsComplete: boolean) {}

  row(table: TableName, row: Row, line: number, emit: Emit): void {
    for (const c of DURATION_COLUMNS[table] ?? []) {
      const v = n(row, c);
      if (v !== null && v < 0) {
        const args: Finding["args"] = { column: c, value: v };
        if (typeof row.request_id === "string") args.request_id = row.request_id;
        if (typeof row.iteration_id === "number") args.iteration_id = row.iteration_id;
        emit("NEGATIVE_DURATION", line, args);
      }
    }
    switch (table) {
      case "per_request":
        return this.perRequest(row, line, emit);
      case "per_iteration":
        return this.perIteration(row, line, emit);
      case "per_iteration_requests":
        this.iterationRequestsRead = true;
        this.join(row, line, emit);
        return this.countScheduled(row);
      case "events":
        this.join(row, line, emit);
        return this.eventOrder(row, line, emit);
      case "state_transitions":
        return this.join(row, line, emit);
    }
  }

  /** a row that failed its schema still names its request, so joins to it do not cascade */
  invalidRow(table: TableName, row: Row): void {
    if (table === "per_request" && typeof row.request_id === "string" && !this.requests.has(lifetimeKey(row, row.request_id))) {
      this.requests.set(lifetimeKey(row, row.request_id), 0);
    }
  }

  /** per_request.csv was read (even if absent: then joins are not checked) */
  requestsDone(present: boolean): void {
    this.requestsKnown = present;
  }

  /** per_iteration_requests.csv is cut off: batch sizes cannot be compared with it */
  skipBatchSizes(): void {
    this.batchSizesJudgeable = false;
  }

  /** checks that need whole tables; emits with the table the finding belongs to */
  end(emit: (table: TableName, code: string, line: number | undefined, args: Finding["args"]) => void): void {
    if (!this.batchSizesJudgeable || (!this.iterationRequestsRead && !this.iterationRequestsComplete)) return;
    const ranks = [...this.batch.keys()].sort((a, b) => a - b);
    for (const rank of ranks) {
      const b = this.batch.get(rank)!;
      for (const it of b.size.indices()) {
        const size = b.size.get(it);
        if (size < 0) continue;
        const sched = Math.max(0, b.scheduled.get(it));
        const hasRows = b.scheduled.get(it) >= 0;
        // without a complete table, only iterations that have rows can be compared
        if (!hasRows && !this.iterationRequestsComplete) continue;
        if (sched !== size) emit("per_iteration", "BATCH_SIZE_MISMATCH", b.line.get(it), { iteration_id: it, dp_rank: rank, batch_size: size, scheduled_rows: sched });
      }
    }
  }

  private perRequest(row: Row, line: number, emit: Emit): void {
    const id = row.request_id;
    if (typeof id === "string") {
      const key = lifetimeKey(row, id);
      const first = this.requests.get(key);
      if (first !== undefined) emit("DUPLICATE_REQUEST", line, { request_id: id, request_instance: n(row, "request_instance") ?? 0, first_line: first });
      else {
        this.requests.set(key, line);
        this.lifetimeOverlap(row, id, line, emit);
      }
    }
    const rid = typeof id === "string" ? id : null;
    const waiting = n(row, "waiting_time");
    const exec = n(row, "execution_time");
    const e2e = n(row, "e2e_latency");
    if (n(row, "completion_time") !== null && waiting !== null && exec !== null && e2e !== null && waiting + exec !== e2e) {
      emit("LATENCY_SUM_MISMATCH", line, { request_id: rid, sum: waiting + exec, e2e_latency: e2e });
    }
    const arrival = n(row, "arrival_time");
    const completion = n(row, "completion_time");
    if (arrival !== null && completion !== null && e2e !== null && completion - arrival !== e2e) {
      emit("E2E_MISMATCH", line, { request_id: rid, expected: completion - arrival, e2e_latency: e2e });
    }
    if (waiting !== null && has(row, ...WAIT_COLS)) {
      let sum = 0;
      for (const c of WAIT_COLS) sum += n(row, c) ?? 0;
      if (sum !== waiting) emit("WAIT_SUM_MISMATCH", line, { request_id: rid, sum, waiting_time: waiting });
    }
  }

  /** a reused id is fine; a second lifetime that starts before the other one ended is a contradiction */
  private lifetimeOverlap(row: Row, id: string, line: number, emit: Emit): void {
    const arrival = n(row, "arrival_time");
    const completion = n(row, "completion_time");
    const key = `${n(row, "dp_rank") ?? 0}\u0000${id}`;
    const other = this.lastLifetime.get(key);
    this.lastLifetime.set(key, [arrival, completion]);
    if (!other || arrival === null || other[0] === null) return;
    const endsAfter = (end: number | null, start: number) => end === null || end > start;
    if (endsAfter(other[1], arrival) && endsAfter(completion, other[0])) {
      emit("REQUEST_LIFETIMES_OVERLAP", line, { request_id: id, request_instance: n(row, "request_instance") ?? 0, arrival_time: arrival, other_arrival_time: other[0], other_completion_time: other[1] });
    }
  }

  private perIteration(row: Row, line: number, emit: Emit): void {
    const it = n(row, "iteration_id");
    const rank = n(row, "dp_rank") ?? 0;
    const used = n(row, "kv_cache_used");
    const total = n(row, "kv_cache_total");
    if (used !== null && total !== null && used > total) emit("KV_USED_EXCEEDS_TOTAL", line, { iteration_id: it, used, total });
    const p = n(row, "prefill_tokens");
    const d = n(row, "decode_tokens");
    const tt = n(row, "total_tokens");
    if (p !== null && d !== null && tt !== null && p + d !== tt) emit("TOKEN_SUM_MISMATCH", line, { iteration_id: it, sum: p + d, total_tokens: tt });
    if (it === null) return;
    const prev = this.lastIteration.get(rank);
    if (prev !== undefined && it <= prev) emit("ITERATION_ORDER", line, { iteration_id: it, previous: prev, dp_rank: rank });
    this.lastIteration.set(rank, it);
    const size = n(row, "batch_size");
    if (size !== null) {
      const b = this.rankBatch(rank);
      b.size.set(it, size);
      b.line.set(it, line);
    }
  }

  private countScheduled(row: Row): void {
    const it = n(row, "iteration_id");
    if (it === null) return;
    const b = this.rankBatch(n(row, "dp_rank") ?? 0);
    const cur = Math.max(0, b.scheduled.get(it));
    b.scheduled.set(it, cur + ((n(row, "scheduled_tokens") ?? 0) > 0 ? 1 : 0));
  }

  private eventOrder(row: Row, line: number, emit: Emit): void {
    const t = n(row, "timestamp");
    if (t === null) return;
    const rank = n(row, "dp_rank") ?? 0;
    const prev = this.lastEventT.get(rank);
    if (prev !== undefined && t < prev) emit("EVENT_TIME_ORDER", line, { timestamp: t, previous: prev, dp_rank: rank });
    else this.lastEventT.set(rank, t);
  }

  private join(row: Row, line: number, emit: Emit): void {
    const id = row.request_id;
    if (this.requestsKnown && typeof id === "string" && !this.requests.has(lifetimeKey(row, id))) {
      emit("JOIN_UNKNOWN_REQUEST", line, { request_id: id, request_instance: n(row, "request_instance") ?? 0 });
    }
  }

  private rankBatch(rank: number) {
    let b = this.batch.get(rank);
    if (!b) this.batch.set(rank, (b = { size: new IntByIndex(), line: new IntByIndex(), scheduled: new IntByIndex() }));
    return b;
  }
}
