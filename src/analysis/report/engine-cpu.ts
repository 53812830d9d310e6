import type { TableRow, TableSource } from "../../tables/types.js";
import { Indexed } from "./arrays.js";
import { missingWhy } from "./not-captured.js";
import { intervalShares } from "./shares.js";
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
    const { shares: [cpu, wait, pressure], points: [points, , pressurePoints] } = intervalShares(start, n, [this.cpu, this.wait, this.pressure]);
    if (points === 0) return null;
    return { cpu_share: cpu, wait_share: wait, pressure_share: pressurePoints > 0 ? pressure : null, points };
  }
}

/** why no rank has an engine CPU series */
export const engineCpuMissingWhy = (source: TableSource, figures: number): string =>
  missingWhy(source, figures, {
    noInterval: "no step with a step.cpu figure follows another step, so none has an interval to divide it by",
    // the emitter's not_captured entry for step.cpu (emitter/src/vsched_emitter/host_cpu.py, NOT_CAPTURED_WHAT)
    notCaptured: "engine thread CPU",
    none: "the trace has no step.cpu (an emitter before trace schema 1.5, VLLM_SCHEDULER_LOG_CPU_STATS=0, or not Linux)",
  });
