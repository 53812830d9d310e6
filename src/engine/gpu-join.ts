import type { GpuRecord, HeaderRecord } from "../schema/raw.js";

/** per_iteration's GPU columns (output schema 1.4); all null where no sample applies */
export interface GpuColumns {
  gpu_util_percent: number | null;
  gpu_memory_used_bytes: number | null;
  gpu_sm_clock_mhz: number | null;
  gpu_power_w: number | null;
  gpu_sample_age_ns: number | null;
}

export const NO_GPU: GpuColumns = Object.freeze({
  gpu_util_percent: null,
  gpu_memory_used_bytes: null,
  gpu_sm_clock_mhz: null,
  gpu_power_w: null,
  gpu_sample_age_ns: null,
});

/** one sample reduced over its devices */
interface Sample {
  t: number;
  util: number | null;
  mem: number | null;
  clock: number | null;
  powerW: number | null;
}

/** samples kept for the as-of lookup: a step's update comes at most a few samples late */
const KEEP = 64;
/** a sample older than this many sampling intervals is stale (the sampler stopped) */
const STALE_INTERVALS = 3;

function mean(xs: (number | null)[]): number | null {
  let n = 0;
  let sum = 0;
  for (const x of xs) if (x !== null) (n++, (sum += x));
  return n > 0 ? sum / n : null;
}

function total(xs: (number | null)[]): number | null {
  let n = 0;
  let sum = 0;
  for (const x of xs) if (x !== null) (n++, (sum += x));
  return n > 0 ? sum : null;
}

function reduce(g: GpuRecord): Sample {
  const d = g.devices;
  const power = total(d.map((x) => x[4]));
  return {
    t: g.t,
    util: mean(d.map((x) => x[1])),
    mem: total(d.map((x) => x[2])),
    clock: mean(d.map((x) => x[3])),
    powerW: power === null ? null : power / 1000,
  };
}

/**
 * Joins the emitter's NVML samples (gpu records) to steps by time: a step gets the latest
 * sample taken at or before its end (an as-of join), reduced over the sampled devices
 * (utilisation and SM clock averaged, memory and power summed), and that sample's age.
 * Only samples already read count, so the join is the same whatever follows in the file;
 * a sample older than three sampling intervals is taken as none (the sampler stopped).
 * Memory is bounded: the last 64 samples.
 */
export class GpuJoin {
  private readonly samples: Sample[] = [];
  private readonly maxAgeNs: number;

  constructor(header: HeaderRecord) {
    const interval = header.gpu_stats?.interval_ns;
    this.maxAgeNs = interval !== undefined && interval > 0 ? STALE_INTERVALS * interval : Infinity;
  }

  add(g: GpuRecord): void {
    const s = reduce(g);
    const xs = this.samples;
    // the sampler is one thread: its samples come in time order (trace checks report otherwise)
    if (xs.length > 0 && s.t < xs[xs.length - 1].t) return;
    xs.push(s);
    if (xs.length > KEEP) xs.splice(0, xs.length - KEEP);
  }

  /** the columns for a step ending at `t` (trace clock) */
  at(t: number): GpuColumns {
    const xs = this.samples;
    for (let i = xs.length - 1; i >= 0; i--) {
      const s = xs[i];
      if (s.t > t) continue;
      const age = t - s.t;
      if (age > this.maxAgeNs) return NO_GPU;
      return {
        gpu_util_percent: s.util,
        gpu_memory_used_bytes: s.mem,
        gpu_sm_clock_mhz: s.clock,
        gpu_power_w: s.powerW,
        gpu_sample_age_ns: age,
      };
    }
    return NO_GPU;
  }
}
