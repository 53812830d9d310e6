import type { EngineCpuSeries, GpuTimeSeries, Lanes, RankSeries, ReportData } from "../../analysis/report/types.js";
import { CAUSE_COLORS, STATE_COLORS } from "../palette.js";
import { BUCKETS, minMaxPerBucket, stackedPerBucket, type Downsampled } from "./downsample.js";

const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;

const scale = (a: ArrayLike<number>, f: number): Float64Array => Float64Array.from(a, (v) => v / f);
const sds = (d: Downsampled) => ({ x: d.x, ys: d.ys, points: d.points });

/** What the page script receives: the report with every step series cut to the chart width. */
export function viewModel(data: ReportData) {
  return {
    title: data.title,
    label: data.label,
    summary: data.summary,
    statistics: data.statistics,
    notes: data.notes,
    gpu_stats_missing: data.gpu_stats_missing,
    engine_cpu_missing: data.engine_cpu_missing,
    gpu_time_missing: data.gpu_time_missing,
    buckets: BUCKETS,
    palette: { causes: CAUSE_COLORS, states: STATE_COLORS },
    ranks: data.ranks.map(rankView),
    distributions: data.distributions,
    requests: data.requests,
    lanes: laneView(data.lanes),
    fairness: data.fairness,
    predictions: data.predictions,
  };
}

function rankView(r: RankSeries) {
  const batch = Float64Array.from({ length: r.steps }, (_, i) => i);
  const t = scale(r.start_ns, NS_PER_S);
  const causes = r.waiting_by_cause;
  return {
    dp_rank: r.dp_rank,
    steps: r.steps,
    // seed 002's charts are over batches (step number)
    timing: sds(minMaxPerBucket(batch, [scale(r.schedule_ns, NS_PER_MS), scale(r.forward_ns, NS_PER_MS)])),
    reqs: sds(minMaxPerBucket(batch, [r.prefill_reqs, r.decode_reqs])),
    tokens: sds(minMaxPerBucket(batch, [r.total_tokens])),
    // the other seeds' charts are over run time (s)
    kv: sds(minMaxPerBucket(t, [Float64Array.from(r.kv_utilization, (v) => v * 100)])),
    queues: sds(minMaxPerBucket(t, [r.running, r.waiting])),
    marks: sds(minMaxPerBucket(t, [r.admitted, r.completed, r.preempted])),
    gpu: r.gpu
      ? {
          use: sds(minMaxPerBucket(t, [r.gpu.util_percent])),
          memory: sds(minMaxPerBucket(t, [r.gpu.memory_used_gib])),
          clock: sds(minMaxPerBucket(t, [r.gpu.sm_clock_mhz])),
          power: sds(minMaxPerBucket(t, [r.gpu.power_w])),
        }
      : null,
    engine_cpu: r.engine_cpu ? engineCpuView(t, r.engine_cpu) : null,
    gpu_time: r.gpu_time ? gpuTimeView(t, r.gpu_time) : null,
    causes: causes ? { names: causes.map((c) => c.cause), ...sds(stackedPerBucket(t, causes.map((c) => c.counts))) } : null,
  };
}

/** a share (0..1) as % */
const pct = (a: Float32Array) => Float64Array.from(a, (v) => v * 100);

/** shares as % of each step's interval, like the KV chart's utilisation */
function engineCpuView(t: Float64Array, c: EngineCpuSeries) {
  return {
    thread: sds(minMaxPerBucket(t, [pct(c.cpu_share), pct(c.wait_share)])),
    pressure: c.pressure_share ? sds(minMaxPerBucket(t, [pct(c.pressure_share)])) : null,
  };
}

/** the GPU's busy and idle shares as % of each step's update-to-update interval */
function gpuTimeView(t: Float64Array, g: GpuTimeSeries) {
  return { shares: sds(minMaxPerBucket(t, [pct(g.busy_share), pct(g.gap_share)])) };
}

/** lane times as float32 seconds: half the bytes, and ~1 ms resolution even three hours in (a pixel is coarser) */
function laneView(l: Lanes) {
  const s32 = (a: Float64Array) => Float32Array.from(a, (v) => v / NS_PER_S);
  const { seg_start_ns, seg_end_ns, queue_t_ns, ...rest } = l;
  return { ...rest, seg_start_s: s32(seg_start_ns), seg_end_s: s32(seg_end_ns), queue_t_s: s32(queue_t_ns) };
}
