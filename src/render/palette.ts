import type { ChildName } from "../analysis/timeline/types.js";
import type { WaitingReason } from "../schema/waiting.js";

/**
 * One colour per waiting cause and per request state, shared by every visual renderer
 * (the HTML report, the Perfetto timeline, compare's pages), so the same cause has the
 * same colour in every run and every view. Hues group causes by what binds: KV (reds),
 * the batch limits (oranges/yellows), queue order (purples), external waits (blues/greens).
 */
export const CAUSE_COLORS = {
  arrived_after_decision: "#b0b0b0",
  preempted: "#8c2d04",
  paused: "#6b6b6b",
  grammar_compiling: "#2c7fb8",
  remote_kv_transfer: "#41b6c4",
  streaming_input: "#7fcdbb",
  lora_slots: "#238443",
  kv_connector_pending: "#225ea8",
  encoder_budget: "#78c679",
  prompt_exceeds_budget: "#fd8d3c",
  memory_insufficient: "#e31a1c",
  head_of_line_blocked: "#fb6a4a",
  max_num_seqs: "#fecc5c",
  decode_priority: "#dd9a00",
  max_num_batched_tokens: "#f16913",
  priority_outranked: "#807dba",
  unknown: "#d9d9d9",
  kv_load_cap: "#1d91c0",
  cache_aware_outranked: "#54278f",
} as const satisfies Record<WaitingReason, string>;

export const STATE_COLORS = {
  prefill: "#3182bd",
  decode: "#31a354",
  preempted: "#8c2d04",
  running_unscheduled: "#9ecae1",
  completed: "#636363",
} as const;

/**
 * The colour of a timeline child slice, from its name: a waiting stretch takes its cause's
 * colour (plain `waiting`, cause unknown, the unknown grey); a state its own, and `running`
 * (prefill and decode not told apart) the prefill blue.
 */
export function childSliceColor(name: ChildName): string {
  if (name === "waiting") return CAUSE_COLORS.unknown;
  if (name === "running") return STATE_COLORS.prefill;
  if (name.startsWith("waiting:")) return CAUSE_COLORS[name.slice("waiting:".length) as WaitingReason];
  return STATE_COLORS[name as keyof typeof STATE_COLORS];
}
