import type { TableRow, TableSource } from "../../tables/types.js";
import { Indexed } from "./arrays.js";
import { notCapturedWhy } from "./not-captured.js";
import type { EngineCpuSeries } from "./types.js";

type F64 = Indexed<Float64Array>;

/**
 * One rank's step.cpu figures (per_iteration engine_cpu_ns, engine_cpu_wait_ns,
 * cpu_pressure_ns), kept raw until every row is in: a step's share needs the previous
 * step's start, and rows may come in any order.
 */
export class EngineCpuSteps {
  private readonly cpu: F64 = new Indexed(Float64Array, NaN);
  private readonly wait: F64 = new Indexed(Float64Array, NaN);
  private readonly pressure: F64 = new Indexed(Float64Array, NaN);
  /** steps with a figure, with or without a previous step to divide it by */
  figures = 0;

  add(i: number, row: TableRow<"per_iteration">): void {
    // columns of output schema 1.5: null where the trace had no step.cpu, absent (undefined) in older logs
    const cpu = row.engine_cpu_ns, wait = row.engine_cpu_wait_ns, pressure = row.cpu_pressure_ns;
    if (cpu === null || cpu === undefined || wait === null || wait === undefined) return;
    this.figures++;
    this.cpu.set(i, cpu);
    this.wait.set(i, wait);
    if (pressure !== null && pressure !== undefined) this.pressure.set(i, pressure);
  }

  /**
   * Each figure over its step's interval: start(i) − start(i−1), the time since the previous
   * schedule() entry that the emitter's differences cover. Step 0's figure covers the time
   * since the emitter attached, and a step after a gap has no previous start: no share.
   * Null when no step has one.
   */
  shares(start: Float64Array, n: number): EngineCpuSeries | null {
    const cpu = new Float32Array(n).fill(NaN);
    const wait = new Float32Array(n).fill(NaN);
    const pressure = new Float32Array(n).fill(NaN);
    let points = 0;
    let pressurePoints = 0;
    for (let i = 1; i < n; i++) {
      const interval = start[i] - start[i - 1];
      const c = this.cpu.get(i);
      // NaN (a missing start or figure) fails this too
      if (!(interval > 0) || Number.isNaN(c)) continue;
      points++;
      cpu[i] = c / interval;
      wait[i] = this.wait.get(i) / interval;
      const p = this.pressure.get(i);
      if (Number.isNaN(p)) continue;
      pressurePoints++;
      pressure[i] = p / interval;
    }
    if (points === 0) return null;
    return { cpu_share: cpu, wait_share: wait, pressure_share: pressurePoints > 0 ? pressure : null, points };
  }
}

/** the emitter's not_captured entry for step.cpu (emitter/src/vsched_emitter/host_cpu.py, NOT_CAPTURED_WHAT) */
const NOT_CAPTURED_PREFIX = "engine thread CPU";

/** why no rank has an engine CPU series: the trace header's words, else what the tables lack */
export function engineCpuMissingWhy(source: TableSource, figures: number): string {
  if (figures > 0) return "no step with a step.cpu figure follows another step, so none has an interval to divide it by";
  return (
    notCapturedWhy(source, NOT_CAPTURED_PREFIX) ??
    "the trace has no step.cpu (an emitter before trace schema 1.5, VLLM_SCHEDULER_LOG_CPU_STATS=0, or not Linux)"
  );
}

