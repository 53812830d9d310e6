/**
 * Kendall's τ-b the slow, obvious way (every pair), as an independent reference for the
 * O(n log n) implementation in src/analysis/math/stats.ts.
 */
export function kendallTauBrute(x: number[], y: number[]): number | null {
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < x.length; i++)
    for (let j = i + 1; j < x.length; j++) {
      const sx = Math.sign(x[i] - x[j]);
      const sy = Math.sign(y[i] - y[j]);
      if (sx === 0 && sy === 0) continue;
      if (sx === 0) tx++;
      else if (sy === 0) ty++;
      else if (sx === sy) c++;
      else d++;
    }
  const denom = Math.sqrt((c + d + tx) * (c + d + ty));
  return denom === 0 ? null : (c - d) / denom;
}
