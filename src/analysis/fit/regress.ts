import type { BetaTrainingRow } from "../../schema/fit.js";
import { termValue, type Term } from "./features.js";
import { batchType, BATCH_TYPES, episodeMetrics, errorMetrics, type ErrorMetrics, type GroupMetrics } from "./metrics.js";
import { huber, ols, olsCoef, predict, ridge, tQuantile, weightRows, type Design } from "../math/linalg.js";

/**
 * The regressions under vsched fit: a design matrix from feature terms, OLS (HC3 intervals),
 * ridge or Huber, and the two ways a model is scored (validation MAPE on the end of the training
 * period; blocked cross-validation over the whole run). The target is a function of the row:
 * the update-to-update step time by default, the GPU's own time for the GPU-time view.
 */

/** A weight per kept step (mean 1 over the pool), or null: every step alike. */
export type StepWeights = ReadonlyMap<object, number> | null;

/** ols and ridge fit the mean step; huber the typical one (stalls of a shared host down-weighted). */
export type Estimator = "ols" | "ridge" | "huber";

export interface CoefEstimate {
  term: string;
  factors: readonly string[];
  /** ns of target per unit of the term */
  coef: number;
  /** HC3 standard error (OLS only) */
  se: number | null;
  ci95_low: number | null;
  ci95_high: number | null;
  /** exactly collinear with earlier terms in this data: fixed at 0 */
  dropped: boolean;
}

/** What a step model predicts, read from a training row. */
export type StepTarget = (r: BetaTrainingRow) => number;
export const stepTime: StepTarget = (r) => r.step_time_ns!;

function design(rows: readonly Record<string, unknown>[], terms: readonly Term[]): Design {
  const p = terms.length;
  const x = new Float64Array(rows.length * p);
  rows.forEach((r, i) => terms.forEach((t, j) => (x[i * p + j] = termValue(t, (f) => Number(r[f])))));
  return { n: rows.length, p, x };
}

export const targetOf = <R>(rows: readonly R[], f: (r: R) => number) => Float64Array.from(rows, f);

/** OLS with HC3 intervals, or ridge / Huber (no intervals). */
export function estimate(rows: readonly Record<string, unknown>[], y: Float64Array, terms: readonly Term[], lambda: number | null, estimator: Estimator = lambda === null ? "ols" : "ridge", weights: StepWeights = null): CoefEstimate[] {
  const d = design(rows, terms);
  const icpt = terms.findIndex((t) => t.factors.length === 0);
  const w = weights ? Float64Array.from(rows, (r) => weights.get(r) ?? 1) : undefined;
  if (estimator !== "ols") {
    const c = estimator === "huber" ? huber(d, y, undefined, undefined, w) : ridge(d, y, lambda!, icpt >= 0 ? icpt : null, w);
    return terms.map((t, j) => ({ term: t.name, factors: t.factors, coef: c[j], se: null, ci95_low: null, ci95_high: null, dropped: false }));
  }
  const ls = w ? weightRows(d, y, w) : { d, y };
  const r = ols(ls.d, ls.y);
  const tq = r.dfResid > 0 ? tQuantile(0.975, r.dfResid) : null;
  return terms.map((t, j) => ({
    term: t.name, factors: t.factors, coef: r.coef[j], se: r.kept[j] ? r.se[j] : null,
    ci95_low: r.kept[j] && tq !== null ? r.coef[j] - tq * r.se[j] : null,
    ci95_high: r.kept[j] && tq !== null ? r.coef[j] + tq * r.se[j] : null,
    dropped: !r.kept[j],
  }));
}

export function predictRows(rows: readonly Record<string, unknown>[], terms: readonly Term[], est: readonly CoefEstimate[]): Float64Array {
  return predict(design(rows, terms), est.map((e) => e.coef));
}

/**
 * OLS refitted to successive targets on the same rows and terms (an imputation's rounds), read
 * at the rows `at`: both designs are built once and no HC3 errors are computed. The coefficients
 * are estimate(rows, y, terms, null, "ols", weights)'s, bit for bit.
 */
export function olsRefitAt(rows: readonly Record<string, unknown>[], terms: readonly Term[], weights: StepWeights, at: readonly Record<string, unknown>[]): (y: Float64Array) => Float64Array {
  const d = design(rows, terms), atDesign = design(at, terms);
  const w = weights ? Float64Array.from(rows, (r) => weights.get(r) ?? 1) : undefined;
  return (y) => {
    const ls = w ? weightRows(d, y, w) : { d, y };
    return predict(atDesign, olsCoef(ls.d, ls.y));
  };
}

/** Fit on the first 80% of train, MAPE on the rest: the basis of every choice (λ, exported model). */
export function validationMape<R extends Record<string, unknown>>(train: readonly R[], y: (r: R) => number, terms: readonly Term[], lambda: number | null, estimator?: Estimator, weights: StepWeights = null): number | null {
  const cut = Math.floor(train.length * 0.8);
  const fitRows = train.slice(0, cut), valRows = train.slice(cut);
  if (fitRows.length <= terms.length || !valRows.length) return null;
  const est = estimate(fitRows, targetOf(fitRows, y), terms, lambda === null ? null : lambda * (fitRows.length / train.length), estimator, weights);
  return errorMetrics(predictRows(valRows, terms, est), targetOf(valRows, y)).mape;
}

/** Each block predicted by the model fitted on the other blocks; metrics overall and by batch type. */
export function blockedCv(kept: readonly BetaTrainingRow[], terms: readonly Term[], lambda: number | null, estimator: Estimator, episodes: readonly number[][], weights: StepWeights, y: StepTarget = stepTime): { cv: ErrorMetrics | null; byType: GroupMetrics[] } {
  const blocks = [...new Set(kept.map((r) => r.block!))];
  const pred = new Float64Array(kept.length);
  for (const b of blocks) {
    const fitRows = kept.filter((r) => r.block !== b);
    if (fitRows.length <= terms.length) return { cv: null, byType: [] };
    const est = estimate(fitRows as unknown as Record<string, unknown>[], targetOf(fitRows, y), terms, lambda === null ? null : (lambda * fitRows.length) / kept.length, estimator, weights);
    const idx = kept.map((r, i) => (r.block === b ? i : -1)).filter((i) => i >= 0);
    const p = predictRows(idx.map((i) => kept[i]) as unknown as Record<string, unknown>[], terms, est);
    idx.forEach((i, k) => (pred[i] = p[k]));
  }
  const act = targetOf(kept, y);
  const byType: GroupMetrics[] = BATCH_TYPES.map((bt) => {
    const idx = kept.map((r, i) => (batchType(r.prefill_reqs, r.decode_reqs) === bt ? i : -1)).filter((i) => i >= 0);
    return { group: bt, ...errorMetrics(idx.map((i) => pred[i]), idx.map((i) => act[i])) };
  });
  // appended after the step types: each prefill episode's total (metrics.ts, prefillEpisodes)
  byType.push({ group: "prefill_episode", ...episodeMetrics(episodes, pred, act) });
  return { cv: errorMetrics(pred, act), byType };
}

export function bestRidgeLambda(train: readonly BetaTrainingRow[], terms: readonly Term[], rhos: readonly number[], weights: StepWeights, y: StepTarget = stepTime): number {
  let best = rhos[0] * train.length, bestMape = Infinity;
  for (const rho of rhos) {
    const m = validationMape(train as unknown as Record<string, unknown>[], (r) => y(r as unknown as BetaTrainingRow), terms, rho * train.length, "ridge", weights);
    if (m !== null && m < bestMape) [best, bestMape] = [rho * train.length, m];
  }
  return best;
}
