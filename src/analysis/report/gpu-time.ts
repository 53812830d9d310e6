import type { TableRow, TableSource } from "../../tables/types.js";
import { Indexed } from "./arrays.js";
import { missingWhy } from "./not-captured.js";
import { intervalShares } from "./shares.js";
import type { GpuTimeSeries } from "./types.js";

type F64 = Indexed<Float64Array>;

/**
 * One rank's update.gpu figures (per_iteration gpu_step_ns, gpu_gap_ns), kept raw until every
 * row is in: a step's share needs the previous step's update_from_output() entry, and rows may
 * come in any order.
 */
export class GpuTimeSteps {
  private readonly step: F64 = new Indexed(Float64Array, NaN);
  private readonly gap: F64 = new Indexed(Float64Array, NaN);
  /** steps with a GPU time, with or without a previous step to divide it by */
  figures = 0;

  add(i: number, row: TableRow<"per_iteration">): void {
    // columns of output schema 1.6: null where the trace had no update.gpu figure, absent (undefined) in older logs
    const g = row.gpu_step_ns, gap = row.gpu_gap_ns;
    if (g === null || g === undefined) return;
    this.figures++;
    this.step.set(i, g);
    if (gap !== null && gap !== undefined) this.gap.set(i, gap);
  }

  /**
   * Each figure over its step's interval: update(i) − update(i−1), the time between two
   * update_from_output() entries (docs/fit.md, "GPU time"), which holds the step's GPU work:
   * vLLM enters a step's update only once its output is on the host, and under sync scheduling
   * the step is launched only after the previous update (under async the GPU may start it a
   * little before, so busy and idle can add up to a little over 1). update(i) is start_time +
   * scheduling_overhead + forward_duration. Step 0 and a step after one without an update have
   * no interval: no share. The gap's share is NaN where the step has no gap (the first timed
   * step, or after one without a figure).
   * Null when no step has a share.
   */
  shares(update: Float64Array, n: number): GpuTimeSeries | null {
    const { shares: [busy, idle], points: [points] } = intervalShares(update, n, [this.step, this.gap]);
    if (points === 0) return null;
    return { busy_share: busy, gap_share: idle, points };
  }
}

/** why no rank has a GPU time series */
export const gpuTimeMissingWhy = (source: TableSource, figures: number): string =>
  missingWhy(source, figures, {
    noInterval: "no step with an update.gpu figure follows another step's update, so none has an interval to divide it by",
    // the emitter's not_captured entry for update.gpu (emitter/src/vsched_emitter/gpu_time.py, NOT_CAPTURED_WHAT)
    notCaptured: "GPU time per step",
    none: "the trace has no update.gpu (an emitter before trace schema 1.6, VLLM_SCHEDULER_LOG_GPU_TIME=0, a multiprocess executor, or no CUDA)",
  });
