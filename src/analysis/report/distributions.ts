import { mean, quantileSorted, Values } from "../math/stats.js";
import type { Distribution, Histogram, RankSeries, Seed002Statistics } from "./types.js";

/** quantile points per distribution: enough for a smooth CDF at any zoom, small at any run size */
const CDF_POINTS = 401;
const HIST_BINS = 60;
/** above this many steps a scatter of schedule vs model-run time is drawn as a density heatmap */
export const SCATTER_POINTS_MAX = 100_000;

export function histogram(sorted: ArrayLike<number>, bins = HIST_BINS): Histogram {
  const n = sorted.length;
  if (n === 0) return { edges: new Float64Array(0), counts: new Float64Array(0), total: 0 };
  const lo = sorted[0];
  const hi = sorted[n - 1];
  const k = hi > lo ? bins : 1;
  const w = hi > lo ? (hi - lo) / k : 1;
  const edges = Float64Array.from({ length: k + 1 }, (_, i) => lo + i * w);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) counts[Math.min(k - 1, Math.floor((sorted[i] - lo) / w))]++;
  return { edges, counts, total: n };
}

export function distribution(values: Values): Distribution {
  const s = values.sortedView();
  const m = s.length === 0 ? 0 : Math.min(CDF_POINTS, s.length);
  const cdf_p = new Float64Array(m);
  const cdf_v = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const p = m === 1 ? 1 : k / (m - 1);
    cdf_p[k] = p;
    cdf_v[k] = quantileSorted(s, p)!;
  }
  return { count: s.length, cdf_p, cdf_v, histogram: histogram(s) };
}

export function valuesOf(arrays: Iterable<ArrayLike<number>>): Values {
  const v = new Values();
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i])) v.push(a[i]);
  return v;
}

/** Seed 002's statistics the summary does not hold, over every rank's steps. */
export function seed002Statistics(ranks: RankSeries[], schedule: Values, modelRun: Values): Seed002Statistics {
  const s = schedule.sortedView();
  const m = modelRun.sortedView();
  let tokens = 0;
  let time = 0;
  let chunkMin: number | null = null;
  let chunkMax: number | null = null;
  let decodeTokens = 0;
  let decodeReqs = 0;
  for (const r of ranks) {
    for (let i = 0; i < r.steps; i++) {
      if (!Number.isNaN(r.duration_ns[i])) {
        tokens += r.total_tokens[i];
        time += r.duration_ns[i];
      }
      const d = r.decode_reqs[i];
      if (d > 0) {
        // per_iteration does not split decode tokens per request; the per-step mean is what it gives
        const c = r.decode_tokens[i] / d;
        decodeTokens += c * d;
        decodeReqs += d;
        if (chunkMin === null || c < chunkMin) chunkMin = c;
        if (chunkMax === null || c > chunkMax) chunkMax = c;
      }
    }
  }
  return {
    batches: ranks.reduce((a, r) => a + r.steps, 0),
    schedule_ns: { mean: mean(s), min: s.length ? s[0] : null, max: s.length ? s[s.length - 1] : null, p95: quantileSorted(s, 0.95) },
    model_run_ns: { mean: mean(m), p95: quantileSorted(m, 0.95) },
    scheduled_tokens_per_s: time > 0 ? tokens / (time / 1e9) : null,
    decode_chunks: { mean_tokens: decodeReqs ? decodeTokens / decodeReqs : null, min_tokens: chunkMin, max_tokens: chunkMax },
  };
}
