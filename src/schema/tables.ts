import { z } from "zod";
import { added, col, type ColumnMeta } from "./columns.js";
import type { FinishReason } from "./raw.js";
import { BIND_BUCKETS, type BindBucket } from "./binding.js";
import { RunningNote, WaitingReason, WAITING_REASONS_1_0, WAITING_REASONS_1_4 } from "./waiting.js";

/**
 * The output tables. Key order of each z.object is the CSV column order: the columns
 * of seed 000 §5 first, exactly in its order, then appended columns. New columns are
 * only ever appended, and adding one bumps OUTPUT_SCHEMA_VERSION's minor number.
 * All times are integer nanoseconds: *_time columns relative to the trace's clock
 * anchor (t=0 when the scheduler was constructed), *_epoch_ns columns absolute.
 */
export const OUTPUT_SCHEMA_VERSION = "1.6"; // 1.1: request_instance columns; 1.2: predictions table, binding limits; 1.3: streaming-input session turns; 1.4: vLLM 0.34's waiting causes (kv_load_cap, cache_aware_outranked), per_iteration GPU stats, KV-connector events; 1.5: per_iteration engine CPU time, run-queue wait and CPU pressure; 1.6: per_iteration GPU time per step

const waitCol = (r: WaitingReason) => col.ns(`waiting time attributed to cause '${r}' (docs/waiting-reasons.md)`);
const waitCols = Object.fromEntries(WAITING_REASONS_1_0.map((r) => [`wait_${r}_ns`, waitCol(r)])) as Record<
  `wait_${(typeof WAITING_REASONS_1_0)[number]}_ns`,
  ReturnType<typeof col.ns>
>;
const waitCols14 = Object.fromEntries(WAITING_REASONS_1_4.map((r) => [`wait_${r}_ns`, waitCol(r)])) as Record<
  `wait_${(typeof WAITING_REASONS_1_4)[number]}_ns`,
  ReturnType<typeof col.ns>
>;

const bindCols = Object.fromEntries(
  BIND_BUCKETS.map((b) => [`bind_${b}_ns`, col.ns(`waiting time whose binding limits fall in bucket '${b}' (docs/waiting-reasons.md, binding limits); the bind_ columns sum to waiting_time`)]),
) as Record<`bind_${BindBucket}_ns`, ReturnType<typeof col.ns>>;

const FINISH = ["stop", "length", "abort", "error", "ignored", "repetition", "unfinished"] as const satisfies readonly (FinishReason | "unfinished")[];

export const PerRequestRow = z.object({
  // seed 000 §5.1, in order
  request_id: col.str("vLLM's request_id as the scheduler saw it"),
  arrival_time: col.ns("add_request() enqueued it (vLLM's QUEUED event time when log_stats)"),
  first_scheduled_time: col.nsOpt("first step that admitted it (vLLM's first SCHEDULED event time when available)"),
  completion_time: col.nsOpt("finished in update_from_output(): that update's out_t (vLLM's EngineCoreOutputs.timestamp), or its return time where the trace has no out_t; finished outside it (abort via finish_requests()): the finish record's t, when vLLM freed it; empty if unfinished when the trace ended"),
  waiting_time: col.ns("time in the waiting queue, summed over the initial wait and every wait after a preemption"),
  execution_time: col.ns("time in the running list: e2e_latency - waiting_time"),
  e2e_latency: col.nsOpt("completion_time - arrival_time"),
  input_tokens: col.count("prompt tokens", "tokens"),
  output_tokens: col.count("output tokens delivered by update_from_output", "tokens"),
  ttft: col.nsOpt("first output token time - arrival_time (scheduler side; excludes frontend IPC)"),
  tpot: col.nsOpt("(last token time - first token time) / (output_tokens - 1), rounded to ns; empty below 2 tokens; excludes the first token as vLLM does"),
  throughput: col.float("output_tokens / e2e_latency", "tokens/s"),
  preemption_count: col.count("times it was preempted"),
  eviction_count: col.count("preemptions after which some full KV block it had computed was no longer in the prefix cache at resume (evicted, or prefix caching off)"),
  kv_cache_blocks: col.countOpt("peak KV blocks held at once (shared prefix blocks counted for every holder)", "blocks"),
  // appended
  arrival_time_epoch_ns: col.epochNs("arrival_time as absolute epoch ns"),
  first_scheduled_time_epoch_ns: col.epochNs("first_scheduled_time as absolute epoch ns"),
  completion_time_epoch_ns: col.epochNs("completion_time as absolute epoch ns"),
  vllm_arrival_time_epoch_ns: col.epochNs("vLLM's Request.arrival_time (frontend wall clock) in epoch ns"),
  ttft_from_vllm_arrival: col.nsOpt("first token epoch time - vLLM's arrival_time: includes frontend-to-core IPC, like vLLM's TTFT minus the return trip"),
  first_token_time: col.nsOpt("time of the update that delivered the first output token"),
  last_token_time: col.nsOpt("time of the update that delivered the last output token"),
  vllm_queued_time: col.nsOpt("vLLM's queued_time: first SCHEDULED - QUEUED (re-queues after preemption excluded)"),
  vllm_prefill_time: col.nsOpt("vLLM's prefill_time: first token - first SCHEDULED"),
  vllm_decode_time: col.nsOpt("vLLM's decode_time: last token - first token"),
  vllm_inference_time: col.nsOpt("vLLM's inference_time: last token - first SCHEDULED"),
  vllm_mean_tpot: col.nsOpt("vLLM's mean_time_per_output_token: decode_time / (output_tokens - 1), 0 below 2 tokens"),
  finish_reason: col.oneOf(FINISH, "stop | length | abort | error | ignored | repetition (vLLM ≥ 0.2x repetition detection) | unfinished"),
  finished_from: col.oneOfOpt(["waiting", "running"] as const, "queue it left from"),
  prefix_cached_tokens: col.countOpt("tokens found computed at first admission (prefix cache + KV connector)", "tokens"),
  priority: col.int("vLLM priority (lower is served first under the priority policy)"),
  priority_score: col.float("a custom policy's last priority_score", ""),
  predicted_remaining_tokens: col.float("a custom policy's last predicted_remaining_tokens", "tokens"),
  max_tokens: col.countOpt("SamplingParams.max_tokens", "tokens"),
  lora_id: col.intOpt("LoRA adapter int id"),
  kv_cache_memory_bytes: col.countOpt("kv_cache_blocks * bytes_per_block", "bytes"),
  longest_wait: col.ns("longest continuous stretch in the waiting queue (starvation)"),
  recomputed_tokens: col.count("tokens computed again after preemptions: Σ over its scheduled chunks of the positions below the most it had computed before a preemption (its share of per_iteration.recompute_tokens; a request preempted again while recomputing counts only what it recomputed)", "tokens"),
  iterations_scheduled: col.count("steps in which it received tokens", "steps"),
  total_tokens: col.count("input_tokens + output_tokens", "tokens"),
  dp_rank: col.count("data-parallel rank of the scheduler that served it"),
  ...waitCols,
  ...added("1.1", {
    request_instance: col.count("which lifetime of this request_id in its scheduler (0 = the first): vLLM lets a finished id be reused; join tables on (request_id, request_instance, dp_rank)"),
  }),
  ...added("1.2", bindCols),
  ...added("1.3", {
    input_chunks: col.count("input chunks it received: 1 for an ordinary request; a streaming-input session's first prompt plus every chunk that commenced (trace schema 1.2; a 1.0/1.1 trace counts its later admissions)"),
  }),
  ...added("1.4", waitCols14),
});

export const PerIterationRow = z.object({
  // seed 000 §5.2, in order
  iteration_id: col.count("0-based step number (one schedule() call)"),
  start_time: col.ns("schedule() entered"),
  end_time: col.nsOpt("update_from_output() for this step returned; empty if the trace ended first"),
  duration: col.nsOpt("end_time - start_time"),
  scheduling_overhead: col.ns("time inside schedule()"),
  forward_duration: col.nsOpt("schedule() return to update_from_output() entry: model execution plus executor IPC; overlaps other steps under async scheduling"),
  batch_size: col.count("requests given tokens this step"),
  total_tokens: col.count("tokens scheduled this step", "tokens"),
  prefill_tokens: col.count("scheduled tokens that are prompt (or recomputed) positions", "tokens"),
  decode_tokens: col.count("scheduled tokens past the prompt that produce output", "tokens"),
  kv_cache_used: col.count("blocks in use after the update: num_gpu_blocks - 1 - free (vLLM's kv_cache_usage numerator)", "blocks"),
  kv_cache_total: col.count("usable blocks: num_gpu_blocks - 1 (vLLM reserves one null block)", "blocks"),
  running_count: col.count("len(running) after schedule()"),
  waiting_count: col.count("waiting requests after schedule() as vLLM's SchedulerStats.num_waiting_reqs counts them: vLLM ≥ 0.33 leaves out requests it deferred (num_skipped_waiting_reqs); the whole queue is waiting_queue_length"),
  preempted_count: col.count("requests preempted during this schedule()"),
  scheduler_action: col.str("'+'-joined, in this order: admit_new, resume, preempt, continue, finish, idle (docs/tables.md)"),
  // appended
  start_time_epoch_ns: col.epochNs("start_time as absolute epoch ns"),
  kv_cache_utilization: col.float("kv_cache_used / kv_cache_total: equals vLLM's SchedulerStats.kv_cache_usage", "fraction"),
  kv_cache_used_after_schedule: col.count("blocks in use right after schedule()", "blocks"),
  admitted_count: col.count("requests admitted for the first time"),
  resumed_count: col.count("requests re-admitted after preemption"),
  completed_count: col.count("requests finished in this step's update"),
  running_unscheduled_count: col.count("requests in the running list that got no tokens"),
  num_prefill_reqs: col.count("scheduled requests with prompt (or recompute) positions"),
  num_decode_reqs: col.count("scheduled requests only decoding"),
  prefill_chunk_min: col.countOpt("smallest prefill chunk", "tokens"),
  prefill_chunk_max: col.countOpt("largest prefill chunk", "tokens"),
  prefill_chunk_mean: col.float("mean prefill chunk", "tokens"),
  recompute_tokens: col.count("scheduled tokens at positions below the most their request had computed before a preemption: KV rebuilt after preemption", "tokens"),
  output_tokens: col.count("output tokens delivered by this step's update", "tokens"),
  token_budget_left: col.int("max_num_batched_tokens minus tokens scheduled", "tokens"),
  waiting_stop_cause: col.strOpt("why the waiting loop stopped (trace level full)"),
  waiting_stop_request_id: col.strOpt("the request the waiting loop stopped at, when request-specific"),
  skipped_count: col.countOpt("waiting requests examined and skipped"),
  kv_alloc_failures: col.count("allocate_slots() calls that returned None"),
  update_duration: col.nsOpt("time inside update_from_output()"),
  running_count_after_update: col.countOpt("len(running) after the update: SchedulerStats.num_running_reqs"),
  waiting_count_after_update: col.countOpt("waiting requests after the update, as waiting_count: SchedulerStats.num_waiting_reqs"),
  dp_rank: col.count("data-parallel rank"),
  ...added("1.1", {
    waiting_queue_length: col.count("requests in the waiting queues after schedule(), deferred ones included: len(waiting) (+ len(kv_holding_waiting), vLLM ≥ 0.33; + len(async_kv_waiting), vLLM ≥ 0.34); the waiting and preempted rows of this step"),
    num_skipped_waiting_reqs: col.count("waiting requests vLLM deferred (skipped at least once, not yet admitted) after schedule(): SchedulerStats.num_skipped_waiting_reqs; waiting_queue_length - waiting_count; 0 where vLLM counts them as waiting (0.11)"),
  }),
  // NVML samples (trace gpu records, VLLM_SCHEDULER_LOG_GPU_STATS_MS) joined to the step: the
  // latest one taken at or before end_time (step end when there is no update); empty where the
  // trace has none (no NVML: the header's not_captured says why) or the latest is stale
  ...added("1.4", {
    gpu_util_percent: col.float("NVML GPU utilisation of the joined sample (share of its last sample period with a kernel running), averaged over the sampled devices", "%"),
    gpu_memory_used_bytes: col.countOpt("GPU memory in use at the joined sample, summed over the sampled devices", "bytes"),
    gpu_sm_clock_mhz: col.float("SM clock at the joined sample, averaged over the sampled devices", "MHz"),
    gpu_power_w: col.float("power draw at the joined sample, summed over the sampled devices", "W"),
    gpu_sample_age_ns: col.nsOpt("end_time (or the step's end without an update) minus the joined sample's time"),
  }),
  // the trace's step.cpu (schema 1.5): what the host's CPU did to the engine-core thread
  // between this step's schedule() entry and the previous one's; empty where not captured
  ...added("1.5", {
    engine_cpu_ns: col.countOpt("time the scheduler (engine-core) thread ran on a CPU since the previous step's schedule() entry (Linux schedstat)", "ns"),
    engine_cpu_wait_ns: col.countOpt("time that thread was runnable but waited for a CPU over the same interval (schedstat run_delay): CPU contention that delays every step whose CPU work is on the critical path", "ns"),
    cpu_pressure_ns: col.countOpt("time over the same interval in which some task of the machine (or container) waited for a CPU (PSI cpu some); empty without PSI", "ns"),
  }),
  // the trace's update.gpu (schema 1.6): the step measured on the GPU, where the update-to-update
  // interval under async scheduling moves time between neighbouring steps; empty where not captured
  ...added("1.6", {
    gpu_step_ns: col.countOpt("the step's work on the GPU: CUDA events on the model runner's stream at execute_model() entry and once sampling is enqueued, idle time inside the step included (a launch-bound step shows it)", "ns"),
    gpu_gap_ns: col.countOpt("GPU idle time before the step: from the previous step's end event to this step's start event (about 0 while the host keeps ahead of the GPU); empty for the first timed step", "ns"),
    runner_host_ns: col.countOpt("host time inside the model runner's execute_model() and sample_tokens() calls for the step: input preparation, kernel launches and any wait on the device inside them (the CPU work async scheduling overlaps with the GPU's)", "ns"),
  }),
});

export const RequestState = ["waiting", "running", "preempted", "completed"] as const;

export const PerIterationRequestRow = z.object({
  // seed 000 §5.3, in order
  iteration_id: col.count("step"),
  request_id: col.str("request"),
  state: col.oneOf(RequestState, "after this step's schedule(): waiting (never admitted), preempted (waiting after a preemption), running, completed (finished in this step's update)"),
  queue_position: col.countOpt("requests ahead of it in the waiting queue after schedule() (0 = head); empty unless waiting or preempted, and in a summary-level trace whose queue is not ordered by the documented rule (header capabilities.queue_order_rule false: a scheduler class ordering its own queue, vLLM ≥ 0.34 cache-aware admission or in-flight KV-load cap)"),
  waiting_reason: col.oneOfOpt(WaitingReason.options as unknown as readonly [WaitingReason, ...WaitingReason[]], "why it was not admitted at this decision (docs/waiting-reasons.md)"),
  tokens_generated: col.count("output tokens delivered before this step's schedule() returned (a completed row: all of them)", "tokens"),
  kv_cache_blocks: col.countOpt("KV blocks it holds after schedule() (trace level full)", "blocks"),
  time_in_state: col.ns("time since it entered its current state, at this step's start"),
  // appended
  scheduled_tokens: col.count("tokens scheduled for it this step", "tokens"),
  running_reason: col.oneOfOpt(RunningNote.options as unknown as readonly [RunningNote, ...RunningNote[]], "for running rows: chunked_prefill, recomputation or running_unscheduled"),
  waiting_phase: col.oneOfOpt(["initial", "after_preemption", "next_turn"] as const, "for waiting rows: before the first admission, after a preemption, or a streaming-input session between turns"),
  computed_tokens: col.count("num_computed_tokens after this step's schedule()", "tokens"),
  dp_rank: col.count("data-parallel rank"),
  ...added("1.1", {
    request_instance: col.count("which lifetime of this request_id in its scheduler (0 = the first): vLLM lets a finished id be reused; join tables on (request_id, request_instance, dp_rank)"),
  }),
  ...added("1.2", {
    binding_limits: z.string().nullable().optional().meta({ unit: "", kind: "string", description: "for waiting rows: the minimal sets of limits that, made larger, would have admitted it at this decision: sets joined by '|', limits by '+' (max_num_seqs, token_budget, kv_blocks, max_loras, head_only); 'none' when none would; 'unresolved' when the offline replay admits it with nothing relaxed (docs/waiting-reasons.md)" }),
  }),
});

export const EventType = [
  "request_arrived",
  "request_admitted",
  "request_scheduled",
  "request_preempted",
  "request_evicted",
  "request_completed",
  "first_token_generated",
  "kv_cache_allocated",
  "kv_cache_freed",
  "request_resumed",
  "kv_cache_allocation_failed",
  "request_skipped",
  "request_turn_ended",
  "request_chunk_queued",
  "waiting_reordered",
  // KV connector (trace kv records, schema 1.4)
  "kv_load_started",
  "kv_load_finished",
  "kv_load_failed",
  "kv_store_started",
  "kv_store_finished",
  "kv_transfer_started",
  "kv_transfer_finished",
] as const;

export const EventRow = z.object({
  // seed 000 §5.4, in order
  timestamp: col.ns("when it happened"),
  event_type: col.oneOf(EventType, "event type (docs/tables.md)"),
  request_id: col.strOpt("request, when the event concerns one"),
  details: col.json("event-specific fields as a JSON object"),
  // appended
  timestamp_epoch_ns: col.epochNs("timestamp as absolute epoch ns"),
  iteration_id: col.countOpt("step it happened in"),
  dp_rank: col.count("data-parallel rank"),
  ...added("1.1", {
    request_instance: col.countOpt("lifetime of request_id (per_request.request_instance); empty when the event concerns no request"),
  }),
});

export const StateTransitionRow = z.object({
  request_id: col.str("request"),
  timestamp: col.ns("when it changed state"),
  from_state: col.oneOfOpt(["waiting", "running", "preempted"] as const, "previous state (empty for arrival)"),
  to_state: col.oneOf(["waiting", "running", "preempted", "completed"] as const, "new state"),
  iteration_id: col.countOpt("step of the change"),
  timestamp_epoch_ns: col.epochNs("timestamp as absolute epoch ns"),
  detail: col.strOpt("admit, resume, preempt, finish reason"),
  dp_rank: col.count("data-parallel rank"),
  ...added("1.1", {
    request_instance: col.count("lifetime of request_id (per_request.request_instance)"),
  }),
});

/**
 * One row per length prediction a policy made (trace `prediction` records), written when
 * its request finishes, so the true remaining tokens are known. Empty when nothing predicted.
 */
export const PredictionRow = z.object({
  request_id: col.str("request"),
  prediction_time: col.ns("when the emitter saw the prediction (trace record t)"),
  prediction_index: col.count("0-based number of this prediction among the request's predictions"),
  output_tokens_at_prediction: col.count("output tokens the request had when the prediction was made", "tokens"),
  predicted_remaining_tokens: col.float("predicted output tokens still to come (empty: not finite)", "tokens"),
  actual_remaining_tokens: col.countOpt("final output_tokens - output_tokens_at_prediction; empty if the request was unfinished when the trace ended", "tokens"),
  final_output_tokens: col.count("output tokens the request ended with (at trace end if unfinished)", "tokens"),
  finish_reason: col.oneOf(FINISH, "the request's finish reason, as in per_request"),
  dp_rank: col.count("data-parallel rank"),
  request_instance: col.count("lifetime of request_id (per_request.request_instance)"),
});

export type PerRequestRow = z.infer<typeof PerRequestRow>;
export type PerIterationRow = z.infer<typeof PerIterationRow>;
export type PerIterationRequestRow = z.infer<typeof PerIterationRequestRow>;
export type EventRow = z.infer<typeof EventRow>;
export type StateTransitionRow = z.infer<typeof StateTransitionRow>;
export type PredictionRow = z.infer<typeof PredictionRow>;

export const TABLES = {
  per_request: PerRequestRow,
  per_iteration: PerIterationRow,
  per_iteration_requests: PerIterationRequestRow,
  events: EventRow,
  state_transitions: StateTransitionRow,
  predictions: PredictionRow,
} as const;
export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];
export const tableColumns = (name: TableName): string[] => Object.keys(TABLES[name].shape);

const minorOf = (version: string): number => Number(version.split(".")[1] ?? 0);

/** The columns a table had at output schema `version` (same major): those appended later (`since`) left out. */
export function tableColumnsAt(name: TableName, version: string): string[] {
  const minor = minorOf(version);
  const shape = TABLES[name].shape as Record<string, z.ZodType>;
  return Object.keys(shape).filter((c) => {
    const since = (shape[c].meta() as ColumnMeta | undefined)?.since;
    return typeof since !== "string" || minorOf(since) <= minor;
  });
}
