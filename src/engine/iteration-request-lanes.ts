import { lanePlaces } from "../schema/lane-places.js";
import { batchRowsFor, laneArrays, layout, NULL, NO_TEXTS, type TableLanes } from "../schema/lanes.js";
import type { RunningNote, WaitingReason } from "../schema/waiting.js";
import type { IterationRows } from "./iteration-request-row.js";
import type { RequestState } from "./request-state.js";
import { StringIds } from "./string-ids.js";

/**
 * per_iteration_requests written by the engine straight into lanes (src/schema/lanes.ts): the
 * default convert's ~9 M rows without an object per row, a map lookup per request id, or a fill
 * of the lanes from objects (convert --threads). Each cell gets the value ObjectRows puts in the
 * row object, so the CSV (and decoded rows) are the same; test/iteration-request-lanes.test.ts
 * holds the two paths to that.
 */

const LAY = layout("per_iteration_requests");
const COLS = LAY.cols.length;
const NUMS = LAY.nNum;
const STRS = LAY.nStr;
const { cell: cellOf, lane: laneOf, code: codeOf, codes: codesOf } = lanePlaces("per_iteration_requests");

const N_STEP = laneOf("iteration_id", true);
const N_POS = laneOf("queue_position", true);
const N_TOKENS = laneOf("tokens_generated", true);
const N_BLOCKS = laneOf("kv_cache_blocks", true);
const N_TIME = laneOf("time_in_state", true);
const N_SCHED = laneOf("scheduled_tokens", true);
const N_COMPUTED = laneOf("computed_tokens", true);
const N_RANK = laneOf("dp_rank", true);
const N_INSTANCE = laneOf("request_instance", true);
const S_ID = laneOf("request_id", false);
const S_STATE = laneOf("state", false);
const S_REASON = laneOf("waiting_reason", false);
const S_NOTE = laneOf("running_reason", false);
const S_PHASE = laneOf("waiting_phase", false);
const S_LABEL = laneOf("binding_limits", false);
const T_POS = cellOf("queue_position");
const T_REASON = cellOf("waiting_reason");
const T_BLOCKS = cellOf("kv_cache_blocks");
const T_NOTE = cellOf("running_reason");
const T_PHASE = cellOf("waiting_phase");
const T_LABEL = cellOf("binding_limits");
const RUNNING = codeOf("state", "running");
const WAITING = codeOf("state", "waiting");
const PREEMPTED = codeOf("state", "preempted");
const COMPLETED = codeOf("state", "completed");
const REASONS = codesOf("waiting_reason");
const CHUNKED = codeOf("running_reason", "chunked_prefill");
const RECOMPUTATION = codeOf("running_reason", "recomputation");
const UNSCHEDULED = codeOf("running_reason", "running_unscheduled");
const INITIAL = codeOf("waiting_phase", "initial");
const AFTER_PREEMPTION = codeOf("waiting_phase", "after_preemption");
const NEXT_TURN = codeOf("waiting_phase", "next_turn");

/** What LaneRows hands its lanes to, and asks for a waiting row's binding_limits. */
export interface LanesSink {
  perIterationRequestLanes(lanes: TableLanes): void;
  waitingLabel?(requestId: string, step: number, pos: number | null): string | null;
}

export class LaneRows implements IterationRows {
  readonly lanes: TableLanes;
  private readonly ids = new StringIds();
  /** the last label and its id, the last waiting reason and its code: down a waiting queue the same string object repeats */
  private lastLabel: string | null = null;
  private lastLabelId = -1;
  private lastReason = "";
  private lastReasonCode = 0;

  constructor(
    private readonly sink: LanesSink,
    private readonly full: boolean,
    private readonly dpRank: number,
    capacity = batchRowsFor("per_iteration_requests"),
  ) {
    this.lanes = { table: "per_iteration_requests", rows: 0, capacity, strings: this.ids.strings, fresh: this.ids.fresh, texts: NO_TEXTS, ...laneArrays("per_iteration_requests", capacity) };
  }

  running(step: number, r: RequestState, timeInState: number, scheduled: number, note: RunningNote | null): void {
    const row = this.begin(step, r, RUNNING);
    const { tags, num, str } = this.lanes;
    const t = row * COLS;
    const p = row * NUMS;
    const q = row * STRS;
    tags[t + T_POS] = NULL;
    tags[t + T_REASON] = NULL;
    if (this.full) num[p + N_BLOCKS] = r.blocks;
    num[p + N_TIME] = timeInState;
    num[p + N_SCHED] = scheduled;
    if (note === null) tags[t + T_NOTE] = NULL;
    else str[q + S_NOTE] = note === "chunked_prefill" ? CHUNKED : note === "recomputation" ? RECOMPUTATION : UNSCHEDULED;
    tags[t + T_PHASE] = NULL;
    tags[t + T_LABEL] = NULL;
    this.end();
  }

  waiting(step: number, r: RequestState, pos: number | null, reason: WaitingReason, timeInState: number): void {
    const row = this.begin(step, r, r.state === "preempted" ? PREEMPTED : WAITING);
    const { tags, num, str } = this.lanes;
    const t = row * COLS;
    const p = row * NUMS;
    const q = row * STRS;
    if (pos === null) tags[t + T_POS] = NULL;
    else num[p + N_POS] = pos;
    if (reason !== this.lastReason) {
      this.lastReason = reason;
      this.lastReasonCode = REASONS.get(reason)!;
    }
    str[q + S_REASON] = this.lastReasonCode;
    if (this.full) num[p + N_BLOCKS] = r.blocks;
    num[p + N_TIME] = timeInState;
    num[p + N_SCHED] = 0;
    tags[t + T_NOTE] = NULL;
    // waitingPhase(r), as its code
    str[q + S_PHASE] = !r.everAdmitted ? INITIAL : r.state === "preempted" ? AFTER_PREEMPTION : NEXT_TURN;
    const label = this.sink.waitingLabel ? this.sink.waitingLabel(r.id, step, pos) : null;
    if (label === null) tags[t + T_LABEL] = NULL;
    else str[q + S_LABEL] = this.labelId(label);
    this.end();
  }

  completed(step: number, r: RequestState): void {
    const row = this.begin(step, r, COMPLETED);
    const { tags, num } = this.lanes;
    const t = row * COLS;
    const p = row * NUMS;
    tags[t + T_POS] = NULL;
    tags[t + T_REASON] = NULL;
    if (this.full) num[p + N_BLOCKS] = 0;
    num[p + N_TIME] = 0;
    num[p + N_SCHED] = 0;
    tags[t + T_NOTE] = NULL;
    tags[t + T_PHASE] = NULL;
    tags[t + T_LABEL] = NULL;
    this.end();
  }

  forget(r: RequestState): void {
    if (r.laneId >= 0) this.ids.release(r.laneId);
    r.laneId = -1;
  }

  flush(): void {
    const l = this.lanes;
    if (l.rows > 0) {
      this.sink.perIterationRequestLanes(l);
      // the sink may have taken the arrays and left others, not cleared
      l.tags.fill(0);
      l.rows = 0;
      this.ids.fresh.length = 0;
    }
    this.ids.settle();
  }

  /** The cells every row has from its request; returns the row's index. */
  private begin(step: number, r: RequestState, state: number): number {
    const row = this.lanes.rows;
    const { tags, num, str } = this.lanes;
    const p = row * NUMS;
    const q = row * STRS;
    num[p + N_STEP] = step;
    let id = r.laneId;
    if (id < 0) r.laneId = id = this.ids.acquire(r.id);
    str[q + S_ID] = id;
    str[q + S_STATE] = state;
    num[p + N_TOKENS] = r.outputTokens;
    if (!this.full) tags[row * COLS + T_BLOCKS] = NULL;
    num[p + N_COMPUTED] = r.computed;
    num[p + N_RANK] = this.dpRank;
    num[p + N_INSTANCE] = r.instance;
    return row;
  }

  private end(): void {
    if (++this.lanes.rows === this.lanes.capacity) this.flush();
  }

  private labelId(label: string): number {
    if (label !== this.lastLabel) {
      this.lastLabel = label;
      this.lastLabelId = this.ids.intern(label);
    }
    return this.lastLabelId;
  }
}
