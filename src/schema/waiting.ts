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
