import { columnMeta } from "../schema/columns.js";
import { EventType, OUTPUT_SCHEMA_VERSION, TABLE_NAMES, TABLES } from "../schema/tables.js";

const INTRO: Record<string, string> = {
  per_request: "One row per request (seed 000 §5.1), written when it finishes; requests still live when the trace ends come last with `finish_reason=unfinished`.",
  per_iteration: "One row per scheduler step (seed 000 §5.2): one `schedule()` call and the `update_from_output()` that answered it.",
  per_iteration_requests:
    "One row per request per step (seed 000 §5.3): every request in the running list (also those given no tokens) and in the waiting queue after `schedule()`, plus a `completed` row in the step whose update finished it. So a request that finishes in a step's update has two rows in that step: its `running` row (what `schedule()` gave it: `scheduled_tokens`, `computed_tokens`) and a `completed` row (`scheduled_tokens` 0, `kv_cache_blocks` 0, all its output tokens). Count a step's batch with `scheduled_tokens > 0` (as `validate`'s `BATCH_SIZE_MISMATCH` does), or its requests with `state != 'completed'`. A request aborted outside an update (`finish_requests()`) gets no `completed` row. Bound it on long runs with `--iteration-requests running|none` and `--iteration-requests-every N`.",
  events: "Lifecycle events (seed 000 §4), ordered by time within each rank. `details` is a JSON object.",
  state_transitions: "Every state change of every request (seed 000 §1.5): arrival → waiting → running ⇄ preempted → completed.",
};

/** events.csv `details`, per event type: a new event type cannot go undocumented */
const EVENT_DETAILS = {
  request_arrived: "`prompt_tokens`, `max_tokens`, `priority`",
  request_admitted: "`cached_tokens`: computed tokens found at admission (prefix cache, KV connector); a streaming-input session's later turn also has `turn` (1, 2, …)",
  request_scheduled: "`tokens` scheduled this step, `computed_before`: its num_computed_tokens before them",
  request_preempted: "`computed_tokens`: vLLM's num_computed_tokens when it was preempted (what the preemption threw away; less than an earlier preemption's when it is preempted again while recomputing), `preemptions` so far",
  request_evicted: "at a resume that found fewer full KV blocks in the prefix cache than the last preemption had computed: `computed_before_preemption` (that preemption's `computed_tokens`), `found_in_prefix_cache`",
  request_resumed: "`cached_tokens` found at resume, `recompute_tokens`: positions from there up to the most it ever computed before a preemption, i.e. what it will recompute unless preempted again (what it really recomputed is counted chunk by chunk: per_iteration.recompute_tokens, per_request.recomputed_tokens)",
  request_completed: "`reason` (finish reason), `from` (waiting or running), `output_tokens`",
  first_token_generated: "`ttft_ns`: first token time − arrival_time; for a streaming-input session's later turn, `turn` and `ttft_ns` from that turn's `request_chunk_queued`",
  kv_cache_allocated: "`blocks` it now holds, `delta`",
  kv_cache_freed: "`blocks` it now holds, `delta` (negative)",
  kv_cache_allocation_failed: "`phase`: running or waiting (which loop of schedule() failed to allocate)",
  request_skipped: "`cause`: why the waiting loop examined it and kept it waiting (trace level full)",
  request_turn_ended: "a streaming-input session's turn stopped and vLLM kept the session for its next chunk (trace schema 1.2): `turn` (0 = the first), `reason` (the turn's finish reason), `output_tokens` of that turn; at its update's token time",
  request_chunk_queued: "a session's next input chunk commenced, vLLM's QUEUED again (trace schema 1.2): `turn` it starts, `prompt_tokens` (vLLM's num_prompt_tokens after the extension), `max_tokens`, `computed_tokens` kept",
  waiting_reordered: "vLLM reordered the waiting queue's head inside schedule() (trace level full, vLLM ≥ 0.34): `cause` (`cache_aware_admission`: requests with a cached prefix first within cache_aware_admission_window), `before` and `after` (the window's request ids head→tail); no request_id",
  kv_load_started: "a KV connector will load `tokens` of the request's newly allocated blocks (trace schema 1.4, emitter/src/vsched_emitter/kv_connector.py); `async`: true when the request now waits in WAITING_FOR_REMOTE_KVS until `kv_load_finished` (waiting_reason `remote_kv_transfer` from the next step on), false when the load runs with its step",
  kv_load_finished: "the worker reported the asynchronous load done (finished_recving); the request can be scheduled. Like every kv_* event noted inside update_from_output(), its timestamp is not earlier than the event rows before it (the update's token time at most; the raw trace's kv record keeps the exact time)",
  kv_load_failed: "the load failed (failed_recving); vLLM recomputes what did not arrive",
  kv_store_started: "the request finished and the connector kept its blocks until it has sent them (request_finished delay_free)",
  kv_store_finished: "the connector has sent them (finished_sending); vLLM frees the blocks",
  kv_transfer_started: "a transfer job of a connector with a job table (vLLM's OffloadingConnector): `job`, `direction` (load into the GPU cache, store out of it), `blocks` (offload keys)",
  kv_transfer_finished: "that job completed on every worker: `job`, `direction`",
} as const satisfies Record<(typeof EventType)[number], string>;

const CLOCK =
  "Clocks. The emitter stamps every record with the scheduler process's monotonic clock, as integer ns relative to the trace header's anchor; vLLM's own float stamps (its `EngineCoreEvent` and `EngineCoreOutputs` timestamps, `time.monotonic()` seconds) map to the same scale as `rel_ns = round(t_monotonic·1e9) − header.clock.monotonic_ns`, which is how the oracle tests compare vsched's intervals with vLLM's to the nanosecond. `*_epoch_ns` = `header.clock.epoch_ns` + rel_ns (the anchor's wall-clock time, read together with the monotonic one). With several traces, every relative time is shifted so t=0 is the earliest anchor. vLLM's `Request.arrival_time` is the frontend's wall clock (`vllm_arrival_time_epoch_ns`); when it is not epoch time at all (offline callers may pass their own, vLLM's tests pass 1.0) the columns derived from it are empty and `convert` warns `ENGINE_VLLM_ARRIVAL_NOT_EPOCH`.";

/** docs/tables.md, generated from the zod declarations (test/tables-doc.test.ts keeps it current). */
export function tablesMarkdown(): string {
  const out: string[] = [
    "<!-- generated from src/schema/tables.ts by `npm run docs:tables`; do not edit -->",
    `# Output tables (schema ${OUTPUT_SCHEMA_VERSION})`,
    "",
    "Times are integer nanoseconds. `*_time` columns and `timestamp` are relative to t=0, the moment the (earliest) scheduler was constructed; `*_epoch_ns` columns are the same instants as absolute Unix epoch nanoseconds (they exceed 2^53: read them as strings or int64, never as float). Empty field = not applicable or unknown. Floats have 6 decimals. Column order is fixed; new columns are only ever appended.",
    "",
    "`scheduler_action` joins with `+`, in this order, what the step did: `admit_new` (first admissions), `resume` (re-admissions after preemption), `preempt`, `continue` (already-running requests got tokens), `finish` (requests finished in its update); `idle` when none.",
    "",
    CLOCK,
    "",
    "Request lifetimes. vLLM lets a request id be used again once its request has finished (its own tests do; so does a client sending `X-Request-Id`). Each lifetime is its own request: its own per_request row, and `request_instance` (0 for the first lifetime, 1 for the next, …) in every table that has `request_id`. Join tables on (`request_id`, `request_instance`, `dp_rank`). A second arrival while the first lifetime is live is a contradiction (`ENGINE_DUPLICATE_ARRIVAL` when the trace shows it, `REQUEST_LIFETIMES_OVERLAP` in a logs directory).",
    "",
    "The emitter's own cost in these intervals. The emitter runs on the scheduler thread around vLLM's calls (emitter/README.md). `start_time` is read as the emitter's schedule() wrapper begins and the step's end as vLLM's schedule() returns, so `scheduling_overhead` includes the emitter's set-up before vLLM's code runs (patching the queue and KV manager for the step; scanning predictions where a policy predicts) and, at level full, its thin wrappers around `pop_request` and (when KV may run out) `allocate_slots` inside schedule(); it excludes the record the emitter builds afterwards. `forward_duration` (schedule() return to update_from_output() entry) includes that record building and any time the writer thread held the GIL. `update_duration` is vLLM's update alone (the emitter's work follows its return). vLLM's own stamps (QUEUED/SCHEDULED/PREEMPTED events, `EngineCoreOutputs.timestamp`) are vLLM's: the emitter adds to them only what its in-schedule wrappers cost before vLLM takes them; vLLM computes no schedule-duration figure of its own. `bench/emitter_overhead.py` measures all of it.",
    "",
    "Waiting counts. `per_iteration.waiting_count` is what vLLM's `SchedulerStats.num_waiting_reqs` says after `schedule()` (and `waiting_count_after_update` after the update): vLLM ≥ 0.33 leaves out the requests it deferred (skipped at least once and not yet admitted), counted in `num_skipped_waiting_reqs`. The queue itself, `len(waiting)` (+ `len(kv_holding_waiting)`; + `len(async_kv_waiting)` on vLLM ≥ 0.34), is `waiting_queue_length` = `waiting_count + num_skipped_waiting_reqs`, the step's waiting and preempted per_iteration_requests rows (each with its `queue_position`, except in a summary-level trace of a queue the documented rule does not order: header `capabilities.queue_order_rule` false). On vLLM 0.11 nothing is deferred and the two counts are equal.",
    "",
  ];
  for (const name of TABLE_NAMES) {
    out.push(`## ${name}.csv`, "", INTRO[name], "", "| # | column | unit | meaning |", "|---|---|---|---|");
    Object.entries(TABLES[name].shape).forEach(([col, schema], i) => {
      const m = columnMeta(schema as never);
      out.push(`| ${i + 1} | \`${col}\` | ${m.unit || "—"} | ${m.description.replace(/\|/g, "\\|")} |`);
    });
    out.push("");
    if (name === "events") {
      out.push("`details` by `event_type`:", "", "| event_type | details |", "|---|---|");
      for (const [type, d] of Object.entries(EVENT_DETAILS)) out.push(`| \`${type}\` | ${d} |`);
      out.push("");
    }
  }
  return out.join("\n");
}
