/**
 * Inference for `vsched compare`: a seeded moving-block bootstrap (requests are ordered by
 * arrival, and queueing makes neighbours correlated, so resampling single requests would
 * understate the spread), Wilcoxon's signed-rank test for paired runs, and the rule for when
 * a percentile is worth reporting. Pure and deterministic: same inputs and seed, same output.
 */

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Block length: round(n^(1/3)), the usual rate for a mean. Coverage (bench/compare-coverage.mjs,
 * docs/compare.md): 92-95% for a mean of independent requests, 89-91% under AR(1) phi = 0.3,
 * 86-91% at phi = 0.5 (longer blocks help strong dependence but under-cover at small n:
 * sqrt(n) gave 89% at n = 200).
 */
export const blockLength = (n: number): number => Math.max(1, Math.round(Math.cbrt(n)));

/**
 * Indices of one circular moving-block resample of 0..n-1 (Politis & Romano 1992): blocks of
 * `len` consecutive indices, starts uniform over 0..n-1, wrapping at the end, so every request
 * is equally likely to be drawn (plain moving blocks under-draw both ends, which shifts a
 * percentile interval).
 */
export function blockResample(n: number, len: number, rand: () => number, out = new Int32Array(n)): Int32Array {
  let k = 0;
  while (k < n) {
    const s = Math.floor(rand() * n);
    for (let j = 0; j < len && k < n; j++) out[k++] = (s + j) % n;
  }
  return out;
}

/** Linear-interpolation quantile (type 7, numpy's default) of an ascending array. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 1) return sorted[0];
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export type Statistic = { kind: "mean" } | { kind: "quantile"; q: number };

export function statOf(values: ArrayLike<number>, s: Statistic): number {
  if (s.kind === "mean") {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i];
    return sum / values.length;
  }
  return quantileOfSorted(Float64Array.from(values).sort(), s.q);
}

function take(values: ArrayLike<number>, idx: Int32Array, out: Float64Array): Float64Array {
  for (let i = 0; i < idx.length; i++) out[i] = values[idx[i]];
  return out;
}

export interface Interval {
  lo: number;
  hi: number;
}

/** The 2.5th and 97.5th percentiles of the bootstrap replicates (percentile interval). */
function percentileInterval(reps: Float64Array): Interval {
  reps.sort();
  return { lo: quantileOfSorted(reps, 0.025), hi: quantileOfSorted(reps, 0.975) };
}

/**
 * The two 95% intervals of one comparison, from the same resamples: the difference
 * stat(b) - stat(a), and the relative change stat(b) / stat(a) - 1 bootstrapped as a ratio in
 * each resample (so a non-negative quantity's interval never goes below -100%; the percentile
 * interval is the same as the log ratio's transformed back). `ratio` is null when stat(a) is
 * not positive in every resample: the ratio is then undefined for part of the distribution.
 */
export interface DiffIntervals {
  diff: Interval;
  ratio: Interval | null;
}

/**
 * Paired runs: a[i] and b[i] are the same request, in the baseline's arrival order; one
 * resample of indices serves both (the pairing is kept). Unpaired runs: each run resampled in
 * its own arrival order.
 */
export function bootstrapCIs(a: ArrayLike<number>, b: ArrayLike<number>, s: Statistic, resamples: number, seed: number, paired: boolean): DiffIntervals {
  if (paired && a.length !== b.length) throw new Error("paired samples differ in length");
  const rand = rng(seed);
  const ia = new Int32Array(a.length);
  const ib = paired ? ia : new Int32Array(b.length);
  const ta = new Float64Array(a.length);
  const tb = new Float64Array(b.length);
  const diffs = new Float64Array(resamples);
  const ratios = new Float64Array(resamples);
  let ratioDefined = true;
  for (let r = 0; r < resamples; r++) {
    blockResample(a.length, blockLength(a.length), rand, ia);
    if (!paired) blockResample(b.length, blockLength(b.length), rand, ib);
    const sa = statOf(take(a, ia, ta), s);
    const sb = statOf(take(b, ib, tb), s);
    diffs[r] = sb - sa;
    if (sa > 0) ratios[r] = sb / sa - 1;
    else ratioDefined = false;
  }
  return { diff: percentileInterval(diffs), ratio: ratioDefined ? percentileInterval(ratios) : null };
}

/** 95% CI of stat(b) - stat(a) for paired runs (bootstrapCIs' difference). */
export const pairedDiffCI = (a: ArrayLike<number>, b: ArrayLike<number>, s: Statistic, resamples: number, seed: number): Interval =>
  bootstrapCIs(a, b, s, resamples, seed, true).diff;

/** 95% CI of stat(b) - stat(a) for unpaired runs (bootstrapCIs' difference). */
export const unpairedDiffCI = (a: ArrayLike<number>, b: ArrayLike<number>, s: Statistic, resamples: number, seed: number): Interval =>
  bootstrapCIs(a, b, s, resamples, seed, false).diff;

/**
 * A percentile q is reported only when at least MIN_TAIL observations lie beyond it
 * (n * (1 - q) >= 10; p50 needs 20 requests, p90 100, p99 1000): below that the estimate is
 * one of the few largest values and its bootstrap interval means little.
 */
export const MIN_TAIL = 10;
export const minNForQuantile = (q: number): number => Math.ceil(MIN_TAIL / Math.min(q, 1 - q) - 1e-9);

/** erfc with fractional error < 1.2e-7 everywhere (Numerical Recipes' erfcc, Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export interface WilcoxonResult {
  /** min(W+, W-), scipy.stats.wilcoxon's two-sided statistic */
  statistic: number;
  p_value: number;
  /** non-zero differences used (zeros are dropped: zero_method "wilcox") */
  n: number;
  method: "exact" | "normal";
}

/**
 * Wilcoxon signed-rank test of the paired differences d = b - a, two-sided, as
 * scipy.stats.wilcoxon(d) computes it by default: zeros dropped, average ranks for ties,
 * the exact null distribution when n <= 50 and nothing ties, else the normal approximation
 * with the tie correction and no continuity correction. Null when no difference is non-zero.
 */
export function wilcoxonSignedRank(d: ArrayLike<number>): WilcoxonResult | null {
  const nz: number[] = [];
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz.push(d[i]);
  const n = nz.length;
  if (n === 0) return null;
  const order = nz.map((_, i) => i).sort((i, j) => Math.abs(nz[i]) - Math.abs(nz[j]));
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && Math.abs(nz[order[j + 1]]) === Math.abs(nz[order[i]])) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = avg;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (nz[i] > 0) wPlus += ranks[i];
  const total = (n * (n + 1)) / 2;
  const T = Math.min(wPlus, total - wPlus);
  if (n <= 50 && tieTerm === 0) return { statistic: T, p_value: Math.min(1, 2 * exactLowerTail(n, T)), n, method: "exact" };
  const mean = total / 2;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const z = (T - mean) / sd;
  return { statistic: T, p_value: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)), n, method: "normal" };
}

/** P(W+ <= t) under the null for n untied ranks: subsets of 1..n counted by their sum. */
function exactLowerTail(n: number, t: number): number {
  const max = (n * (n + 1)) / 2;
  let counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let k = 1; k <= n; k++) {
    const next = counts.slice();
    for (let s = k; s <= max; s++) next[s] += counts[s - k];
    counts = next;
  }
  let below = 0;
  for (let s = 0; s <= Math.floor(t); s++) below += counts[s];
  return below / 2 ** n;
}
