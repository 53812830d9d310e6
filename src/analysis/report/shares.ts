import type { Indexed } from "./arrays.js";

/**
 * Per-step figures (ns, NaN where a step has none) over each step's interval, times[i] −
 * times[i−1]: one Float32Array of shares per figure, NaN where there is none. A step has shares
 * only where its first figure is there and the interval is known and positive (step 0 never);
 * `points` counts, per figure, the steps given a share.
 */
export function intervalShares(times: Float64Array, n: number, figures: readonly Indexed<Float64Array>[]): { shares: Float32Array[]; points: number[] } {
  const shares = figures.map(() => new Float32Array(n).fill(NaN));
  const points = figures.map(() => 0);
  for (let i = 1; i < n; i++) {
    const interval = times[i] - times[i - 1];
    // NaN (a missing time or figure) fails this too
    if (!(interval > 0) || Number.isNaN(figures[0].get(i))) continue;
    figures.forEach((f, k) => {
      const v = f.get(i);
      if (Number.isNaN(v)) return;
      points[k]++;
      shares[k][i] = v / interval;
    });
  }
  return { shares, points };
}
