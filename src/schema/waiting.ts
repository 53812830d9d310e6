import { z } from "zod";

/**
 * Why a waiting request was not admitted at a scheduling decision. The decision
 * procedure and precedence live in docs/waiting-reasons.md; the engine implements it
 * in src/engine/waiting-reason.ts. Seed labels that cannot occur in vLLM v1 are listed
 * in SEED_LABELS_NOT_IN_V1 with the reason.
 */
export const WaitingReason = z.enum([
  "arrived_after_decision",
  "preempted",
  "paused",
  "grammar_compiling",
  "remote_kv_transfer",
  "streaming_input",
  "lora_slots",
  "kv_connector_pending",
  "encoder_budget",
  "prompt_exceeds_budget",
  "memory_insufficient",
  "head_of_line_blocked",
  "max_num_seqs",
  "decode_priority",
  "max_num_batched_tokens",
  "priority_outranked",
  "unknown",
]);
export type WaitingReason = z.infer<typeof WaitingReason>;
export const WAITING_REASONS = WaitingReason.options;

/** Why a request in the running list did not simply advance by its full need this step. */
export const RunningNote = z.enum(["chunked_prefill", "recomputation", "running_unscheduled"]);
export type RunningNote = z.infer<typeof RunningNote>;

export const SEED_LABELS_NOT_IN_V1 = {
  context_length_limit: "v1 rejects prompts longer than max_model_len before they reach the scheduler and finishes running requests at max_model_len with reason length, so no request ever waits on it",
  evicted: "v1 has no swap: a preempted request's blocks return to the free pool, and whether its prefix-cached blocks were evicted is only known at resume; it is counted in per_request.eviction_count, not a waiting state",
  recomputation: "v1 recomputes a preempted request after it is re-admitted, while it is running; it is reported as running_reason=recomputation and recomputed_tokens",
  chunked_prefill: "a partially prefilled request stays in v1's running list; it is reported as running_reason=chunked_prefill",
  initial_waiting: "every wait in v1 has a concrete cause; whether it happens before the first admission is the waiting_phase column (initial)",
} as const;
