import type { Summary } from "../summary/types.js";

/**
 * What `vsched report` shows, as plain data (times in ns; series as typed arrays so a
 * million steps stay compact; NaN where a value is unknown). The HTML renderer turns it
 * into one page; --png and the tests read the same object.
 */
export interface ReportData {
  report_format: 1;
  title: string;
  /** the logs directory or first trace, as given */
  label: string;
  /** the object `vsched summary --json` prints: every figure the page shows that it holds */
  summary: Summary;
  /** seed 002's basic statistics that the summary does not hold, computed from the step series */
  statistics: Seed002Statistics;
  ranks: RankSeries[];
  requests: RequestTable;
  lanes: Lanes;
  fairness: Fairness;
  distributions: Distributions;
  predictions: Predictions | null;
  /** stable codes for what the page cannot show (wording in the renderer) */
  notes: string[];
  /** why no step has GPU stats (the trace header's not_captured entry, or that the trace has none); null when some do */
  gpu_stats_missing: string | null;
  /** why no rank has an engine CPU series (the trace header's not_captured entry, or that the trace has no step.cpu); null when one does */
  engine_cpu_missing: string | null;
  /** why no rank has a GPU time series (the trace header's not_captured entry, or that the trace has no update.gpu); null when one does */
  gpu_time_missing: string | null;
}

export interface Seed002Statistics {
  batches: number;
  schedule_ns: { mean: number | null; min: number | null; max: number | null; p95: number | null };
  model_run_ns: { mean: number | null; p95: number | null };
  /** Σ total_tokens / Σ step duration, per second (seed 002's "average tokens/s") */
  scheduled_tokens_per_s: number | null;
  /** decode tokens per decoding request, over steps that decoded (per-step mean, then min/max over steps) */
  decode_chunks: { mean_tokens: number | null; min_tokens: number | null; max_tokens: number | null };
}

/** per-step series of one data-parallel rank, indexed by iteration id */
export interface RankSeries {
  dp_rank: number;
  steps: number;
  start_ns: Float64Array;
  schedule_ns: Float64Array;
  forward_ns: Float64Array;
  duration_ns: Float64Array;
  prefill_reqs: Float32Array;
  decode_reqs: Float32Array;
  total_tokens: Float32Array;
  prefill_tokens: Float32Array;
  decode_tokens: Float32Array;
  kv_utilization: Float32Array;
  running: Float32Array;
  waiting: Float32Array;
  preempted: Float32Array;
  admitted: Float32Array;
  completed: Float32Array;
  /** NVML samples joined to steps (per_iteration gpu_* columns; NaN where none); null when no step has one */
  gpu: { util_percent: Float32Array; memory_used_gib: Float32Array; sm_clock_mhz: Float32Array; power_w: Float32Array } | null;
  /** the engine thread's CPU time and wait for a CPU, and the machine's CPU pressure, per step (trace step.cpu); null when no step has a share */
  engine_cpu: EngineCpuSeries | null;
  /** the step's work on the GPU and the GPU's idle time before it, per step (trace update.gpu); null when no step has a share */
  gpu_time: GpuTimeSeries | null;
  /** requests waiting for each cause at each step (only causes that occur); null without waiting rows */
  waiting_by_cause: { cause: string; counts: Float32Array }[] | null;
}

/**
 * Shares (0..1) of each step's interval, start_time − the previous step's start_time in the
 * rank (the time the step's step.cpu differences cover); NaN where a step has no figure or no
 * previous step (step 0's figure covers the time since the emitter attached).
 */
export interface EngineCpuSeries {
  /** the engine-core (scheduler) thread ran on a CPU (per_iteration engine_cpu_ns) */
  cpu_share: Float32Array;
  /** it was runnable but waited for a CPU (engine_cpu_wait_ns): contention on its cores */
  wait_share: Float32Array;
  /** some task of the machine waited for a CPU (cpu_pressure_ns, PSI cpu some); null when no step has it */
  pressure_share: Float32Array | null;
  /** steps with a share */
  points: number;
}

/**
 * Shares of each step's interval, the time between its update_from_output() entry and the
 * previous step's (the update-to-update interval of docs/fit.md, "GPU time", which ends once
 * the step's GPU work has); NaN where a
 * step has no figure or no previous update (step 0). Busy and idle may add up to a little over
 * 1: the idle gap starts at the previous step's last GPU work, just before that step's update.
 */
export interface GpuTimeSeries {
  /** the step's work on the GPU, idle time inside the step included (per_iteration gpu_step_ns) */
  busy_share: Float32Array;
  /** the GPU sat idle before the step since the previous step's end (gpu_gap_ns); NaN for the first timed step */
  gap_share: Float32Array;
  /** steps with a busy share */
  points: number;
}

/** One row per request, column-wise; `index` ties lanes and fairness entries to rows. */
export interface RequestTable {
  /** requests in the run */
  total: number;
  /** rows embedded (all, or the `cap` most interesting when the run is larger) */
  ids: string[];
  dp_rank: Float32Array;
  arrival_ns: Float64Array;
  ttft_ns: Float64Array;
  e2e_ns: Float64Array;
  waiting_ns: Float64Array;
  preemptions: Float32Array;
  output_tokens: Float32Array;
  /** index into `causes`, -1 when it never waited */
  dominant_cause: Int32Array;
  causes: string[];
  /** index into `finish_reasons` */
  finish_reason: Uint8Array;
  finish_reasons: string[];
  /** how rows were chosen when not all are embedded */
  selection: "all" | "top";
}

/**
 * Each embedded request's state history: segments [start, end) in run time with a code
 * (index into `codes`: lane states then waiting causes), and its queue positions while
 * waiting (kept when the position changes by at least `queue_change_kept`).
 */
export interface Lanes {
  codes: string[];
  seg_request: Uint32Array;
  seg_start_ns: Float64Array;
  seg_end_ns: Float64Array;
  seg_code: Uint8Array;
  queue_request: Uint32Array;
  queue_t_ns: Float64Array;
  queue_position: Float32Array;
  queue_change_kept: number;
  /** lanes with more segments are redrawn at this many equal spans of the request's life */
  max_segments: number;
  compacted_requests: number;
  /** embedded rows whose lanes were compacted */
  compacted_rows: Uint32Array;
}

export interface Fairness {
  /** longest continuous waits, longest first: [row index, ns] */
  longest_waits: { request: number; wait_ns: number }[];
  /** requests whose queue trajectories are drawn (the longest waiters) */
  trajectories: number[];
  service_rate: Histogram;
}

export interface Histogram {
  /** bin edges (n+1) and counts (n) */
  edges: Float64Array;
  counts: Float64Array;
  total: number;
}

/** quantile points (p in 0..1, value) and a histogram of one latency over completed requests */
export interface Distribution {
  count: number;
  cdf_p: Float64Array;
  cdf_v: Float64Array;
  histogram: Histogram;
}

export interface Distributions {
  ttft: Distribution;
  tpot: Distribution;
  itl: Distribution | null;
  queue_time: Distribution;
  e2e: Distribution;
  schedule: Distribution;
  model_run: Distribution;
  /** schedule vs model-run per step: points below the density threshold, else a 2-D histogram */
  scatter: { kind: "points"; x: Float32Array; y: Float32Array } | { kind: "density"; nx: number; ny: number; x_max: number; y_max: number; counts: Float32Array };
}

export interface Predictions {
  /** predicted remaining tokens and output tokens of completed requests, paired */
  predicted: Float32Array;
  actual: Float32Array;
}
