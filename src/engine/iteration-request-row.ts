import type { PerIterationRequestRow } from "../schema/tables.js";
import type { RunningNote, WaitingReason } from "../schema/waiting.js";
import type { RequestState } from "./request-state.js";
import type { RowSink } from "./types.js";

/** What differs between a running, a waiting and a completed row of per_iteration_requests. */
export interface IterationRequestFields {
  state: PerIterationRequestRow["state"];
  queue_position: number | null;
  waiting_reason: PerIterationRequestRow["waiting_reason"];
  kv_cache_blocks: number;
  time_in_state: number;
  scheduled_tokens: number;
  running_reason: PerIterationRequestRow["running_reason"];
  waiting_phase: PerIterationRequestRow["waiting_phase"];
}

/** The one place a per_iteration_requests row object is built; the rest comes from the request itself. */
export function iterationRequestRow(
  step: number,
  r: RequestState,
  f: IterationRequestFields,
  fullLevel: boolean,
  dpRank: number,
): PerIterationRequestRow {
  return {
    iteration_id: step,
    request_id: r.id,
    state: f.state,
    queue_position: f.queue_position,
    waiting_reason: f.waiting_reason,
    tokens_generated: r.outputTokens,
    kv_cache_blocks: fullLevel ? f.kv_cache_blocks : null,
    time_in_state: f.time_in_state,
    scheduled_tokens: f.scheduled_tokens,
    running_reason: f.running_reason,
    waiting_phase: f.waiting_phase,
    computed_tokens: r.computed,
    dp_rank: dpRank,
    request_instance: r.instance,
    binding_limits: null,
  };
}

/** A waiting row's state and phase: before its first admission, after a preemption, or a session between turns. */
export const waitingState = (r: RequestState): "waiting" | "preempted" => (r.state === "preempted" ? "preempted" : "waiting");
export const waitingPhase = (r: RequestState): NonNullable<PerIterationRequestRow["waiting_phase"]> =>
  !r.everAdmitted ? "initial" : r.state === "preempted" ? "after_preemption" : "next_turn";

/**
 * Where the engine's per_iteration_requests rows go, one call per row with the values that are
 * not the request's own: as row objects to the sink (ObjectRows, below), or written into lanes
 * without an object per row (LaneRows, iteration-request-lanes.ts) when the sink takes lanes.
 */
export interface IterationRows {
  running(step: number, r: RequestState, timeInState: number, scheduled: number, note: RunningNote | null): void;
  waiting(step: number, r: RequestState, pos: number | null, reason: WaitingReason, timeInState: number): void;
  /** finished in this step's update */
  completed(step: number, r: RequestState): void;
  /** r left the engine (completed): no row names it after this */
  forget(r: RequestState): void;
  /** the trace ended: rows held back go out */
  flush(): void;
}

/** Rows as objects, to sink.perIterationRequest (the binding tracker's sink fills binding_limits on the way). */
export class ObjectRows implements IterationRows {
  constructor(
    private readonly sink: RowSink,
    private readonly full: boolean,
    private readonly dpRank: number,
  ) {}

  running(step: number, r: RequestState, timeInState: number, scheduled: number, note: RunningNote | null): void {
    this.put(step, r, { state: "running", queue_position: null, waiting_reason: null, kv_cache_blocks: r.blocks, time_in_state: timeInState, scheduled_tokens: scheduled, running_reason: note, waiting_phase: null });
  }

  waiting(step: number, r: RequestState, pos: number | null, reason: WaitingReason, timeInState: number): void {
    this.put(step, r, { state: waitingState(r), queue_position: pos, waiting_reason: reason, kv_cache_blocks: r.blocks, time_in_state: timeInState, scheduled_tokens: 0, running_reason: null, waiting_phase: waitingPhase(r) });
  }

  completed(step: number, r: RequestState): void {
    this.put(step, r, { state: "completed", queue_position: null, waiting_reason: null, kv_cache_blocks: 0, time_in_state: 0, scheduled_tokens: 0, running_reason: null, waiting_phase: null });
  }

  forget(): void {}

  flush(): void {}

  private put(step: number, r: RequestState, f: IterationRequestFields): void {
    this.sink.perIterationRequest(iterationRequestRow(step, r, f, this.full, this.dpRank));
  }
}
