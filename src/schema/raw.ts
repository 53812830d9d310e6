import { z } from "zod";
import { AbsNs, RelNs } from "./time.js";

/**
 * The raw trace contract between the Python emitter (emitter/) and the CLI.
 * This file is the only definition: schema/raw-trace.schema.json is generated
 * from it and the emitter's tests validate every record against that file.
 *
 * Versioning: MAJOR changes break readers (vsched refuses them); MINOR changes only
 * add optional fields or record types (older vsched skips unknown types and counts them).
 */
export const TRACE_SCHEMA_VERSION = "1.7"; // 1.1: prediction records; 1.2: streaming-input sessions (chunk records, update.turn_ends); 1.3: interned request ids, delta lists; 1.4: gpu records (NVML samples), header.gpu_stats, kv records (KV-connector loads and stores); 1.5: step.cpu and header.host_cpu (the scheduler thread's CPU time and run-queue wait, CPU pressure); 1.6: update.gpu and capabilities.gpu_time (each step's GPU time from CUDA events); 1.7: header.gpu_stats.devices[].uuid and header.host_cpu.model (which GPU and host CPU the run had)
export const TRACE_SCHEMA_MAJOR = 1;
/** the first minor whose records may refer to requests by handle and write deltas (see "Interned form" below) */
export const INTERNED_SINCE_MINOR = 3;

/**
 * Request ids come from clients (vLLM takes X-Request-Id or the body's request_id), so
 * the contract bounds them: 1 MiB is far beyond any real id and keeps every row a reader
 * or writer holds bounded.
 */
export const MAX_REQUEST_ID_CHARS = 1 << 20;
const ReqId = z.string().min(1).max(MAX_REQUEST_ID_CHARS).meta({ description: "vLLM's request_id as the scheduler sees it (internal id); 1 to 1,048,576 characters" });
const Count = z.number().int().nonnegative();

/** vLLM RequestStatus FINISHED_* names, lower-cased without the prefix; `length` = LENGTH_CAPPED. */
export const FinishReason = z.enum(["stop", "length", "abort", "error", "ignored", "repetition"]);
export type FinishReason = z.infer<typeof FinishReason>;

/** Why the waiting loop of schedule() stopped (or did not run). */
export const StopCause = z.enum([
  "empty", // waiting queue examined to the end (everything left was skipped)
  "max_num_seqs", // len(running) reached max_num_seqs
  "token_budget", // max_num_batched_tokens exhausted
  "kv_full", // allocate_slots returned None for `req` (head-of-line)
  "prompt_exceeds_budget", // chunked prefill off and `req` needs more tokens than the budget left
  "encoder_budget", // encoder compute budget or cache exhausted at `req`
  "preemption", // a running request was preempted this step, so vLLM skipped the waiting loop
  "paused", // scheduler paused (PAUSED_NEW / PAUSED_ALL)
  "other", // stopped at `req` for a reason this emitter could not classify
  "kv_load_cap", // vLLM ≥ 0.34: `req` would start an async KV load past --max-num-inflight-kv-loads
]);
export type StopCause = z.infer<typeof StopCause>;

/** Why a waiting request was examined but skipped (kept in the queue) this step. */
export const SkipCause = z.enum([
  "grammar_compiling", // WAITING_FOR_FSM: structured-output grammar not compiled yet
  "remote_kv_transfer", // WAITING_FOR_REMOTE_KVS: KV still arriving from a remote instance
  "streaming_input", // WAITING_FOR_STREAMING_REQ: next input chunk not arrived
  "lora_slots", // max_loras adapters already in the batch, and not this one
  "kv_connector_pending", // KV connector could not yet say how many tokens match
  "prompt_exceeds_budget", // chunked prefill off, prompt larger than the budget left (v0.11 skips)
  "encoder_budget", // encoder budget or cache gave it zero tokens
  "other", // skipped for a reason this emitter could not classify
  "kv_load_cap", // vLLM ≥ 0.34: in async_kv_waiting while --max-num-inflight-kv-loads loads are in flight: its load cannot start
]);

/** Why vLLM reordered the waiting queue's head inside schedule() (not a departure from FCFS). */
export const ReorderCause = z.enum([
  "cache_aware_admission", // vLLM ≥ 0.34 cache_aware_admission_window: cached prefixes first within the window
]);
export type ReorderCause = z.infer<typeof ReorderCause>;
export type SkipCause = z.infer<typeof SkipCause>;

const OptCount = Count.nullable();
/** The engine behind the scheduler: the step-time model's inputs (docs/fit.md). */
export const EngineInfo = z.object({
  model: z.object({
    hidden_size: OptCount,
    num_hidden_layers: OptCount,
    num_attention_heads: OptCount,
    num_key_value_heads: OptCount,
    intermediate_size: OptCount,
    vocab_size: OptCount,
    head_dim: OptCount,
    architecture: z.string().nullable(),
  }),
  dtype: z.string().nullable(),
  kv_cache_dtype: z.string().nullable(),
  enforce_eager: z.boolean(),
  tensor_parallel_size: OptCount,
  pipeline_parallel_size: OptCount,
  data_parallel_size: OptCount,
  attention_backend: z.string().meta({ description: "the configured backend, `auto` when vLLM picks it" }),
  device: z.string().nullable().meta({ description: "the CUDA device's name where CUDA was already up in the scheduler's process" }),
  compilation_mode: OptCount.meta({ description: "vLLM's CompilationMode (0 none, 3 VLLM_COMPILE)" }),
  cudagraph_mode: z.string().nullable(),
  cudagraph_capture_sizes: z.array(Count).meta({ description: "batch sizes (tokens) with a captured CUDA graph, ascending: a decode batch runs padded to the next one" }),
});
export type EngineInfo = z.infer<typeof EngineInfo>;

export const HeaderRecord = z.object({
  type: z.literal("header"),
  schema_version: z.string().regex(/^\d+\.\d+$/),
  emitter_version: z.string(),
  vllm_version: z.string(),
  pid: Count,
  dp_rank: Count,
  level: z.enum(["full", "summary"]).meta({ description: "full: everything the five CSVs need; summary: no waiting-queue order, skip/stop causes or per-request block counts" }),
  clock: z.object({
    epoch_ns: AbsNs.meta({ description: "time.time_ns() sampled back to back with monotonic_ns" }),
    monotonic_ns: AbsNs.meta({ description: "time.monotonic_ns() at the anchor; every t in the trace is relative to it" }),
  }),
  config: z.object({
    scheduler_class: z.string(),
    policy: z.string().meta({ description: "fcfs, priority, or a fork's own policy name" }),
    max_num_seqs: Count,
    max_num_batched_tokens: Count,
    max_model_len: Count,
    max_loras: Count.nullable(),
    num_gpu_blocks: Count.meta({ description: "KV blocks in the pool, including vLLM's reserved null block" }),
    block_size: Count.meta({ description: "tokens per KV block" }),
    bytes_per_block: Count.nullable().meta({ description: "KV bytes one block occupies on one rank, across layers" }),
    enable_chunked_prefill: z.boolean(),
    enable_prefix_caching: z.boolean(),
    async_scheduling: z.boolean(),
    long_prefill_token_threshold: Count,
    num_spec_tokens: Count,
    log_stats: z.boolean().meta({ description: "vLLM's own request events exist only when true" }),
  }),
  capabilities: z.record(z.string(), z.boolean()).meta({ description: "what this vLLM version let the emitter capture" }),
  not_captured: z.array(z.object({ what: z.string(), why: z.string() })),
  engine: EngineInfo.optional().meta({ description: "what decides a step's time on the device; absent where no real model runner executes the steps (the CPU harness) or on emitters before 0.2" }),
  gpu_stats: z
    .object({
      interval_ns: Count.meta({ description: "how often the emitter's sampler thread reads NVML (VLLM_SCHEDULER_LOG_GPU_STATS_MS)" }),
      devices: z.array(
        z.object({
          index: Count.meta({ description: "NVML device index" }),
          name: z.string().nullable(),
          memory_total_bytes: Count.nullable(),
          uuid: z.string().nullable().optional().meta({ description: "schema 1.7: the device's NVML UUID (GPU-…), which tells two runs on one GPU from runs on two; null where NVML cannot give it, absent before 1.7" }),
        }),
      ),
    })
    .optional()
    .meta({ description: "schema 1.4: present when the emitter samples NVML (gpu records follow); absent otherwise, and not_captured says why" }),
  host_cpu: z
    .object({
      schedstat: z.boolean().meta({ description: "the scheduler thread's /proc/thread-self/schedstat is read at every schedule() entry (step.cpu)" }),
      pressure: z.boolean().meta({ description: "/proc/pressure/cpu (PSI) is read too: step.cpu's third value; false where the kernel has no PSI" }),
      cpus: Count.nullable().meta({ description: "cores the engine-core process may run on (its CPU affinity)" }),
      model: z.string().nullable().optional().meta({ description: "schema 1.7: the host CPU's model (/proc/cpuinfo's first model name); null where the platform has none, absent before 1.7" }),
    })
    .optional()
    .meta({ description: "schema 1.5: present when steps carry cpu (VLLM_SCHEDULER_LOG_CPU_STATS, Linux); absent otherwise, and not_captured says why" }),
});

export const ArrivalRecord = z.object({
  type: z.literal("arrival"),
  t: RelNs.meta({ description: "when add_request() enqueued it: vLLM's QUEUED event time when log_stats, else the emitter's clock" }),
  req: ReqId,
  vllm_arrival_epoch_ns: AbsNs.nullable().meta({ description: "vLLM's Request.arrival_time (frontend wall clock), in epoch ns" }),
  prompt_tokens: Count,
  max_tokens: Count.nullable(),
  priority: z.number().int(),
  lora: z.number().int().nullable(),
  status: z.string().meta({ description: "RequestStatus name at enqueue (WAITING, WAITING_FOR_FSM, …)" }),
  score: z.number().nullable().optional().meta({ description: "a custom policy's priority_score, if the request carries one" }),
  predicted_remaining: z.number().nullable().optional().meta({ description: "a custom policy's predicted_remaining_tokens, if any" }),
});

/** vLLM lists a request in a step or an update only when it gets at least one token */
const Positive = z.number().int().min(1);
/** [request_id, tokens scheduled this step, num_computed_tokens before this step] */
const Scheduled = z.tuple([ReqId, Positive, Count]);
/** [request_id, tokens already computed at admission (prefix cache + connector hits)] */
const Admitted = z.tuple([ReqId, Count]);
const ReqCount = z.tuple([ReqId, Count]);

export const StepRecord = z.object({
  type: z.literal("step"),
  step: Count.meta({ description: "0-based count of schedule() calls that produced this SchedulerOutput" }),
  t_start: RelNs,
  t_end: RelNs,
  sched_t: RelNs.nullable().meta({ description: "vLLM's scheduled_timestamp for this step (used in its SCHEDULED/PREEMPTED events), when observable" }),
  sched: z.array(Scheduled).meta({ description: "every request given tokens this step, in SchedulerOutput order" }),
  new: z.array(Admitted).meta({ description: "admitted from waiting for the first time" }),
  resumed: z.array(Admitted).meta({ description: "re-admitted after a preemption" }),
  preempted: z.array(ReqId).meta({ description: "preempted during this schedule(), in preemption order" }),
  kv_fail: z.array(z.tuple([ReqId, z.enum(["running", "waiting"])])).meta({ description: "allocate_slots() calls that returned None, in call order" }),
  free_blocks: Count.meta({ description: "block_pool free blocks after schedule() (includes evictable prefix-cache blocks)" }),
  running: Count,
  waiting: Count,
  budget_left: z.number().int(),
  paused: z.string().nullable().optional(),
  // full level only
  stop: z.object({ cause: StopCause, req: ReqId.nullable() }).nullable().optional(),
  skipped: z.array(z.tuple([ReqId, SkipCause])).optional(),
  blocks: z.array(ReqCount).optional().meta({ description: "requests whose KV block count changed in schedule(): [id, blocks now]" }),
  order: z.array(ReqId).nullable().optional().meta({ description: "the waiting queue head→tail after schedule(), written only when it differs from the documented expectation (FCFS: docs/tables.md; priority: the sort by priority, arrival_time, id, KV-holding queue first, which vLLM's heap departs from only after a session's chunk changed a queued arrival_time)" }),
  probe: z
    .array(z.tuple([ReqId, Count, Count]))
    .optional()
    .meta({ description: "VLLM_SCHEDULER_LOG_WAITING_PROBE=N, level full, prefix caching on: for the first N waiting requests with nothing computed, [id, prefix-cache hit tokens it would get, of the hit blocks those now free (evictable)]" }),
  reorder: z
    .object({ cause: ReorderCause, before: z.array(ReqId), after: z.array(ReqId) })
    .optional()
    .meta({ description: "level full: vLLM reordered the head of the waiting queue before admitting (before/after: the window's ids head→tail); absent when it kept its order" }),
  cpu: z
    .tuple([Count, Count, Count.nullable()])
    .nullable()
    .optional()
    .meta({ description: "schema 1.5 (header.host_cpu): since the previous step's schedule() entry (the first step: since the emitter attached), [ns the scheduler thread ran on a CPU, ns it was runnable but waited for one (Linux schedstat run_delay), ns in which some task of the machine or cgroup waited for a CPU (PSI cpu some; null without PSI)]; null when the scheduler moved to another thread, absent when not captured" }),
});

export const UpdateRecord = z.object({
  type: z.literal("update"),
  step: Count.meta({ description: "the step whose SchedulerOutput this model output answers (async scheduling interleaves)" }),
  t_start: RelNs,
  t_end: RelNs,
  out_t: RelNs.nullable().meta({ description: "vLLM's EngineCoreOutputs.timestamp (its token time), when observable" }),
  tokens: z.array(z.tuple([ReqId, Positive])).meta({ description: "requests that received output tokens: [id, tokens ≥ 1]" }),
  finished: z.array(z.tuple([ReqId, FinishReason, Count])).meta({ description: "requests that finished in this update: [id, reason, output tokens]" }),
  free_blocks: Count,
  running: Count.meta({ description: "len(running) after the update: what SchedulerStats reports" }),
  waiting: Count,
  blocks: z.array(ReqCount).optional(),
  turn_ends: z
    .array(z.tuple([ReqId, FinishReason]))
    .optional()
    .meta({ description: "schema 1.2: streaming-input sessions whose turn stopped in this update and that vLLM kept for their next input chunk: [id, the turn's finish reason]; absent when none" }),
  gpu: z
    .tuple([Count.nullable(), Count.nullable(), Count])
    .nullable()
    .optional()
    .meta({ description: "schema 1.6 (capabilities.gpu_time): the step's work on the GPU, from two CUDA events on the model runner's stream (execute_model() entry, sampling enqueued): [ns from the first to the last of it, idle time inside included; ns the stream sat idle since the previous step's end (null for the first timed step or after one without a figure); ns of host time inside the runner's execute_model() and sample_tokens() calls for the step]; the first two null when the step's end event had not completed (never waited on), the whole null when the step ran no model, absent when not captured. A trace written by vsched simulate's harness on a GPU-clock model with a host loop carries the replay's own device timeline here instead, its launch (schedule() entry to launch end) as the host time" }),
});

/**
 * A streaming-input session's next input chunk commenced (schema 1.2): vLLM's
 * `_update_request_as_session` extended the prompt, set the new arrival_time and recorded
 * QUEUED again. Called from add_request() (the session was waiting for it) or from
 * update_from_output() (the chunk had arrived while the turn ran), so it may come before the
 * update record whose `turn_ends` names the turn it follows.
 */
export const ChunkRecord = z.object({
  type: z.literal("chunk"),
  t: RelNs.meta({ description: "when the emitter saw it: queued_t from add_request(); inside update_from_output() that update's t_start, so record times never go back" }),
  queued_t: RelNs.meta({ description: "vLLM's QUEUED event time of this chunk when log_stats, else the emitter's clock at the hook" }),
  req: ReqId,
  vllm_arrival_epoch_ns: AbsNs.nullable().meta({ description: "the chunk's Request.arrival_time (frontend wall clock), in epoch ns" }),
  prompt_tokens: Count.meta({ description: "num_prompt_tokens after the extension: every chunk so far plus the earlier turns' output tokens but the last of each" }),
  max_tokens: Count.nullable().meta({ description: "the new turn's max_tokens" }),
  computed: Count.meta({ description: "num_computed_tokens when the chunk commenced (KV the session kept)" }),
});

export const FinishRecord = z.object({
  type: z.literal("finish"),
  t: RelNs,
  req: ReqId,
  reason: FinishReason,
  output_tokens: Count,
  from: z.enum(["waiting", "running"]),
});

export const ScoreRecord = z.object({
  type: z.literal("score"),
  t: RelNs,
  req: ReqId,
  score: z.number().nullable(),
  predicted_remaining: z.number().nullable(),
});

/**
 * A length prediction a policy made (schema 1.1): one per entry of a request's
 * `prediction_history` (seed 003's ISRTF fork keeps (output tokens, predicted remaining)
 * pairs there), recorded by the emitter's feature detection; absent when nothing predicts.
 */
export const PredictionRecord = z.object({
  type: z.literal("prediction"),
  t: RelNs.meta({ description: "when the emitter first saw the prediction: the scheduler hook after it (add_request; schedule() entry, stamped with the step's t_start; after schedule() or update_from_output(); a request freed inside an update gets that update's t_start), so record times never go back" }),
  req: ReqId,
  output_tokens: Count.meta({ description: "output tokens the request had when the prediction was made" }),
  predicted_remaining: z.number().nullable().meta({ description: "predicted output tokens still to come (null: not finite)" }),
});

/** [NVML device index, GPU utilisation %, memory used bytes, SM clock MHz, power mW]; null: the device cannot report it */
const GpuDeviceSample = z.tuple([
  Count,
  z.number().int().min(0).max(100).nullable(),
  Count.nullable(),
  Count.nullable(),
  Count.nullable(),
]);

/**
 * One NVML sample (schema 1.4), read by the emitter's sampler thread every header.gpu_stats
 * interval, off the scheduler thread. The CLI joins samples to steps by time (per_iteration
 * gpu_* columns). Utilisation is NVML's: the share of its last sample period (1/6 s to 1 s,
 * by device) in which a kernel ran.
 */
export const GpuRecord = z.object({
  type: z.literal("gpu"),
  t: RelNs.meta({ description: "when the reads finished, on the trace's clock" }),
  devices: z.array(GpuDeviceSample).meta({ description: "per sampled device: [NVML index, GPU utilisation %, memory used bytes, SM clock MHz, power mW]" }),
});

/**
 * A KV-connector load or store the emitter saw (schema 1.4), where vLLM runs a connector
 * (emitter/src/vsched_emitter/kv_connector.py). Request-level events come through vLLM's
 * connector API (any connector); transfer_start/transfer_end are the jobs of a connector that
 * keeps a job table (vLLM's OffloadingConnector). Written after the step or update record of
 * the call that saw it, stamped when seen.
 */
export const KvEvent = z.enum([
  "load_start", // update_state_after_alloc with external tokens: the connector fills `tokens` of its new blocks
  "load_end", // the worker reported it in finished_recving (an async load is done)
  "load_failed", // failed_recving: vLLM recomputes what did not arrive
  "store_start", // request_finished kept the finished request's blocks until the connector has sent them
  "store_end", // finished_sending: those blocks are freed
  "transfer_start", // a transfer job created by build_connector_meta (job, direction, blocks)
  "transfer_end", // that job completed on every worker
]);
export type KvEvent = z.infer<typeof KvEvent>;

export const KvRecord = z.object({
  type: z.literal("kv"),
  t: RelNs,
  req: ReqId,
  event: KvEvent,
  tokens: Count.nullable().meta({ description: "load_start: tokens the connector loads" }),
  async: z.boolean().nullable().meta({ description: "load_start: true when the request waits in WAITING_FOR_REMOTE_KVS until load_end, false when the load runs with its step" }),
  job: Count.nullable().meta({ description: "transfer_*: the connector's job id" }),
  direction: z.enum(["load", "store"]).nullable().meta({ description: "transfer_*: load (into the GPU cache) or store (out of it)" }),
  blocks: Count.nullable().meta({ description: "transfer_start: offload blocks (keys) the job moves" }),
});

export const DroppedRecord = z.object({
  type: z.literal("dropped"),
  t: RelNs,
  count: Count.meta({ description: "records dropped because the emitter's buffer cap was reached" }),
});

export const EmitterErrorRecord = z.object({
  type: z.literal("emitter_error"),
  t: RelNs,
  where: z.string(),
  error: z.string(),
});

export const EndRecord = z.object({
  type: z.literal("end"),
  t: RelNs,
  steps: Count,
  records: Count,
  dropped: Count,
});

/**
 * Interned form (schema 1.3). The record types above are what every reader hands on (the
 * "resolved" records: request ids as strings, full lists). A 1.3 trace writes them smaller:
 *
 * - Handles: an arrival record carries `h`, a small integer now bound to its `req`; every
 *   later record may write that integer wherever a request id belongs. The record that
 *   finishes the request (a `finish` record, or its entry in an update's `finished`) frees
 *   the handle after that record, and a later arrival may bind it again. A request with no
 *   live handle (one finished already, or never seen arriving) is written by its id, so a
 *   reference is either a handle or the id itself. A handle that is not bound is an error
 *   (RAW_UNKNOWN_HANDLE); binding a bound handle again replaces it (its finish was lost).
 * - Deltas: an update's `tokens` and a step's `sched` are a full list or a delta against
 *   the same list of the previous record of that type: `drop` the entries at these
 *   positions of the previous list (ascending), keep the rest in order, each kept entry
 *   predicted to repeat (tokens: the same count; sched: the same count, computed advanced
 *   by it), insert `add` entries at these positions of the new list (ascending), then
 *   overwrite the counts of the entries at `fix` positions; `n` is the new list's length.
 *   A delta with no previous list, or that does not fit it, is RAW_BAD_DELTA.
 */
export const MAX_HANDLE = 2 ** 31 - 1;
const Handle = z
  .number()
  .int()
  .min(0)
  .max(MAX_HANDLE)
  .meta({ description: "a request handle (schema 1.3): the integer an arrival record bound to its id, until the record that finishes the request" });
const ReqRef = z.union([Handle, ReqId]).meta({ description: "a request: its handle, or its id when it has no live handle" });
const Pos = Count.meta({ description: "0-based position in a list" });

function listDelta<E extends [z.ZodType, ...z.ZodType[]], F extends [z.ZodType, ...z.ZodType[]]>(entry: E, counts: F, what: string) {
  return z
    .object({
      n: Count.meta({ description: "length of the list this delta makes" }),
      drop: z.array(Pos).optional().meta({ description: "positions in the previous list of entries gone from this one, ascending" }),
      add: z.array(z.tuple([Pos, ...entry])).optional().meta({ description: "[position in this list, ...entry]: entries not carried over, ascending" }),
      fix: z.array(z.tuple([Pos, ...counts])).optional().meta({ description: "[position in this list, ...counts]: carried-over entries whose counts differ from the prediction" }),
    })
    .meta({ description: `the ${what} as a delta against the previous record's (schema 1.3)` });
}

const SchedRef = z.tuple([ReqRef, Positive, Count]);
const ReqRefCount = z.tuple([ReqRef, Count]);
const SchedList = z.union([z.array(SchedRef), listDelta([ReqRef, Positive, Count], [Positive, Count], "scheduled list")]);
const TokensList = z.union([z.array(z.tuple([ReqRef, Positive])), listDelta([ReqRef, Positive], [Positive], "token list")]);

export const InternedArrivalRecord = ArrivalRecord.extend({
  h: Handle.optional().meta({ description: "schema 1.3: the handle later records use for this request" }),
});
export const InternedStepRecord = StepRecord.extend({
  sched: SchedList,
  new: z.array(ReqRefCount),
  resumed: z.array(ReqRefCount),
  preempted: z.array(ReqRef),
  kv_fail: z.array(z.tuple([ReqRef, z.enum(["running", "waiting"])])),
  stop: z.object({ cause: StopCause, req: ReqRef.nullable() }).nullable().optional(),
  skipped: z.array(z.tuple([ReqRef, SkipCause])).optional(),
  blocks: z.array(ReqRefCount).optional(),
  order: z.array(ReqRef).nullable().optional(),
  probe: z.array(z.tuple([ReqRef, Count, Count])).optional(),
  reorder: z.object({ cause: ReorderCause, before: z.array(ReqRef), after: z.array(ReqRef) }).optional(),
});
export const InternedUpdateRecord = UpdateRecord.extend({
  tokens: TokensList,
  finished: z.array(z.tuple([ReqRef, FinishReason, Count])),
  blocks: z.array(ReqRefCount).optional(),
  turn_ends: z.array(z.tuple([ReqRef, FinishReason])).optional(),
});
export const InternedChunkRecord = ChunkRecord.extend({ req: ReqRef });
export const InternedFinishRecord = FinishRecord.extend({ req: ReqRef });
export const InternedScoreRecord = ScoreRecord.extend({ req: ReqRef });
export const InternedPredictionRecord = PredictionRecord.extend({ req: ReqRef });

export const RawRecord = z.discriminatedUnion("type", [
  HeaderRecord,
  ArrivalRecord,
  StepRecord,
  UpdateRecord,
  FinishRecord,
  ScoreRecord,
  DroppedRecord,
  EmitterErrorRecord,
  EndRecord,
  PredictionRecord,
  ChunkRecord,
  GpuRecord,
  KvRecord,
]);

/**
 * What a trace line may hold, any 1.x minor: the interned forms accept the resolved ones
 * too. schema/raw-trace.schema.json is generated from this union.
 */
export const WireRecord = z.discriminatedUnion("type", [
  HeaderRecord,
  InternedArrivalRecord,
  InternedStepRecord,
  InternedUpdateRecord,
  InternedFinishRecord,
  InternedScoreRecord,
  DroppedRecord,
  EmitterErrorRecord,
  EndRecord,
  InternedPredictionRecord,
  InternedChunkRecord,
  GpuRecord,
  KvRecord,
]);

export type HeaderRecord = z.infer<typeof HeaderRecord>;
export type ArrivalRecord = z.infer<typeof ArrivalRecord>;
export type StepRecord = z.infer<typeof StepRecord>;
export type UpdateRecord = z.infer<typeof UpdateRecord>;
export type FinishRecord = z.infer<typeof FinishRecord>;
export type ScoreRecord = z.infer<typeof ScoreRecord>;
export type PredictionRecord = z.infer<typeof PredictionRecord>;
export type ChunkRecord = z.infer<typeof ChunkRecord>;
export type GpuRecord = z.infer<typeof GpuRecord>;
export type KvRecord = z.infer<typeof KvRecord>;
export type RawRecord = z.infer<typeof RawRecord>;
export type RawRecordType = RawRecord["type"];
export type WireRecord = z.infer<typeof WireRecord>;
export type InternedStepRecord = z.infer<typeof InternedStepRecord>;
export type InternedUpdateRecord = z.infer<typeof InternedUpdateRecord>;

/** every record type, derived from the union so a new one cannot be missed */
export const RAW_RECORD_TYPES = RawRecord.options.map((o) => o.shape.type.value) as RawRecordType[];
