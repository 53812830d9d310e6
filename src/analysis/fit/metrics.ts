import { quantileSorted } from "../math/stats.js";

/**
 * Error metrics of predictions against actual values (both in ns), as docs/fit.md defines them:
 * APE_i = |pred_i − actual_i| / actual_i (actual > 0); MAPE = mean APE; median and P90 APE
 * type-7 quantiles; bias = Σ(pred − actual) / Σ actual (signed, a share); MAE in ns; R² = 1 − SSE/SST.
 * Percentages are fractions (0.05 = 5%).
 */
export interface ErrorMetrics {
  n: number;
  mape: number | null;
  median_ape: number | null;
  p90_ape: number | null;
  bias: number | null;
  mean_error_ns: number | null;
  mae_ns: number | null;
  r2: number | null;
}

export function errorMetrics(pred: ArrayLike<number>, actual: ArrayLike<number>): ErrorMetrics {
  const n = actual.length;
  if (n === 0) return { n: 0, mape: null, median_ape: null, p90_ape: null, bias: null, mean_error_ns: null, mae_ns: null, r2: null };
  const ape = new Float64Array(n);
  let sumErr = 0, sumAct = 0, sse = 0, mean = 0, sumAbs = 0;
  for (let i = 0; i < n; i++) mean += actual[i] / n;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const e = pred[i] - actual[i];
    ape[i] = actual[i] > 0 ? Math.abs(e) / actual[i] : 0;
    sumErr += e;
    sumAbs += Math.abs(e);
    sumAct += actual[i];
    sse += e * e;
    sst += (actual[i] - mean) ** 2;
  }
  let s = 0;
  for (const v of ape) s += v;
  ape.sort();
  return {
    n,
    mape: s / n,
    median_ape: quantileSorted(ape, 0.5),
    p90_ape: quantileSorted(ape, 0.9),
    bias: sumAct > 0 ? sumErr / sumAct : null,
    mean_error_ns: sumErr / n,
    mae_ns: sumAbs / n,
    r2: sst > 0 ? 1 - sse / sst : null,
  };
}

export type BatchType = "prefill_only" | "decode_only" | "mixed";
export const BATCH_TYPES = ["prefill_only", "decode_only", "mixed"] as const satisfies readonly BatchType[];

export function batchType(prefillReqs: number, decodeReqs: number): BatchType {
  if (decodeReqs === 0) return "prefill_only";
  if (prefillReqs === 0) return "decode_only";
  return "mixed";
}

export interface GroupMetrics extends ErrorMetrics {
  group: string;
}

/**
 * Test rows ordered by batch size and cut into ten equal-count groups (ties may straddle
 * a cut; the label gives each group's batch-size range).
 */
export function byDecile(pred: ArrayLike<number>, actual: ArrayLike<number>, size: ArrayLike<number>): GroupMetrics[] {
  const idx = [...Array(actual.length).keys()].sort((a, b) => size[a] - size[b] || a - b);
  const out: GroupMetrics[] = [];
  for (let d = 0; d < 10; d++) {
    const part = idx.slice(Math.floor((d * idx.length) / 10), Math.floor(((d + 1) * idx.length) / 10));
    if (!part.length) continue;
    const m = errorMetrics(part.map((i) => pred[i]), part.map((i) => actual[i]));
    out.push({ group: `d${d + 1} batch ${size[part[0]]}-${size[part[part.length - 1]]}`, ...m });
  }
  return out;
}

/**
 * Prefill episodes: the steps with prefill tokens and the step on each side of them, joined
 * where they touch (a maximal run of consecutive steps of one rank in which a step or a
 * neighbour has prefill). Under async scheduling a step's time is the interval between two
 * output collections, and where the host is late to launch a graphless (prefill) step the
 * boundary between neighbouring intervals moves: one step reads long and the next short by the
 * same amount. The per-step error of a mixed step counts that shift twice; an episode's total
 * (what the simulated clock accumulates) does not.
 *
 * `rows` in step order per rank, as a run's training rows are (pooled runs concatenated: the
 * next run starts again from its first steps, so no episode spans two runs). Neighbours are
 * adjacent rows of the same rank whose iteration ids follow each other: a left-out step ends
 * an episode. Returns each episode's row indices.
 */
export function prefillEpisodes(rows: readonly { dp_rank: number; iteration_id: number; prefill_reqs: number }[]): number[][] {
  const next = (k: number) => k + 1 < rows.length && rows[k + 1].dp_rank === rows[k].dp_rank && rows[k + 1].iteration_id === rows[k].iteration_id + 1;
  const prefill = (k: number) => rows[k].prefill_reqs > 0;
  const inEpisode = rows.map((_, k) => prefill(k) || (next(k) && prefill(k + 1)) || (k > 0 && next(k - 1) && prefill(k - 1)));
  const out: number[][] = [];
  for (let k = 0; k < rows.length; k++) {
    if (!inEpisode[k]) continue;
    const ep = [k];
    while (next(k) && inEpisode[k + 1]) ep.push(++k);
    out.push(ep);
  }
  return out;
}

/** Error metrics of each episode's total time (predicted sum against actual sum). */
export function episodeMetrics(episodes: readonly number[][], pred: ArrayLike<number>, actual: ArrayLike<number>): ErrorMetrics {
  const sum = (ep: readonly number[], v: ArrayLike<number>) => ep.reduce((s, i) => s + v[i], 0);
  return errorMetrics(episodes.map((ep) => sum(ep, pred)), episodes.map((ep) => sum(ep, actual)));
}
