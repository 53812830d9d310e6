import type { BetaTrainingRow } from "../../schema/fit.js";
import { BETA_FEATURE_SETS } from "./features.js";
import { errorMetrics } from "./metrics.js";
import { estimate, predictRows, targetOf, type Estimator, type StepTarget, type StepWeights } from "./regress.js";

/**
 * How a model of a pool of engine configurations (fit --with) does on a configuration it never
 * saw: refitted without each configuration's runs, its total-time bias on that configuration's
 * kept steps, |bias| averaged over the configurations. A what-if replays a configuration the
 * model was not trained on, and a simulator's latencies follow the step-time bias several times
 * over near capacity, so this, not the blocked CV inside each run, is what the choice of a
 * pooled model should weigh. On the H100 GPU-time runs (docs/fit.md, "A sixth session") the CV
 * chose models 1.4–2.2% biased on a held-out configuration where a model with prefill requests
 * as a term was within 1.5%.
 */
export const MIN_CONFIGS = 3;

export interface ConfigOutModel {
  feature_set: string;
  estimator: Estimator;
  ridge_lambda: number | null;
}

/**
 * The model refitted on `rest` and summed over `held`: (Σ predicted − Σ recorded) / Σ recorded,
 * or null when either side is too small. Ridge's λ was chosen per training row (`trainSteps` of
 * them): the same penalty per row here.
 */
export function biasWithout(held: readonly BetaTrainingRow[], rest: readonly BetaTrainingRow[], trainSteps: number, m: ConfigOutModel, weights: StepWeights, y: StepTarget): number | null {
  const terms = BETA_FEATURE_SETS[m.feature_set as keyof typeof BETA_FEATURE_SETS];
  if (!held.length || rest.length <= terms.length) return null;
  const lambda = m.ridge_lambda === null ? null : (m.ridge_lambda * rest.length) / trainSteps;
  const est = estimate(rest as unknown as Record<string, unknown>[], targetOf(rest, y), terms, lambda, m.estimator, weights);
  return errorMetrics(predictRows(held as unknown as Record<string, unknown>[], terms, est), targetOf(held, y)).bias;
}

/** Mean |total-time bias| over the held-out configurations, or null with fewer than MIN_CONFIGS of them. */
export function configOutBias(kept: readonly BetaTrainingRow[], groupOf: ReadonlyMap<object, number>, trainSteps: number, m: ConfigOutModel, weights: StepWeights, y: StepTarget): number | null {
  const groups = [...new Set(kept.map((r) => groupOf.get(r)!))];
  if (groups.length < MIN_CONFIGS) return null;
  let sum = 0, n = 0;
  for (const g of groups) {
    const bias = biasWithout(kept.filter((r) => groupOf.get(r) === g), kept.filter((r) => groupOf.get(r) !== g), trainSteps, m, weights, y);
    if (bias !== null) [sum, n] = [sum + Math.abs(bias), n + 1];
  }
  return n ? sum / n : null;
}
