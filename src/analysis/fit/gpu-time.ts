import type { BetaTrainingRow } from "../../schema/fit.js";
import { BETA_FEATURE_SETS } from "./features.js";
import type { ErrorMetrics, GroupMetrics } from "./metrics.js";
import { bestRidgeLambda, blockedCv, type Estimator, type StepWeights } from "./regress.js";
import { gpuTime, hasGpuTime, MIN_GPU_TIME_COVERAGE } from "./clock.js";

/**
 * The step model on the GPU's own time (trace schema 1.6, update.gpu; docs/fit.md "GPU time").
 *
 * Under async scheduling the update-to-update interval that fit's target and simulate's clock
 * use moves time between neighbouring steps (the launch of step N+1 can hold up the collection
 * of N), so a step model is right over a few steps and wrong on each one: per step type its
 * error measures that attribution as much as the model. Where the emitter timed each step on
 * the GPU, the same feature sets are fitted to that time with the same blocked
 * cross-validation, which says how well the batch alone predicts what the GPU did.
 */
export interface GpuTimeModel {
  id: string;
  feature_set: string;
  estimator: Estimator;
  cv: ErrorMetrics | null;
  cv_by_batch_type: GroupMetrics[];
}

export interface GpuTimeView {
  /** kept steps with a GPU time (the view's rows), of `kept` */
  steps: number;
  kept: number;
  /** Σ gpu_step_ns / Σ step_time_ns over the view's rows: the GPU's work as a share of fit's target (summary's gpu_time.busy_share is another ratio: of the GPU's own timeline) */
  gpu_over_step_time: number;
  /** Σ gpu_gap_ns / Σ step_time_ns over the rows with a gap: the GPU's idle time between steps, the same way */
  gap_over_step_time: number | null;
  /** empty when β itself is fitted to the GPU time (fit --clock gpu): its models are these */
  models: GpuTimeModel[];
  /** the lowest CV MAPE + 5 × |CV bias|, as fit chooses its exported model */
  chosen: string;
}

/** The feature sets that describe the batch itself: the next-step and host terms model the interval's attribution, not GPU work. */
export const GPU_TIME_SETS = ["tokens", "context", "gpu"] as const;
/** The view (given when at least MIN_GPU_TIME_COVERAGE of the kept steps has a GPU time); withModels false: the shares alone. */
export function gpuTimeView(kept: readonly BetaTrainingRow[], weights: StepWeights, ridgeRho: readonly number[], withModels = true): GpuTimeView | null {
  const rows = kept.filter(hasGpuTime);
  if (!rows.length || rows.length < MIN_GPU_TIME_COVERAGE * kept.length) return null;
  let busy = 0, time = 0, gap = 0, gapTime = 0;
  for (const r of rows) {
    busy += r.gpu_step_ns!;
    time += r.step_time_ns!;
    if (r.gpu_gap_ns !== null) [gap, gapTime] = [gap + r.gpu_gap_ns, gapTime + r.step_time_ns!];
  }
  const models: GpuTimeModel[] = [];
  for (const set of withModels ? GPU_TIME_SETS : []) {
    const terms = BETA_FEATURE_SETS[set];
    if (rows.length <= terms.length) continue;
    const fits: [Estimator, number | null][] = [["ols", null], ["ridge", bestRidgeLambda(rows, terms, ridgeRho, weights, gpuTime)], ["huber", null]];
    for (const [estimator, lambda] of fits) {
      const cv = blockedCv(rows, terms, lambda, estimator, [], weights, gpuTime);
      models.push({ id: `${set}/${estimator}`, feature_set: set, estimator, cv: cv.cv, cv_by_batch_type: cv.byType.filter((g) => g.group !== "prefill_episode") });
    }
  }
  const score = (m: GpuTimeModel) => (m.cv?.mape != null && m.cv.bias != null ? m.cv.mape + 5 * Math.abs(m.cv.bias) : Infinity);
  const chosen = models.reduce<GpuTimeModel | null>((b, m) => (b === null || score(m) < score(b) ? m : b), null);
  return { steps: rows.length, kept: kept.length, gpu_over_step_time: busy / time, gap_over_step_time: gapTime > 0 ? gap / gapTime : null, models, chosen: chosen?.id ?? "" };
}
