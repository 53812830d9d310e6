import { computeSummary, type Slo } from "../summary/index.js";
import type { RowHandlers, TableSource } from "../../tables/types.js";
import { distribution, histogram, SCATTER_POINTS_MAX, seed002Statistics, valuesOf } from "./distributions.js";
import { RequestCollector } from "./requests.js";
import { engineCpuMissingWhy } from "./engine-cpu.js";
import { gpuTimeMissingWhy } from "./gpu-time.js";
import { notCapturedWhy } from "./not-captured.js";
import { StepCollector } from "./steps.js";
import type { Distributions, Fairness, Predictions, RankSeries, ReportData } from "./types.js";
import { Values } from "../math/stats.js";

export type { ReportData } from "./types.js";

export interface ReportOptions {
  title?: string;
  slo?: Slo;
  /** most request rows (and lanes) embedded; larger runs embed the most interesting ones */
  requestCap?: number;
}

export const DEFAULT_REQUEST_CAP = 10_000;

/**
 * Everything the report shows, in one pass over the tables plus the summary's own passes.
 * The summary is computed by computeSummary (the object `summary --json` prints), never
 * recomputed here. Its per_iteration_requests pass is shared with ours (teeSource), so a
 * trace is not replayed twice for the expensive table.
 */
export async function computeReport(source: TableSource, opts: ReportOptions = {}): Promise<ReportData> {
  const steps = new StepCollector();
  const reqs = new RequestCollector();
  const handlers = {
    per_request: (r) => reqs.request(r),
    per_iteration: (r) => steps.iteration(r),
    per_iteration_requests: (r) => reqs.iterationRequest(r, steps),
  } satisfies RowHandlers;
  const tee = teeSource(source, handlers);
  const summary = await computeSummary(tee.source, { slo: opts.slo });
  if (!tee.done()) await source.scan(handlers);
  reqs.finishLanes();

  const notes: string[] = [];
  const hasWaitingRows = source.columns("per_iteration_requests") !== null && source.info.options.iterationRequests === "all";
  if (!hasWaitingRows) notes.push("no_waiting_rows");
  if (source.info.options.iterationRequestsEvery > 1) notes.push("iteration_requests_sampled");
  const ranks = steps.result(hasWaitingRows);
  const rows = reqs.select(opts.requestCap ?? DEFAULT_REQUEST_CAP);
  if (rows.length < reqs.count) notes.push("requests_selected");
  const table = reqs.table(rows, reqs.count);
  const schedule = valuesOf(ranks.map((r) => r.schedule_ns));
  const modelRun = valuesOf(ranks.map((r) => r.forward_ns));
  const distributions = distributionsOf(reqs, ranks, schedule, modelRun);
  return {
    report_format: 1,
    title: opts.title ?? `vsched report: ${source.info.label}`,
    label: source.info.label,
    summary,
    statistics: seed002Statistics(ranks, schedule, modelRun),
    ranks,
    requests: table,
    lanes: reqs.lanes(rows, steps),
    fairness: fairnessOf(reqs, rows),
    distributions,
    predictions: predictionsOf(reqs),
    notes,
    gpu_stats_missing: ranks.some((r) => r.gpu !== null) ? null : gpuMissingWhy(source),
    engine_cpu_missing: ranks.some((r) => r.engine_cpu !== null) ? null : engineCpuMissingWhy(source, steps.cpuFigures),
    gpu_time_missing: ranks.some((r) => r.gpu_time !== null) ? null : gpuTimeMissingWhy(source, steps.gpuTimeFigures),
  };
}

/** what the trace header says about GPU stats it could not capture, else that it has none */
function gpuMissingWhy(source: TableSource): string {
  return notCapturedWhy(source, "GPU stats") ?? "the trace has no gpu records (an emitter before trace schema 1.4, or no sample fell on a step)";
}

/**
 * The source the summary reads, with the report's handlers riding along on the first pass
 * that reads per_iteration_requests (the expensive table), so that pass serves both.
 */
function teeSource(source: TableSource, mine: Required<Pick<RowHandlers, "per_request" | "per_iteration" | "per_iteration_requests">>): { source: TableSource; done: () => boolean } {
  let done = false;
  const wrapped: TableSource = {
    info: source.info,
    columns: (t) => source.columns(t),
    scan(h: RowHandlers) {
      if (done || !h.per_iteration_requests) return source.scan(h);
      done = true;
      const both = <R>(a: ((r: R) => void) | undefined, b: (r: R) => void) => (a ? (r: R) => (a(r), b(r)) : b);
      return source.scan({
        ...h,
        per_request: both(h.per_request, mine.per_request),
        per_iteration: both(h.per_iteration, mine.per_iteration),
        per_iteration_requests: both(h.per_iteration_requests, mine.per_iteration_requests),
      });
    },
  };
  return { source: wrapped, done: () => done };
}

function distributionsOf(reqs: RequestCollector, ranks: RankSeries[], schedule: Values, modelRun: Values): Distributions {
  const all = (s: { toArray(): ArrayLike<number> }) => valuesOf([s.toArray()]);
  return {
    ttft: distribution(all(reqs.ttft)),
    tpot: distribution(all(reqs.tpot)),
    itl: null,
    queue_time: distribution(all(reqs.queueNs)),
    e2e: distribution(all(reqs.e2e)),
    schedule: distribution(schedule),
    model_run: distribution(modelRun),
    scatter: scatterOf(ranks),
  };
}

/** schedule vs model-run time per step, in ms; a 2-D histogram once points would clutter (and weigh) the page */
function scatterOf(ranks: RankSeries[]): Distributions["scatter"] {
  const n = ranks.reduce((a, r) => a + r.steps, 0);
  const each = (f: (x: number, y: number) => void) => {
    for (const r of ranks) for (let i = 0; i < r.steps; i++) if (!Number.isNaN(r.forward_ns[i])) f(r.schedule_ns[i] / 1e6, r.forward_ns[i] / 1e6);
  };
  if (n <= SCATTER_POINTS_MAX) {
    const x: number[] = [];
    const y: number[] = [];
    each((a, b) => (x.push(a), y.push(b)));
    return { kind: "points", x: Float32Array.from(x), y: Float32Array.from(y) };
  }
  let xMax = 0;
  let yMax = 0;
  each((a, b) => ((xMax = Math.max(xMax, a)), (yMax = Math.max(yMax, b))));
  const nx = 120;
  const ny = 80;
  const counts = new Float32Array(nx * ny);
  each((a, b) => counts[Math.min(ny - 1, Math.floor((b / (yMax || 1)) * ny)) * nx + Math.min(nx - 1, Math.floor((a / (xMax || 1)) * nx))]++);
  return { kind: "density", nx, ny, x_max: xMax, y_max: yMax, counts };
}

function fairnessOf(reqs: RequestCollector, rows: number[]): Fairness {
  const order = rows.map((r, k) => ({ k, w: reqs.longestWait.get(r) })).filter((e) => e.w > 0);
  order.sort((a, b) => b.w - a.w || a.k - b.k);
  const rates = new Values();
  for (let i = 0; i < reqs.count; i++) {
    const e = reqs.e2e.get(i);
    if (e > 0) rates.push(reqs.output.get(i) / (e / 1e9));
  }
  return {
    longest_waits: order.slice(0, 15).map((e) => ({ request: e.k, wait_ns: e.w })),
    trajectories: order.slice(0, 8).map((e) => e.k),
    service_rate: histogram(rates.sortedView()),
  };
}

function predictionsOf(reqs: RequestCollector): Predictions | null {
  const p: number[] = [];
  const a: number[] = [];
  for (let i = 0; i < reqs.count; i++) {
    const v = reqs.predicted.get(i);
    if (!Number.isNaN(v)) (p.push(v), a.push(reqs.output.get(i)));
  }
  return p.length ? { predicted: Float32Array.from(p), actual: Float32Array.from(a) } : null;
}
