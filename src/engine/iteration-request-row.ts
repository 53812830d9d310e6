import type { PerIterationRequestRow } from "../schema/tables.js";
import type { RequestState } from "./request-state.js";

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

/** The one place a per_iteration_requests row is built; the rest comes from the request itself. */
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
