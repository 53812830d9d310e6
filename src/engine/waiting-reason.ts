import type { SkipCause, StepRecord } from "../schema/raw.js";
import type { WaitingReason } from "../schema/waiting.js";

/**
 * The decision procedure of docs/waiting-reasons.md: why a request that is in the
 * waiting queue after schedule() was not admitted at that decision. First match wins.
 */
export interface StepFacts {
  step: StepRecord;
  preempted: ReadonlySet<string>;
  skipped: ReadonlyMap<string, SkipCause>;
  /** tokens given to requests that were already running (phase 1 of schedule()) */
  runningPhaseTokens: number;
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
  /** best (lowest) priority value among requests admitted or resumed this step */
  bestAdmittedPriority: number | null;
  byPriority: boolean;
  /** waiting requests that vLLM's cache-aware admission moved behind a request admitted this step */
  cacheAwareOutranked: ReadonlySet<string>;
  /** requests whose asynchronous KV-connector load is in flight (WAITING_FOR_REMOTE_KVS; trace kv records) */
  remoteKv?: ReadonlySet<string>;
}

const SKIP_TO_REASON: Record<SkipCause, WaitingReason> = {
  grammar_compiling: "grammar_compiling",
  remote_kv_transfer: "remote_kv_transfer",
  streaming_input: "streaming_input",
  lora_slots: "lora_slots",
  kv_connector_pending: "kv_connector_pending",
  prompt_exceeds_budget: "prompt_exceeds_budget",
  encoder_budget: "encoder_budget",
  other: "unknown",
  kv_load_cap: "kv_load_cap",
};

/** stop causes that single out the request the loop stopped at (rule 7) */
const HEAD_SPECIFIC = new Set(["kv_full", "prompt_exceeds_budget", "encoder_budget", "kv_load_cap"]);

/**
 * The reason every waiting request gets at this decision when nothing singles it out, or
 * null when requests must be looked at one by one (preemptions, skips, a blocking head,
 * the priority policy). Most steps of a long run take this path.
 */
export function uniformReason(f: StepFacts): WaitingReason | null {
  const s = f.step;
  if (f.preempted.size > 0 || f.skipped.size > 0 || f.byPriority || f.cacheAwareOutranked.size > 0 || (f.remoteKv?.size ?? 0) > 0) return null;
  if (s.paused) return "paused";
  if (s.stop ? HEAD_SPECIFIC.has(s.stop.cause) : s.kv_fail.length > 0) return null;
  return resourceReason("", f);
}

export function waitingReason(id: string, priority: number, f: StepFacts): WaitingReason {
  const s = f.step;
  if (f.preempted.has(id)) return "preempted";
  if (s.paused) return "paused";
  // its blocks are allocated and the connector is still filling them: nothing else could admit it
  if (f.remoteKv?.has(id)) return "remote_kv_transfer";
  const skip = f.skipped.get(id);
  if (skip) return SKIP_TO_REASON[skip];
  // vLLM skips the whole waiting loop in a step that had to preempt (memory pressure).
  // Preemptions between steps (reset_prefix_cache) are listed too but do not skip it, so
  // full-level traces say which it was; summary-level ones only have the list.
  if (s.stop ? s.stop.cause === "preemption" : f.preempted.size > 0) return "memory_insufficient";
  // vLLM 0.34 cache-aware admission moved a request with a cached prefix ahead of it and
  // admitted that one instead: its own cause, not a departure from FCFS
  if (f.cacheAwareOutranked.has(id)) return "cache_aware_outranked";
  const resource = resourceReason(id, f);
  if (f.byPriority && (resource === "max_num_seqs" || resource === "max_num_batched_tokens")) {
    if (f.bestAdmittedPriority !== null && f.bestAdmittedPriority < priority) return "priority_outranked";
  }
  return resource;
}

function budgetReason(f: StepFacts): WaitingReason {
  // running requests are served first; when they used the whole budget the waiting loop never ran
  return f.runningPhaseTokens >= f.maxNumBatchedTokens ? "decode_priority" : "max_num_batched_tokens";
}

function resourceReason(id: string, f: StepFacts): WaitingReason {
  const s = f.step;
  const stop = s.stop;
  if (stop) {
    switch (stop.cause) {
      case "max_num_seqs":
        return "max_num_seqs";
      case "token_budget":
        return budgetReason(f);
      case "kv_full":
        return stop.req === id ? "memory_insufficient" : "head_of_line_blocked";
      case "prompt_exceeds_budget":
        return stop.req === id ? "prompt_exceeds_budget" : "head_of_line_blocked";
      case "encoder_budget":
        return stop.req === id ? "encoder_budget" : "head_of_line_blocked";
      case "kv_load_cap":
        return stop.req === id ? "kv_load_cap" : "head_of_line_blocked";
      case "preemption":
        return "memory_insufficient";
      case "paused":
        return "paused";
      case "empty":
      case "other":
        break;
    }
  }
  // summary-level traces carry no stop cause: infer from the limits that were hit
  if (s.running >= f.maxNumSeqs) return "max_num_seqs";
  if (s.budget_left <= 0) return budgetReason(f);
  const failedWaiting = s.kv_fail.find(([, phase]) => phase === "waiting");
  if (failedWaiting) return failedWaiting[0] === id ? "memory_insufficient" : "head_of_line_blocked";
  return "unknown";
}
