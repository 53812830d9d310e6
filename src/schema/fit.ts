import { z } from "zod";
import { col } from "./columns.js";

/**
 * Training tables of `vsched fit --export DIR` (seed 004 §5): the target first, then the
 * seed's features in its order, then the run's configuration, then appended columns.
 * Key order is the CSV column order, as for the output tables. docs/fit.md defines every
 * target and feature.
 */
export const FIT_SCHEMA_VERSION = "1.5"; // 1.5: beta gpu_work_ns; 1.4: excluded no_gpu_time (fit --clock gpu); 1.1: GPU features, next-step features, CV blocks; 1.2: alpha dp_rank; 1.3: beta gpu_step_ns, gpu_gap_ns, runner_host_ns

const configCols = {
  max_num_seqs: col.count("scheduler config: max_num_seqs"),
  max_num_batched_tokens: col.count("scheduler config: max_num_batched_tokens", "tokens"),
  num_gpu_blocks: col.count("KV blocks in the pool, including the null block", "blocks"),
  block_size: col.count("tokens per KV block", "tokens"),
  enable_chunked_prefill: col.count("1 when chunked prefill is on", "bool"),
  async_scheduling: col.count("1 when async scheduling is on", "bool"),
  vllm_version: col.str("vLLM version that recorded the trace"),
};

export const ExclusionReason = ["warmup", "idle", "incomplete", "no_gpu_time"] as const;
export type ExclusionReason = (typeof ExclusionReason)[number];
export const SplitName = ["train", "test"] as const;

export const BetaTrainingRow = z.object({
  step_time_ns: col.nsOpt("model time of the step: update_from_output() entry minus max(schedule() return, previous update_from_output() entry) (docs/fit.md)"),
  prefill_reqs: col.count("scheduled requests with prompt (or recompute) positions"),
  decode_reqs: col.count("scheduled requests only decoding"),
  prefill_tokens: col.count("scheduled prompt/recompute tokens", "tokens"),
  decode_tokens: col.count("scheduled decode tokens", "tokens"),
  scheduled_tokens: col.count("prefill_tokens + decode_tokens", "tokens"),
  running_depth: col.count("len(running) after schedule()"),
  kv_ratio: col.float("KV blocks in use right after schedule() / usable blocks", "fraction"),
  context_tokens: col.count("sum of num_computed_tokens after schedule() over the scheduled requests: the KV the batch attends over", "tokens"),
  ...configCols,
  // appended
  batch_size: col.count("requests given tokens this step"),
  decode_context_tokens: col.count("context_tokens of the decode-only requests (the memory-bound part)", "tokens"),
  attention_work: col.count("sum over scheduled requests of scheduled tokens x computed tokens (attention score pairs, upper bound)", "token pairs"),
  iteration_id: col.count("step"),
  dp_rank: col.count("data-parallel rank"),
  start_time: col.ns("schedule() entered"),
  forward_duration: col.nsOpt("the table's forward_duration (overlaps the next step under async scheduling)"),
  excluded: col.oneOfOpt(ExclusionReason, "why the fit leaves the step out (empty: kept): warmup, idle (no tokens), incomplete (no update or no positive step time), no_gpu_time (fitted to the GPU's time and the step has none)"),
  split: col.oneOfOpt(SplitName, "train or test (the chronological hold-out) for kept steps"),
  // appended (fit 1.1): what decides a step's time on a GPU (docs/fit.md, "GPU features")
  padded_tokens: col.count("scheduled_tokens padded up to the next CUDA-graph capture size when at most the largest (the batch the GPU runs); scheduled_tokens without graphs", "tokens"),
  has_prefill: col.count("1 when any scheduled request has prompt or recompute positions (no full CUDA graph)", "bool"),
  prefill_attention_work: col.count("sum over the prefill chunks of the attention score pairs: n x (computed − n) + n(n+1)/2 for a chunk of n tokens", "token pairs"),
  next_has_prefill: col.count("has_prefill of the step scheduled before this step's update (async scheduling: its launch overlaps this step); 0 when none", "bool"),
  next_padded_tokens: col.count("padded_tokens of that next step; 0 when none", "tokens"),
  next_decode_context_tokens: col.count("decode_context_tokens of that next step; 0 when none", "tokens"),
  next_prefill_attention_work: col.count("prefill_attention_work of that next step; 0 when none", "token pairs"),
  block: col.countOpt("blocked cross-validation fold of a kept step (contiguous in time, 0-based)"),
  // appended (fit 1.2): the host's CPU, which async scheduling does not hide when a step runs without a CUDA graph (docs/fit.md, "Host CPU")
  no_cudagraph: col.count("1 when the step runs without a CUDA graph: more scheduled tokens than the largest capture size, or no graphs at all (its launch is CPU-bound)", "bool"),
  next_no_cudagraph: col.count("no_cudagraph of the step scheduled before this step's update; 0 when none", "bool"),
  schedule_ns: col.ns("schedule() duration (the table's scheduling_overhead): the host CPU's speed shows in it"),
  cpu_index: col.float("the run's host CPU index: median over its kept steps of schedule_ns / the pooled reference line (intercept + per request); 1 = the pooled training runs' typical host", "ratio"),
  // appended (fit 1.3): CPU contention the emitter measured (trace schema 1.5, docs/fit.md "CPU contention")
  cpu_wait_ns: col.countOpt("time the engine-core thread was runnable but waited for a CPU over this step's span (from its schedule() entry to the next one's: per_iteration.engine_cpu_wait_ns of the next step); empty where the trace has no step.cpu", "ns"),
  // appended (fit 1.3): the step measured on the GPU (trace schema 1.6, docs/fit.md "GPU time")
  gpu_step_ns: col.countOpt("the step's own work on the GPU (per_iteration.gpu_step_ns: CUDA events at execute_model() entry and after sampling); empty where the trace has no update.gpu", "ns"),
  gpu_gap_ns: col.countOpt("GPU idle time before the step (per_iteration.gpu_gap_ns); empty for the first timed step or where not captured", "ns"),
  runner_host_ns: col.countOpt("host time in the model runner's calls for the step (per_iteration.runner_host_ns); with gpu_step_ns and schedule_ns, the parts of a two-part clock", "ns"),
  // appended (fit 1.5): what the GPU clock's beta is fitted to (docs/fit.md, "Step clock")
  gpu_work_ns: col.countOpt("what the GPU clock fits: gpu_step_ns; under fit --gpu-work censored, where the step ran without a CUDA graph and its GPU time ended with its launch (gpu_step_ns <= 1.05 runner_host_ns: an upper bound on the work), the lower of gpu_step_ns and the pooled gpu-set line, refitted until it settles; empty where the step has no GPU time", "ns"),
});
export type BetaTrainingRow = z.infer<typeof BetaTrainingRow>;

export const AlphaTrainingRow = z.object({
  queue_delay_ns: col.ns("first_scheduled_time - arrival_time: time from add_request() to the first step that admitted it"),
  prompt_tokens: col.count("prompt tokens", "tokens"),
  waiting_depth: col.count("len(waiting) after the last update before it arrived"),
  running_depth: col.count("len(running) after the last update before it arrived"),
  kv_ratio: col.float("KV usage after the last update before it arrived", "fraction"),
  ...configCols,
  // appended
  request_id: col.str("request (client-chosen id: treat as untrusted text)"),
  arrival_time: col.ns("add_request() enqueued it"),
  frontend_delay_ns: col.nsOpt("add_request() epoch time minus vLLM's Request.arrival_time: frontend processing and IPC to the engine core, plus waiting for the engine loop"),
  engine_idle_at_arrival: col.count("1 when nothing was running or waiting when it arrived (its delays are fixed overheads only)", "bool"),
  split: col.oneOfOpt(SplitName, "train or test (the chronological hold-out)"),
  // appended (fit 1.2): the frontend-delay model reads each rank's step boundaries
  dp_rank: col.count("data-parallel rank that received it"),
});
export type AlphaTrainingRow = z.infer<typeof AlphaTrainingRow>;

/** one term of a step-model file: the product of its factors (features of the batch) times coef, in seconds */
const ModelTerm = z.object({ name: z.string(), factors: z.array(z.string()), coef: z.number() });

/** The step-model file `vsched fit --out` writes and the harness loads (`--cost fitted:FILE`). */
export const StepModelFile = z.object({
  format: z.literal("vsched-step-model"),
  format_version: z.literal("1.0"),
  unit: z.literal("seconds"),
  model: z.string().meta({ description: "feature set and estimator, e.g. context/ols" }),
  clock: z
    .enum(["interval", "gpu"])
    .optional()
    .meta({ description: "what the terms predict (fit --clock): gpu, each step's time on the GPU, which the harness's device timeline runs back to back; interval, the update-to-update step time. Absent (files before it): interval" }),
  terms: z.array(ModelTerm),
  per_step_overhead_s: z.number().meta({ description: "CPU time per step outside the model (synchronous engines only; 0 with a host block, whose loop charges it)" }),
  min_step_s: z.number().meta({ description: "floor on a predicted step time" }),
  frontend_delay_s: z.number().meta({ description: "fixed delay from vLLM's arrival to add_request(), added to simulated arrivals" }),
  idle_wakeup_s: z.number().optional().meta({ description: "from a request reaching an idle engine core to its schedule() (the loop's own latency; the queue delay at an idle engine, median): arrivals within it share the first batch" }),
  alpha: z
    .object({ terms: z.array(ModelTerm), unit: z.literal("seconds") })
    .nullable()
    .meta({ description: "the queue-delay regression (seed 004 §5), for comparison only: simulate replays queueing" }),
  trained_on: z.object({ sources: z.array(z.string()), steps: z.number().int(), vllm_version: z.string() }),
  cudagraph: z
    .object({
      capture_sizes: z.array(z.number().int()).meta({ description: "capture sizes of the training run, ascending" }),
      source: z.enum(["header", "vllm-default", "none"]),
      rule: z.enum(["recorded", "vllm-default"]).meta({ description: "vllm-default: a changed max_num_seqs gets vLLM's default sizes for it (min(2 × max_num_seqs, 512)), as a real engine would; recorded: the training sizes as they are" }),
    })
    .optional()
    .meta({ description: "padding for padded_tokens; absent in 1.0 files" }),
  host_cpu: z
    .object({
      reference_intercept_ns: z.number().meta({ description: "schedule() time of the reference line at zero requests" }),
      reference_per_request_ns: z.number().meta({ description: "schedule() time per scheduled request of the reference line" }),
      emitter_level: z.string().meta({ description: "the emitter level of the training runs (schedule() includes the emitter's own time, so indices compare only at one level)" }),
      training_indices: z.array(z.number()).meta({ description: "cpu_index of each training run, in the order of trained_on.sources" }),
      index: z.number().meta({ description: "the cpu_index the harness applies (1: the training runs' typical host; simulate sets the replayed run's own)" }),
      index_profile: z
        .array(z.object({ from_s: z.number().meta({ description: "seconds on the replay's clock (the recorded run's time base: its arrivals')" }), index: z.number().positive() }))
        .optional()
        .meta({ description: "the replayed run's index by window of its time, ascending from_s (simulate --cpu-index recorded): from each from_s the harness applies that index in place of index (before the first, the first's). Absent: index for the whole replay" }),
    })
    .optional()
    .meta({ description: "host CPU speed, for the cpu_index feature (docs/fit.md, \"Host CPU\"); absent: index 1" }),
  frontend_delay_model: z
    .object({
      statistic: z.literal("median").meta({ description: "the delay applied is the model's median (= mean: logistic) at the request's prompt length" }),
      intercept_s: z.number().meta({ description: "median visibility delay at 0 prompt tokens" }),
      per_prompt_token_s: z.number().meta({ description: "added per prompt token" }),
      scale_s: z.number().meta({ description: "logistic scale of the delay around its median" }),
    })
    .optional()
    .meta({ description: "from vLLM's arrival to the request being in the engine core's input queue, fitted on the step boundaries that missed or picked up each request (docs/fit.md, α); simulate delays each arrival by it instead of frontend_delay_s and stamps vLLM's arrival that much earlier. Absent: frontend_delay_s for every request" }),
  cpu_wait: z
    .object({
      coef: z.number().meta({ description: "the cpu_wait_ns term's coefficient: step time added per ns the engine thread waited for a CPU (1: all of it on the critical path)" }),
      training_shares: z.array(z.number()).meta({ description: "each training run's wait share (Σ cpu_wait_ns / Σ step time over its kept steps), in the order of trained_on.sources" }),
      share: z.number().min(0).lt(1).meta({ description: "the wait share the harness applies (0: an uncontended host; simulate sets the replayed run's own)" }),
      scale: z.number().positive().meta({ description: "every predicted step time is multiplied by this: 1 / (1 − coef × share), the step whose CPU part waits share of its time" }),
    })
    .optional()
    .meta({ description: "CPU contention, for a model with a cpu_wait_ns term (docs/fit.md, \"CPU contention\"): the harness's steps have no measured wait (the term is 0 there) and the run's contention enters as scale. Absent: 1" }),
  host: z
    .object({
      terms: z.array(ModelTerm).meta({ description: "pre: the host's time from a step's schedule() entry to the end of its launch (schedule + the model runner's calls), seconds at host_cpu.index 1" }),
      post_update_s: z.number().meta({ description: "from an update_from_output() entry to the next schedule() entry (the update, output handling, the loop), seconds at host_cpu.index 1: the median over the training steps" }),
      post_terms: z
        .array(ModelTerm)
        .optional()
        .meta({ description: "the same time as a line in the batch the update collected (intercept, batch_size), seconds at host_cpu.index 1; the harness uses it in place of post_update_s. Absent (model files before it): post_update_s for every update" }),
      sync_share: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .meta({ description: "the share of the training runs' launches of steps with a prefill that waited for their own step on the GPU (a synchronizing launch: the runner's host time reaches its GPU time); the harness ends each such launch that share of the way to the step's end on the GPU, and terms describe the launches that did not wait (fit --launch-waits apart). Absent (--launch-waits mean, the default, and model files before it): 0, and terms carry the waits in their mean" }),
    })
    .optional()
    .meta({ description: "the host's loop of a GPU-clock model (docs/fit.md, \"Step clock\"): a step's update comes at the later of its end on the device and the end of the next step's launch, and the next schedule() post_update_s after it; both scaled by host_cpu.index. Absent: the device timeline alone" }),
  time_scale: z
    .number()
    .positive()
    .optional()
    .meta({ description: "every predicted step time (floor and overhead included) is multiplied by this: simulate --step-scale, a what-if of a uniformly slower or faster engine and the sensitivity of latencies to a step-time bias. Absent: 1" }),
});
export type StepModelFile = z.infer<typeof StepModelFile>;
