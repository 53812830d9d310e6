import type { TableRow } from "../../tables/types.js";

/** What the GPU did over the run, as the emitter timed each step on it (per_iteration gpu_step_ns, gpu_gap_ns; trace update.gpu). */
export interface GpuTime {
  /** steps with a GPU time */
  steps: number;
  /** Σ gpu_step_ns: the steps' work on the GPU, idle time inside a step included */
  busy_ns: number;
  /** Σ gpu_gap_ns: the GPU's idle time between consecutive timed steps */
  idle_ns: number;
  /** busy / (busy + idle) over the steps with both figures: the share of the timed stretch in which the GPU had a step to run */
  busy_share: number | null;
}

/** Sums of the per-step figures; a step without a gap (the first timed one, or after a step without a figure) adds its time to busy_ns only. */
export class GpuTimeAccumulator {
  private steps = 0;
  private busy = 0;
  private idle = 0;
  private busyWithGap = 0;

  add(row: Pick<TableRow<"per_iteration">, "gpu_step_ns" | "gpu_gap_ns">): void {
    const g = row.gpu_step_ns;
    if (g === null || g === undefined) return;
    this.steps++;
    this.busy += g;
    const gap = row.gpu_gap_ns;
    if (gap === null || gap === undefined) return;
    this.idle += gap;
    this.busyWithGap += g;
  }

  stats(): GpuTime | null {
    if (this.steps === 0) return null;
    const span = this.busyWithGap + this.idle;
    return { steps: this.steps, busy_ns: this.busy, idle_ns: this.idle, busy_share: span > 0 ? this.busyWithGap / span : null };
  }
}
