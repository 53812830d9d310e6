import type { TableRow } from "../../tables/types.js";
import { Indexed } from "./arrays.js";
import { EngineCpuSteps } from "./engine-cpu.js";
import { GpuTimeSteps } from "./gpu-time.js";
import type { RankSeries } from "./types.js";

type F64 = Indexed<Float64Array>;
type F32 = Indexed<Float32Array>;

/** Per-step series of one rank, filled from per_iteration rows and waiting rows in any order. */
class RankCollector {
  readonly start: F64 = new Indexed(Float64Array, NaN);
  readonly schedule: F64 = new Indexed(Float64Array, NaN);
  readonly forward: F64 = new Indexed(Float64Array, NaN);
  readonly duration: F64 = new Indexed(Float64Array, NaN);
  readonly endT: F64 = new Indexed(Float64Array, NaN);
  readonly f32 = {
    prefill_reqs: new Indexed(Float32Array),
    decode_reqs: new Indexed(Float32Array),
    total_tokens: new Indexed(Float32Array),
    prefill_tokens: new Indexed(Float32Array),
    decode_tokens: new Indexed(Float32Array),
    kv_utilization: new Indexed(Float32Array, NaN),
    running: new Indexed(Float32Array),
    waiting: new Indexed(Float32Array),
    preempted: new Indexed(Float32Array),
    admitted: new Indexed(Float32Array),
    completed: new Indexed(Float32Array),
    gpu_util_percent: new Indexed(Float32Array, NaN),
    gpu_memory_used_gib: new Indexed(Float32Array, NaN),
    gpu_sm_clock_mhz: new Indexed(Float32Array, NaN),
    gpu_power_w: new Indexed(Float32Array, NaN),
  } satisfies Record<string, F32>;
  /** steps with a joined GPU sample */
  gpuSteps = 0;
  readonly cpu = new EngineCpuSteps();
  readonly gpuTime = new GpuTimeSteps();
  readonly causes = new Map<string, F32>();
  steps = 0;
}

const nanIfNull = (v: number | null): number => (v === null ? NaN : v);

/** Collects every rank's per-step series; the time of a step is its start_time. */
export class StepCollector {
  private readonly ranks = new Map<number, RankCollector>();
  waitingRows = 0;

  private rank(r: number): RankCollector {
    let c = this.ranks.get(r);
    if (!c) this.ranks.set(r, (c = new RankCollector()));
    return c;
  }

  iteration(row: TableRow<"per_iteration">): void {
    const c = this.rank(row.dp_rank);
    const i = row.iteration_id;
    c.steps = Math.max(c.steps, i + 1);
    c.start.set(i, row.start_time);
    c.schedule.set(i, row.scheduling_overhead);
    c.forward.set(i, nanIfNull(row.forward_duration));
    c.duration.set(i, nanIfNull(row.duration));
    c.endT.set(i, nanIfNull(row.end_time));
    c.f32.prefill_reqs.set(i, row.num_prefill_reqs);
    c.f32.decode_reqs.set(i, row.num_decode_reqs);
    c.f32.total_tokens.set(i, row.total_tokens);
    c.f32.prefill_tokens.set(i, row.prefill_tokens);
    c.f32.decode_tokens.set(i, row.decode_tokens);
    c.f32.kv_utilization.set(i, row.kv_cache_total > 0 ? row.kv_cache_used / row.kv_cache_total : NaN);
    c.f32.running.set(i, row.running_count);
    c.f32.waiting.set(i, row.waiting_count);
    c.f32.preempted.set(i, row.preempted_count);
    c.f32.admitted.set(i, row.admitted_count + row.resumed_count);
    c.f32.completed.set(i, row.completed_count);
    // columns of output schema 1.4: null in older logs and where the trace had no NVML samples
    if (row.gpu_sample_age_ns !== null && row.gpu_sample_age_ns !== undefined) {
      c.gpuSteps++;
      c.f32.gpu_util_percent.set(i, nanIfNull(row.gpu_util_percent));
      c.f32.gpu_memory_used_gib.set(i, row.gpu_memory_used_bytes === null ? NaN : row.gpu_memory_used_bytes / 2 ** 30);
      c.f32.gpu_sm_clock_mhz.set(i, nanIfNull(row.gpu_sm_clock_mhz));
      c.f32.gpu_power_w.set(i, nanIfNull(row.gpu_power_w));
    }
    c.cpu.add(i, row);
    c.gpuTime.add(i, row);
  }

  /** a waiting or preempted row: one request waiting for its cause at this step */
  waiting(rank: number, iteration: number, cause: string): void {
    this.waitingRows++;
    const c = this.rank(rank);
    let s = c.causes.get(cause);
    if (!s) c.causes.set(cause, (s = new Indexed(Float32Array)));
    s.add(iteration, 1);
  }

  /** steps with a step.cpu figure, over all ranks (whether or not one had an interval) */
  get cpuFigures(): number {
    let n = 0;
    for (const c of this.ranks.values()) n += c.cpu.figures;
    return n;
  }

  /** steps with an update.gpu figure, over all ranks (whether or not one had an interval) */
  get gpuTimeFigures(): number {
    let n = 0;
    for (const c of this.ranks.values()) n += c.gpuTime.figures;
    return n;
  }

  /** time of a step's start, or of its end for the step after the last one */
  stepTime(rank: number, iteration: number): number {
    const c = this.ranks.get(rank);
    if (!c) return NaN;
    const t = c.start.get(iteration);
    if (!Number.isNaN(t)) return t;
    return c.endT.get(iteration - 1);
  }

  result(withCauses: boolean): RankSeries[] {
    return [...this.ranks.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([dp_rank, c]) => {
        const n = c.steps;
        const f = (k: keyof RankCollector["f32"]) => c.f32[k].toArray(n);
        const start = c.start.toArray(n), schedule = c.schedule.toArray(n), forward = c.forward.toArray(n);
        return {
          dp_rank,
          steps: n,
          start_ns: start,
          schedule_ns: schedule,
          forward_ns: forward,
          duration_ns: c.duration.toArray(n),
          prefill_reqs: f("prefill_reqs"),
          decode_reqs: f("decode_reqs"),
          total_tokens: f("total_tokens"),
          prefill_tokens: f("prefill_tokens"),
          decode_tokens: f("decode_tokens"),
          kv_utilization: f("kv_utilization"),
          running: f("running"),
          waiting: f("waiting"),
          preempted: f("preempted"),
          admitted: f("admitted"),
          completed: f("completed"),
          gpu: c.gpuSteps > 0
            ? { util_percent: f("gpu_util_percent"), memory_used_gib: f("gpu_memory_used_gib"), sm_clock_mhz: f("gpu_sm_clock_mhz"), power_w: f("gpu_power_w") }
            : null,
          engine_cpu: c.cpu.shares(start, n),
          // update_from_output() entered: schedule() returned, then the model ran (NaN where forward_duration is empty)
          gpu_time: c.gpuTime.figures ? c.gpuTime.shares(Float64Array.from(start, (t, i) => t + schedule[i] + forward[i]), n) : null,
          waiting_by_cause: withCauses ? [...c.causes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([cause, s]) => ({ cause, counts: s.toArray(n) })) : null,
        };
      });
  }
}
