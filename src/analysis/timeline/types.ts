import type { WaitingReason } from "../../schema/waiting.js";

/**
 * What `vsched timeline` draws, as plain objects (times in ns since the run's t=0).
 * The analysis (timeline.ts) produces them one at a time and hands them to a
 * TimelineSink; the renderers (src/render/perfetto/) turn them into bytes. Nothing here
 * knows about protobuf or JSON.
 */

/** The counter tracks of a rank, in this order: each iteration carries one value per counter. */
export const TIMELINE_COUNTERS = [
  { key: "kv_cache_used", name: "KV blocks used", unit: "blocks" },
  { key: "kv_cache_total", name: "KV blocks total", unit: "blocks" },
  { key: "running", name: "running", unit: "requests" },
  { key: "waiting", name: "waiting", unit: "requests" },
  { key: "preempted", name: "preempted", unit: "requests" },
  { key: "prefill_tokens", name: "scheduled prefill tokens", unit: "tokens" },
  { key: "decode_tokens", name: "scheduled decode tokens", unit: "tokens" },
  { key: "token_budget_left", name: "token budget left", unit: "tokens" },
] as const;

export interface TimelineProcess {
  rank: number;
  /** e.g. "vLLM 0.32.0 DP rank 0 (pid 31852)" */
  name: string;
}

/** One scheduler step: a slice on the rank's iterations track (lane > 0 only when steps overlap, async scheduling). */
export interface IterationSlice {
  rank: number;
  lane: number;
  step: number;
  start_ns: number;
  end_ns: number;
  /** the trace ended before this step's update: end_ns is schedule()'s return */
  unfinished: boolean;
  batch_size: number;
  prefill_tokens: number;
  decode_tokens: number;
  scheduling_overhead_ns: number;
  scheduler_action: string;
  /** the counter values from this step's start until the next step's start, in TIMELINE_COUNTERS order */
  counters: number[];
}

export type ChildName = `waiting:${WaitingReason}` | "waiting" | "prefill" | "decode" | "running" | "preempted";

/** A state a request went through: a child of its request slice (depth 1), or of a `preempted` slice (depth 2). */
export interface ChildSlice {
  name: ChildName;
  depth: 1 | 2;
  start_ns: number;
  end_ns: number;
  /** integer figures carried as arguments (prefill: steps and tokens) */
  args: Record<string, number | string>;
  /** this slice starts a flow (a preemption) with this id */
  flow_out?: number;
  /** this slice ends a flow (the resume after a preemption) with this id */
  flow_in?: number;
}

/** One request: a parent slice on a lane of its rank, named by its id, with its states as children. */
export interface RequestSlice {
  rank: number;
  lane: number;
  id: string;
  start_ns: number;
  end_ns: number;
  /** per_request figures (ns, counts, labels); null values are left out by the renderers */
  args: Record<string, number | string | null>;
  /** in time order; a depth-2 slice follows the depth-1 slice that holds it */
  children: ChildSlice[];
  first_token_ns: number | null;
}

export interface TimelineTotals {
  requests: number;
  iterations: number;
  flows: number;
  /** request ids asked for with --requests that the run does not have */
  requested_missing: number;
  /** false when per_iteration_requests lacked waiting rows: waits are drawn without causes */
  causes: boolean;
}

/** Where the analysis hands what it built, in an order renderers can stream. */
export interface TimelineSink {
  /** before the first slice of a rank */
  process(p: TimelineProcess): void;
  iteration(it: IterationSlice): void;
  /** in the order the requests finished; per lane, in time order */
  request(r: RequestSlice): void;
  end(totals: TimelineTotals): void;
}
