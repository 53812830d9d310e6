import type { BetaTrainingRow } from "../../schema/fit.js";
import { stepTime, type StepTarget } from "./regress.js";

/**
 * What β predicts (docs/fit.md, "Step clock"):
 * - interval: the update-to-update step time, measured on every trace;
 * - gpu: the step's own time on the GPU (trace schema 1.6, update.gpu: CUDA events at the model
 *   runner's entry and exit). Under async scheduling the interval moves time between
 *   neighbouring steps (a launch that waits on the device holds up the previous step's
 *   collection), so per step it measures that attribution as much as the batch; the GPU time is
 *   the batch's own. simulate's device timeline runs one step after the other on the GPU
 *   (a step starts when it is scheduled and the previous one is done), which is what the GPU
 *   time describes.
 * auto: gpu where every training run timed at least MIN_GPU_TIME_COVERAGE of its kept steps on
 * the GPU, interval otherwise.
 */
export type StepClock = "interval" | "gpu";
export type ClockChoice = StepClock | "auto";
export const CLOCK_CHOICES: readonly ClockChoice[] = ["auto", "gpu", "interval"];

/** a run's steps count as GPU-timed when at least this share of its kept steps has a GPU time */
export const MIN_GPU_TIME_COVERAGE = 0.9;

export const hasGpuTime = (r: BetaTrainingRow): boolean => r.gpu_step_ns !== null && r.gpu_step_ns > 0;
/** the step's GPU span: what the GPU-time view describes */
export const gpuTime: StepTarget = (r) => r.gpu_step_ns!;
/** what the GPU clock's β predicts: the span, or under fit --gpu-work censored the work read for a step that ended with its launch (fit/gpu-work.ts) */
export const gpuWork: StepTarget = (r) => r.gpu_work_ns ?? r.gpu_step_ns!;

/** The target of a clock. */
export const targetOfClock = (clock: StepClock): StepTarget => (clock === "gpu" ? gpuWork : stepTime);

export const CLOCK_TARGET: Record<StepClock, string> = {
  interval: "step_time_ns = update_from_output() entry − max(schedule() return, previous step's update_from_output() entry)",
  gpu: "gpu_step_ns = the step's time on the GPU: CUDA events at the model runner's execute_model() entry and its output (trace update.gpu)",
};
/** the GPU clock's target under fit --gpu-work censored */
export const GPU_WORK_TARGET = "gpu_work_ns = the step's time on the GPU (gpu_step_ns), except where a step without a CUDA graph ended with its launch: that time is an upper bound, and the work is read from the other steps (fit --gpu-work censored, fit/gpu-work.ts)";

/** The share of each run's kept steps with a GPU time (null: a run with no kept steps). */
export function gpuCoverage(runs: readonly (readonly BetaTrainingRow[])[]): (number | null)[] {
  return runs.map((steps) => {
    const kept = steps.filter((r) => r.excluded === null);
    return kept.length ? kept.filter(hasGpuTime).length / kept.length : null;
  });
}

export type ClockResolution = { clock: StepClock; error: null } | { clock: null; error: string };

/** The clock a choice gives on these runs; forcing gpu on runs without GPU times is an error that names the first such run. */
export function resolveClock(choice: ClockChoice, runs: readonly (readonly BetaTrainingRow[])[], sources: readonly string[]): ClockResolution {
  if (choice === "interval") return { clock: "interval", error: null };
  const cover = gpuCoverage(runs);
  const short = cover.findIndex((c) => c === null || c < MIN_GPU_TIME_COVERAGE);
  if (short < 0) return { clock: "gpu", error: null };
  if (choice === "auto") return { clock: "interval", error: null };
  const c = cover[short];
  return {
    clock: null,
    error: `--clock gpu: ${sources[short] ?? `run ${short + 1}`} has a GPU time on ${c === null || c === 0 ? "no" : `${(c * 100).toFixed(1)}% of its`} kept steps (at least ${MIN_GPU_TIME_COVERAGE * 100}% needed; the emitter records it from trace schema 1.6 with VLLM_SCHEDULER_LOG_GPU_TIME on, one GPU per engine)`,
  };
}

/** Under the GPU clock a kept step without a GPU time (the first and the last of a run) is left out. */
export function excludeUntimed(steps: BetaTrainingRow[]): void {
  for (const r of steps) if (r.excluded === null && !hasGpuTime(r)) r.excluded = "no_gpu_time";
}
