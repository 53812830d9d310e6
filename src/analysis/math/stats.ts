/**
 * Small, exact statistics for the summary. Quantiles are exact: values are kept in a
 * growable Float64Array (8 bytes each, so a few million values cost tens of MB) and
 * sorted once. The quantile definition is linear interpolation between closest ranks
 * (Hyndman-Fan type 7), the default of numpy.percentile and pandas.quantile, so a
 * researcher checking a figure with pandas gets the same number.
 */

/** A growable list of numbers backed by a Float64Array. */
export class Values {
  private buf = new Float64Array(1024);
  private n = 0;
  private sorted: Float64Array | null = null;

  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
    this.sorted = null;
  }

  get count(): number {
    return this.n;
  }

  /** the values in ascending order (a view; do not keep it across push) */
  sortedView(): Float64Array {
    if (!this.sorted) this.sorted = this.buf.subarray(0, this.n).sort();
    return this.sorted;
  }

  view(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
}

/** Index of the first element for which `before` is false, where `before` holds on a prefix (binary search over a sorted array). */
export function lowerBound(sorted: ArrayLike<number>, before: (v: number) => boolean): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(sorted[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Type-7 quantile of ascending values; null when empty. q in [0, 1]. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function mean(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/**
 * Jain's fairness index (Σx)² / (n·Σx²): 1 when every value is equal, 1/n when one
 * value takes everything. Null when empty or all zero.
 */
export function jainIndex(values: ArrayLike<number>): number | null {
  const n = values.length;
  if (n === 0) return null;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    s += values[i];
    s2 += values[i] * values[i];
  }
  return s2 === 0 ? null : (s * s) / (n * s2);
}

/**
 * Kendall's τ-b between paired samples, O(n log n) (Knight 1966, as in scipy.stats.kendalltau):
 * τ_b = (P − Q) / sqrt((n0 − n1)(n0 − n2)) with n0 = n(n−1)/2, n1 / n2 the pairs tied in
 * x / y. Null below 2 pairs or when either side is constant.
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  if (n !== y.length) throw new Error("kendallTauB: x and y differ in length");
  if (n < 2) return null;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  // sort by x, then y
  idx.sort((a, b) => x[a] - x[b] || y[a] - y[b]);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) ys[i] = y[idx[i]];

  const tiePairs = (eq: (i: number) => boolean): number => {
    let t = 0;
    let run = 1;
    for (let i = 1; i < n; i++) {
      if (eq(i)) run++;
      else {
        t += (run * (run - 1)) / 2;
        run = 1;
      }
    }
    return t + (run * (run - 1)) / 2;
  };
  const n1 = tiePairs((i) => x[idx[i]] === x[idx[i - 1]]);
  const n3 = tiePairs((i) => x[idx[i]] === x[idx[i - 1]] && ys[i] === ys[i - 1]);

  // merge sort ys counting exchanges (discordant pairs not tied in x or y)
  let swaps = 0;
  let src = ys;
  let dst = new Float64Array(n);
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (src[j] < src[i]) {
          dst[k++] = src[j++];
          swaps += mid - i;
        } else dst[k++] = src[i++];
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    [src, dst] = [dst, src];
  }
  const n2 = tiePairs((i) => src[i] === src[i - 1]);
  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denom === 0) return null;
  return (n0 - n1 - n2 + n3 - 2 * swaps) / denom;
}

/** The k largest items by a key, ties broken by a comparator; bounded memory. */
export class TopK<T> {
  private items: T[] = [];
  constructor(
    private readonly k: number,
    /** negative when a ranks before b */
    private readonly order: (a: T, b: T) => number,
  ) {}

  offer(item: T): void {
    if (this.items.length === this.k && this.order(item, this.items[this.k - 1]) >= 0) return;
    let i = this.items.length;
    while (i > 0 && this.order(item, this.items[i - 1]) < 0) i--;
    this.items.splice(i, 0, item);
    if (this.items.length > this.k) this.items.pop();
  }

  result(): T[] {
    return [...this.items];
  }
}
