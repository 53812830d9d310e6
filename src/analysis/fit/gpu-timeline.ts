/**
 * The GPU's timeline, recorded against simulated (vsched calibrate; docs/fit.md, "vsched
 * calibrate").
 *
 * A real run's steps carry their time on the GPU (trace schema 1.6, update.gpu: the span and the
 * idle gap before it), and so does a replay on a GPU-clock model with a host loop: the harness
 * writes its own device timeline the same way. Side by side they say whether a replay that got
 * ahead worked faster (less busy time: the step model reads the steps short) or idled less (the
 * loop between steps: launches that waited for the GPU, schedule() before a graphless step's
 * first kernel). On the s176 t8192 repeat replayed from the 27-run H100 pool (TTFT −8.0%), the
 * steps with a prefill were 2.4% short on the GPU and the GPU idled 0.025 s against 0.091 s; over
 * 82 real-run cases that first figure went with the TTFT error (r 0.78), the second never
 * exceeded 1% of a run (docs/fit.md, "A thirteenth session").
 */

import type { TableRow } from "../../tables/types.js";
import { GpuTimeAccumulator } from "../summary/gpu-time.js";

export type GpuStepKind = "prefill" | "decode";

export interface GpuSide {
  /** steps with a GPU span */
  steps: number;
  /** Σ span: the GPU's time on the steps, idle time inside a step included */
  busy_ns: number;
  /** Σ gap before the steps that have one: the GPU idle between steps */
  idle_ns: number;
}

export interface GpuKindRow {
  /** "all", or steps with a prefill / decode-only steps (the idle is the gap before such a step) */
  kind: "all" | GpuStepKind;
  recorded: GpuSide;
  simulated: GpuSide;
  /** simulated Σ busy / recorded − 1 (null without recorded busy time) */
  busy_error: number | null;
}

/** One run's GPU timeline, all steps and by step kind: summary's sums (summary/gpu-time.ts), one per kind. */
export class GpuSampler {
  private readonly kinds = { all: new GpuTimeAccumulator(), prefill: new GpuTimeAccumulator(), decode: new GpuTimeAccumulator() };

  add(step: Pick<TableRow<"per_iteration">, "num_prefill_reqs" | "gpu_step_ns" | "gpu_gap_ns">): void {
    this.kinds.all.add(step);
    this.kinds[step.num_prefill_reqs > 0 ? "prefill" : "decode"].add(step);
  }

  get timed(): boolean {
    return this.kinds.all.stats() !== null;
  }

  side(kind: "all" | GpuStepKind): GpuSide {
    const s = this.kinds[kind].stats();
    return s ? { steps: s.steps, busy_ns: s.busy_ns, idle_ns: s.idle_ns } : { steps: 0, busy_ns: 0, idle_ns: 0 };
  }
}

/** Recorded against simulated, all steps and by kind; empty unless both runs have GPU times. */
export function compareGpu(recorded: GpuSampler, simulated: GpuSampler): GpuKindRow[] {
  if (!recorded.timed || !simulated.timed) return [];
  return (["all", "prefill", "decode"] as const).map((kind) => {
    const r = recorded.side(kind), s = simulated.side(kind);
    return { kind, recorded: r, simulated: s, busy_error: r.busy_ns > 0 ? s.busy_ns / r.busy_ns - 1 : null };
  });
}
