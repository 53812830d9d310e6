import type { EngineCpu } from "./engine-cpu.js";
import type { GpuTime } from "./gpu-time.js";
import type { MachineIdentity } from "../machine.js";

/**
 * The object `vsched summary` computes and `--json` prints. Times are integer or
 * fractional nanoseconds in keys ending `_ns`; rates end `_per_s`; fractions end
 * `_share` (0..1) or are named `*_index` / `kendall_tau`. docs/summary.md defines every
 * figure. Any figure that cannot be computed from the tables is null.
 */
export const SUMMARY_FORMAT_VERSION = 1;

/** mean, quantiles (type 7) and max of a latency, in ns */
export interface LatencyStats {
  count: number;
  mean_ns: number | null;
  p50_ns: number | null;
  p90_ns: number | null;
  p95_ns: number | null;
  p99_ns: number | null;
  p999_ns: number | null;
  max_ns: number | null;
}

export interface Slo {
  ttft_ns?: number;
  tpot_ns?: number;
  e2e_ns?: number;
}

export interface Summary {
  summary_format: typeof SUMMARY_FORMAT_VERSION;
  /** schema version recorded in manifest.json, null without a manifest */
  schema_version: string | null;
  requests: {
    total: number;
    /** finish_reason stop or length: the population of every latency figure */
    completed: number;
    aborted: number;
    /** finish_reason error or ignored */
    failed: number;
    unfinished: number;
  };
  span: { start_ns: number | null; end_ns: number | null; duration_ns: number | null };
  latency: {
    ttft: LatencyStats;
    /** excludes the first token, as vLLM does */
    tpot: LatencyStats;
    /** null when per_iteration_requests does not record every iteration */
    itl: LatencyStats | null;
    queue_time: LatencyStats;
    e2e: LatencyStats;
  };
  throughput: {
    requests_per_s: number | null;
    output_tokens_per_s: number | null;
    total_tokens_per_s: number | null;
  };
  goodput: null | {
    slo: Slo;
    requests: number;
    /** of completed requests */
    share: number | null;
    requests_per_s: number | null;
  };
  scheduler: {
    iterations: number;
    idle_iterations: number;
    scheduling_overhead: { mean_ns: number | null; p99_ns: number | null };
    forward_duration: { mean_ns: number | null; p99_ns: number | null };
    step_duration: { mean_ns: number | null; p99_ns: number | null };
    /** Σ scheduling_overhead / Σ duration over iterations with a duration (seed 002) */
    scheduling_share: number | null;
    prefill_tokens: number;
    decode_tokens: number;
    recompute_tokens: number;
    prefill_token_share: number | null;
    /** Σ num_prefill_reqs / Σ (num_prefill_reqs + num_decode_reqs) */
    prefill_request_share: number | null;
    prefill_chunks: { count: number; mean_tokens: number | null; min_tokens: number | null; max_tokens: number | null };
    batch_size: { mean: number | null; p50: number | null; p90: number | null; p99: number | null; max: number | null };
  };
  resources: {
    kv_utilization_mean: number | null;
    kv_utilization_peak: number | null;
    preempted_requests: number;
    /** share of all requests preempted at least once (seed 000 §8) */
    preemption_rate: number | null;
    preemptions: number;
    evictions: number;
    recomputed_tokens: number;
    /** the engine thread's CPU time and its wait for a CPU (trace schema 1.5); null where the trace has none */
    engine_cpu: EngineCpu | null;
    /** each step timed on the GPU (trace schema 1.6); null where the trace has none */
    gpu_time: GpuTime | null;
  };
  waiting: {
    total_waiting_ns: number;
    /** every cause with a non-zero total, largest first */
    by_cause: { cause: string; waiting_ns: number; share: number | null }[];
    top_requests: { request_id: string; waiting_ns: number; dominant_cause: string | null; dominant_cause_ns: number }[];
  };
  fairness: {
    longest_wait: { request_id: string; wait_ns: number } | null;
    longest_wait_p99_ns: number | null;
    /** Jain's index of output_tokens / e2e_latency over completed requests */
    service_rate_jain_index: number | null;
    service_rate_mean_tokens_per_s: number | null;
    service_rate_min_tokens_per_s: number | null;
    queue_progress: null | {
      /** consecutive observations of a request waiting with a queue position */
      observations: number;
      advanced: number;
      unchanged: number;
      /** its position grew: requests were placed ahead of it */
      overtaken: number;
      overtaken_share: number | null;
      requests_overtaken: number;
    };
  };
  policy: null | {
    predicted_remaining_tokens: null | {
      count: number;
      mean_error_tokens: number | null;
      mean_abs_error_tokens: number | null;
      rmse_tokens: number | null;
      kendall_tau: number | null;
    };
    priority_score: null | { count: number; kendall_tau: number | null };
  };
  /** why a figure is null or approximate, as stable codes (wording in the renderer) */
  notes: string[];
  /** which GPUs and host CPU the run had (trace schema 1.7: the emitter's machine.py); null for a replay, an older trace or a CPU run without them */
  machine: MachineIdentity | null;
}
