import { kendallTauB } from "../math/stats.js";
import type { PredictionPoint, RunData } from "./collect.js";

/**
 * How good a run's length predictions were (predictions.csv: one row per prediction,
 * with the true remaining tokens known once the request finished).
 *
 * - error = predicted − actual remaining tokens: MAE, bias (mean error) and
 *   R² = 1 − Σerror² / Σ(actual − mean actual)², overall and by progress (output tokens
 *   at the prediction, in bins of the re-prediction interval);
 * - Kendall τ-b between predicted and true remaining tokens over all requests (each
 *   request's first prediction, made at arrival), and over the live waiting queue at each
 *   step (what an SRTF queue acts on): per_iteration_requests' waiting rows, each with the
 *   request's latest prediction at that step's start and its true remaining tokens then
 *   (final output tokens − tokens generated so far); averaged over steps with ≥ 2 queued.
 */
export interface ErrorStats {
  n: number;
  mae: number | null;
  bias: number | null;
  r2: number | null;
}

export interface PredictorQuality {
  predictions: number;
  requests: number;
  overall: ErrorStats;
  by_progress: ({ from_tokens: number; to_tokens: number | null } & ErrorStats)[];
  kendall_tau_b_all_requests: { tau_b: number | null; n: number };
  kendall_tau_b_waiting_queue: { mean_tau_b: number | null; steps: number; note: string | null };
}

function errorStats(pts: { p: number; a: number }[]): ErrorStats {
  const n = pts.length;
  if (!n) return { n, mae: null, bias: null, r2: null };
  let abs = 0;
  let sum = 0;
  let sq = 0;
  let am = 0;
  for (const { p, a } of pts) {
    abs += Math.abs(p - a);
    sum += p - a;
    sq += (p - a) ** 2;
    am += a;
  }
  am /= n;
  let sst = 0;
  for (const { a } of pts) sst += (a - am) ** 2;
  return { n, mae: abs / n, bias: sum / n, r2: sst > 0 ? 1 - sq / sst : null };
}

const BINS = 8;

function byProgress(all: PredictionPoint[]): PredictorQuality["by_progress"] {
  const width = all.reduce((w, p) => (p.at_tokens > 0 && p.at_tokens < w ? p.at_tokens : w), Infinity);
  const step = Number.isFinite(width) ? width : 1;
  const groups = new Map<number, { p: number; a: number }[]>();
  for (const q of all) {
    if (q.predicted === null || q.actual === null) continue;
    const bin = Math.min(Math.floor(q.at_tokens / step), BINS - 1);
    let g = groups.get(bin);
    if (!g) groups.set(bin, (g = []));
    g.push({ p: q.predicted, a: q.actual });
  }
  return [...groups.keys()]
    .sort((a, b) => a - b)
    .map((bin) => ({ from_tokens: bin * step, to_tokens: bin === BINS - 1 ? null : (bin + 1) * step, ...errorStats(groups.get(bin)!) }));
}

/** τ-b over each step's waiting queue: fed in collectRun's pass (a replay), or in a pass over per_iteration_requests now (a logs directory). */
async function queueTau(run: RunData): Promise<PredictorQuality["kendall_tau_b_waiting_queue"]> {
  const opts = run.source.info.options;
  if (opts.iterationRequests !== "all" || !run.queueTau) {
    return { mean_tau_b: null, steps: 0, note: `per_iteration_requests holds ${opts.iterationRequests} rows only (convert --iteration-requests all is needed)` };
  }
  const { tau, rowsFed } = run.queueTau;
  if (!rowsFed) await run.source.scan({ per_iteration_requests: (row) => tau.row(row) });
  return { ...tau.end(), note: null };
}

export async function predictorQuality(run: RunData): Promise<PredictorQuality | null> {
  const preds = run.predictions;
  if (!preds) return null;
  const all = [...preds.values()].flat();
  const scored = all.filter((p) => p.predicted !== null && p.actual !== null).map((p) => ({ p: p.predicted!, a: p.actual! }));
  const first: { p: number; a: number }[] = [];
  for (const list of preds.values()) {
    const f = list.find((p) => p.index === 0);
    if (f && f.predicted !== null && f.actual !== null) first.push({ p: f.predicted, a: f.actual });
  }
  return {
    predictions: all.length,
    requests: preds.size,
    overall: errorStats(scored),
    by_progress: byProgress(all),
    kendall_tau_b_all_requests: { tau_b: kendallTauB(first.map((f) => f.p), first.map((f) => f.a)), n: first.length },
    kendall_tau_b_waiting_queue: await queueTau(run),
  };
}
