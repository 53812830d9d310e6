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
  // output schema 1.4 (appended: per_request's wait_<reason>_ns columns follow this order)
  "kv_load_cap",
  "cache_aware_outranked",
]);
export type WaitingReason = z.infer<typeof WaitingReason>;
export const WAITING_REASONS = WaitingReason.options;
/** The reasons of output schema 1.0, whose wait_ columns sit before the appended ones. */
export const WAITING_REASONS_1_0 = WAITING_REASONS.slice(0, WAITING_REASONS.indexOf("unknown") + 1);
/** Reasons added in output schema 1.4 (vLLM 0.34's in-flight KV-load cap and cache-aware admission). */
export const WAITING_REASONS_1_4 = ["kv_load_cap", "cache_aware_outranked"] as const satisfies readonly WaitingReason[];

/** Why a request in the running list did not simply advance by its full need this step. */
export const RunningNote = z.enum(["chunked_prefill", "recomputation", "running_unscheduled"]);
export type RunningNote = z.infer<typeof RunningNote>;
