/**
 * Min/max per pixel bucket: the time axis is cut into `buckets` equal spans (one per pixel
 * of a chart at its widest) and each span keeps, per series, its smallest and largest
 * value at the span's first and last step time, in the order they occurred. A one-step
 * spike therefore still reaches its full height, which averaging or picking every k-th
 * step would lose. Below 2 × buckets steps nothing is dropped.
 */
export const BUCKETS = 1200;

export interface Downsampled {
  x: Float64Array;
  ys: Float64Array[];
  /** steps before downsampling */
  points: number;
}

/** per-series min/max; `x` must be ascending (NaN x are skipped) */
export function minMaxPerBucket(x: ArrayLike<number>, ys: ArrayLike<number>[], buckets = BUCKETS): Downsampled {
  const n = x.length;
  const idx = bucketsOf(x, buckets);
  if (idx === null) return { x: Float64Array.from(x), ys: ys.map((y) => Float64Array.from(y)), points: n };
  const outX: number[] = [];
  const outYs: number[][] = ys.map(() => []);
  for (const [a, b] of idx) {
    outX.push(x[a], x[b]);
    ys.forEach((y, k) => {
      let lo = a;
      let hi = a;
      for (let i = a; i <= b; i++) {
        if (Number.isNaN(y[i])) continue;
        if (Number.isNaN(y[lo]) || y[i] < y[lo]) lo = i;
        if (Number.isNaN(y[hi]) || y[i] > y[hi]) hi = i;
      }
      const [first, second] = lo <= hi ? [lo, hi] : [hi, lo];
      outYs[k].push(y[first], y[second]);
    });
  }
  return { x: Float64Array.from(outX), ys: outYs.map((v) => Float64Array.from(v)), points: n };
}

/**
 * For stacked series: per bucket the steps where the stack's total is smallest and largest,
 * every series taken at those same steps, so the layers still add up to a real total.
 */
export function stackedPerBucket(x: ArrayLike<number>, ys: ArrayLike<number>[], buckets = BUCKETS): Downsampled {
  const n = x.length;
  const idx = bucketsOf(x, buckets);
  if (idx === null) return { x: Float64Array.from(x), ys: ys.map((y) => Float64Array.from(y)), points: n };
  const total = (i: number) => ys.reduce((a, y) => a + (Number.isNaN(y[i]) ? 0 : y[i]), 0);
  const pick: number[] = [];
  for (const [a, b] of idx) {
    let lo = a;
    let hi = a;
    for (let i = a; i <= b; i++) {
      const t = total(i);
      if (t < total(lo)) lo = i;
      if (t > total(hi)) hi = i;
    }
    pick.push(Math.min(lo, hi), Math.max(lo, hi));
  }
  const outX = new Float64Array(pick.length);
  for (let k = 0; k < pick.length; k += 2) {
    outX[k] = x[idx[k / 2][0]];
    outX[k + 1] = x[idx[k / 2][1]];
  }
  return { x: outX, ys: ys.map((y) => Float64Array.from(pick, (i) => y[i])), points: n };
}

/** [first, last] step index of every non-empty bucket, or null when no downsampling is needed */
function bucketsOf(x: ArrayLike<number>, buckets: number): [number, number][] | null {
  const n = x.length;
  if (n <= 2 * buckets) return null;
  let t0 = NaN;
  let t1 = NaN;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i])) continue;
    if (Number.isNaN(t0)) t0 = x[i];
    t1 = x[i];
  }
  const span = t1 - t0 || 1;
  const out: [number, number][] = [];
  let cur = -1;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i])) continue;
    const b = Math.min(buckets - 1, Math.floor(((x[i] - t0) / span) * buckets));
    if (b !== cur) {
      out.push([i, i]);
      cur = b;
    } else out[out.length - 1][1] = i;
  }
  return out;
}
