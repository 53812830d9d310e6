import type { TableSource } from "../../tables/types.js";
import type { AlphaTrainingRow, BetaTrainingRow } from "../../schema/fit.js";
import { quantileSorted } from "../math/stats.js";
import { collectFitData, CV_BLOCKS, type FitData, type PostUpdate } from "./data.js";
import { ALPHA_TERMS, BETA_FEATURE_SETS, BETA_FEATURE_SET_NAMES, GPU_ONLY_SETS, GPU_PHYSICS_SETS, INTERVAL_ONLY_SETS, termValue, type BetaFeatureSet, type Term } from "./features.js";
import { batchType, BATCH_TYPES, byDecile, errorMetrics, prefillEpisodes, type ErrorMetrics, type GroupMetrics } from "./metrics.js";
import { bestRidgeLambda, blockedCv, estimate, predictRows, targetOf, validationMape, type CoefEstimate, type Estimator, type StepTarget, type StepWeights } from "./regress.js";
import { CLOCK_TARGET, GPU_WORK_TARGET, excludeUntimed, resolveClock, targetOfClock, type ClockChoice, type StepClock } from "./clock.js";
import type { CaptureSizes } from "./gpu.js";
import { applyHostCpu, indexAt, windowIndex, type HostCpu } from "./host-cpu.js";
import { MIN_WAIT_SHARE, waitShare } from "./cpu-wait.js";
import { gpuTimeView, type GpuTimeView } from "./gpu-time.js";
import { applyGpuWork, type GpuWork, type GpuWorkMode } from "./gpu-work.js";
import { fitHostPart, type HostPart, type LaunchWaits } from "./host-part.js";
import { biasWithout, configOutBias } from "./config-out.js";
import { fitFrontendDelay, frontendObservations, replayFrontendDelays, type FrontendDelayModel } from "./frontend.js";

/**
 * vsched fit: β (step time) and α (queue delay) regressions with a chronological hold-out
 * (docs/fit.md). Pure: a TableSource in, a plain object out.
 */
export interface FitOptions {
  warmupSteps: number;
  testFraction: number;
  /** ridge penalties, as multiples of the number of training rows (features standardised) */
  ridgeRho: readonly number[];
  /** force the exported model, e.g. "tokens/ols"; default: the lowest validation MAPE */
  use?: string;
  /**
   * How a pooled fit (several runs) weighs its steps: "configs", each engine configuration as
   * much as any other, its runs' steps alike (ten runs of one configuration do not drown one run
   * of another; runs of one configuration are fitted as if they were one run); "runs", each run
   * as much as any other; "steps", each step alike. One run, or one configuration under
   * "configs": every step alike.
   */
  weigh: Weigh;
  /** what β predicts: the update-to-update interval or each step's GPU time (clock.ts); auto: the GPU time where every run has it */
  clock: ClockChoice;
  /** under the GPU clock, a step that ended with its launch: its span, or its work read as censored (gpu-work.ts) */
  gpuWork: GpuWorkMode;
  /** under the GPU clock, the launches that waited for their step on the GPU: in the host's launch line, or apart with their share (host-part.ts) */
  launchWaits: LaunchWaits;
}
export type Weigh = "configs" | "runs" | "steps";
export type { CoefEstimate, Estimator } from "./regress.js";
export const WEIGH_CHOICES: readonly Weigh[] = ["configs", "runs", "steps"];
export const DEFAULT_FIT_OPTIONS: FitOptions = { warmupSteps: 10, testFraction: 0.2, ridgeRho: [1e-4, 1e-3, 1e-2, 1e-1], weigh: "configs", clock: "auto", gpuWork: "span", launchWaits: "mean" };

export interface ModelFit {
  id: string;
  feature_set: string;
  estimator: Estimator;
  ridge_lambda: number | null;
  /** fitted on the training period: the test metrics are this fit's */
  terms: CoefEstimate[];
  /** fitted on every kept step: what --out, --yaml and simulate use (the CV and the test measured the error already) */
  exported_terms: CoefEstimate[];
  /** MAPE on the last 20% of the training period, fitted on the first 80% */
  validation_mape: number | null;
  /** blocked cross-validation over the whole run (each contiguous fifth predicted by a fit on the rest): the basis of the model choice */
  cv: ErrorMetrics | null;
  cv_by_batch_type: GroupMetrics[];
  /** a pool of at least three configurations under the GPU clock: mean |total-time bias| on a configuration left out (config-out.ts), the basis of the choice there; else null */
  config_out_bias: number | null;
  test: ErrorMetrics;
  train: ErrorMetrics;
  by_batch_type: GroupMetrics[];
  by_batch_size_decile: GroupMetrics[];
}

export interface Spread {
  n: number;
  min_ns: number | null;
  p10_ns: number | null;
  p50_ns: number | null;
  p90_ns: number | null;
  max_ns: number | null;
}

export interface FitResult {
  kind: "vsched.fit";
  sources: string[];
  vllm_version: string;
  /** max_num_seqs of the training run (rank 0), for re-deriving CUDA-graph sizes in a what-if */
  config_max_num_seqs: number | null;
  target: { beta: string; alpha: string };
  filters: { steps: number; kept: number; warmup: number; idle: number; incomplete: number; dummy: number; warmup_steps: number; note: string; no_gpu_time: number };
  split: { method: "chronological"; test_fraction: number; train_steps: number; test_steps: number; test_from_ns: number | null };
  beta: {
    /** what the models predict (FitOptions.clock, resolved): target.beta says how it is measured */
    clock: StepClock;
    models: ModelFit[];
    chosen: string;
    per_step_overhead_ns: number;
    cv_blocks: number;
    capture_sizes: CaptureSizes;
    host_cpu: HostCpu | null;
    /** each run's CPU wait share (Σ engine thread run-queue wait / Σ step time over its kept steps; null: the trace has no step.cpu), in the order of sources */
    wait_shares: (number | null)[];
    /** how the pooled steps were weighed (FitOptions.weigh) */
    weigh: Weigh;
    /** each training run's group (in the order of sources): the groups count alike, a group's steps alike */
    weigh_groups: number[];
    /** pooled runs (--with): the chosen model fitted without each run, its total-time bias on that run */
    leave_one_run_out: RunBias[];
    /** the feature sets fitted to each step's GPU time (trace schema 1.6); null: too few steps have one */
    gpu_time: GpuTimeView | null;
    /** the steps whose GPU time ended with their launch, and the work read for them (fit/gpu-work.ts): the GPU clock's target; null: no GPU times */
    gpu_work: GpuWork | null;
    /** under the GPU clock, the host's loop around each step (fit/host-part.ts); null: interval clock or no runner times */
    host_part: HostPart | null;
  };
  alpha: {
    regression: ModelFit | null;
    overheads: { frontend_delay: Spread; frontend_delay_idle_engine: Spread; queue_delay_idle_engine: Spread; frontend_delay_fixed_ns: number };
    note: string;
    /** the visibility-delay model (src/analysis/fit/frontend.ts); replayed: the frontend delays it gives on the recorded step boundaries */
    frontend: { model: FrontendDelayModel | null; recorded: Spread; replayed: Spread | null; note: string };
  };
}

/**
 * The chosen model refitted on the other runs and summed over this run's kept steps:
 * (Σ predicted − Σ recorded) / Σ recorded. A replay's latencies follow this one number (a
 * simulated clock adds step times up, and near capacity a 1% slower clock is several points of
 * TTFT; docs/fit.md, "How sensitive the latencies are"), so it says how far the pooled model can
 * be trusted on a run like this one.
 */
export interface RunBias {
  source: string;
  steps: number;
  bias: number | null;
}

export interface FitPlot {
  model: string;
  time_ns: number[];
  actual_ns: number[];
  predicted_ns: number[];
  test: boolean[];
}

export interface FitOutcome {
  result: FitResult;
  data: FitData;
  plot: FitPlot;
}

/** --clock gpu on runs without GPU times (the command's usage error). */
export class ClockUnavailable extends Error {}

const DUMMY_NOTE = "vLLM's data-parallel dummy batches run no schedule(), so a trace has no dummy steps; a step with no tokens is counted as idle";
const ALPHA_NOTE = "The regression describes queue delay in the recorded run only. Under another load or configuration queueing comes from replaying the workload through vLLM's scheduler (vsched simulate), not from this regression; vsched calibrate shows the two side by side.";

interface Pool {
  kept: readonly BetaTrainingRow[];
  episodes: readonly number[][];
  weights: StepWeights;
  y: StepTarget;
}

function fitOne(id: string, set: string, train: BetaTrainingRow[], test: BetaTrainingRow[], terms: readonly Term[], lambda: number | null, estimator: Estimator, { kept, episodes, weights, y }: Pool): ModelFit {
  const rows = train as unknown as Record<string, unknown>[];
  const est = estimate(rows, targetOf(train, y), terms, lambda, estimator, weights);
  const predTest = predictRows(test as unknown as Record<string, unknown>[], terms, est);
  const actTest = targetOf(test, y);
  const byType = BATCH_TYPES.map((bt) => {
    const idx = test.map((r, i) => (batchType(r.prefill_reqs, r.decode_reqs) === bt ? i : -1)).filter((i) => i >= 0);
    return { group: bt, ...errorMetrics(idx.map((i) => predTest[i]), idx.map((i) => actTest[i])) };
  });
  const cv = blockedCv(kept, terms, lambda, estimator, episodes, weights, y);
  // The exported coefficients use every kept step (the hold-out and the CV have measured the
  // error already): the drain at the end of a run holds batches the training period never had.
  const all = estimate(kept as unknown as Record<string, unknown>[], targetOf(kept, y), terms, lambda === null ? null : (lambda * kept.length) / train.length, estimator, weights);
  return {
    id, feature_set: set, estimator, ridge_lambda: lambda, terms: est, exported_terms: all,
    validation_mape: validationMape(rows, (r) => y(r as unknown as BetaTrainingRow), terms, lambda, estimator, weights),
    cv: cv.cv,
    cv_by_batch_type: cv.byType,
    config_out_bias: null,
    test: errorMetrics(predTest, actTest),
    train: errorMetrics(predictRows(rows, terms, est), targetOf(train, y)),
    by_batch_type: byType,
    by_batch_size_decile: byDecile(predTest, actTest, test.map((r) => r.batch_size)),
  };
}

function fitBeta(data: FitData, opts: FitOptions, weights: StepWeights, clock: StepClock, configOf: ReadonlyMap<object, number>): { models: ModelFit[]; chosen: string } {
  const inStepOrder = data.steps.filter((r) => r.excluded === null);
  const kept = [...inStepOrder].sort((a, b) => a.start_time - b.start_time);
  const train = kept.filter((r) => r.split === "train"), test = kept.filter((r) => r.split === "test");
  // episodes are read in step order (pooled runs' times interleave in kept), then indexed in kept
  const at = new Map(kept.map((r, i) => [r, i]));
  const episodes = prefillEpisodes(inStepOrder).map((ep) => ep.map((k) => at.get(inStepOrder[k])!));
  const y = targetOfClock(clock);
  const pool: Pool = { kept, episodes, weights, y };
  const models: ModelFit[] = [];
  const hostVaries = new Set(kept.map((r) => r.cpu_index)).size > 1;
  const share = waitShare(kept);
  const waitSeen = share !== null && share >= MIN_WAIT_SHARE;
  for (const set of BETA_FEATURE_SET_NAMES) {
    const terms = BETA_FEATURE_SETS[set];
    if (train.length <= terms.length) continue;
    // the next-step, host and wait terms model how the interval attributes time, not the GPU's work
    if (clock === "gpu" && INTERVAL_ONLY_SETS.includes(set)) continue;
    if (clock === "interval" && GPU_ONLY_SETS.includes(set)) continue;
    // the host terms need runs on different hosts (fit --with); on one run they would only add
    // the graphless indicators, which the blocked CV favours and the closed-loop replay does not
    // (the same-run TTFT went from +0.3% to −7% with them on h100-s64-a)
    if (set === "gpu_host" && !hostVaries) continue;
    // the wait term needs the emitter's measure on every step and some contention to learn from
    if (set === "gpu_wait" && !(hostVaries && waitSeen)) continue;
    models.push(fitOne(`${set}/ols`, set, train, test, terms, null, "ols", pool));
    models.push(fitOne(`${set}/ridge`, set, train, test, terms, bestRidgeLambda(train, terms, opts.ridgeRho, weights, y), "ridge", pool));
    models.push(fitOne(`${set}/huber`, set, train, test, terms, null, "huber", pool));
  }
  // a pool of configurations fitted to the GPU time is chosen on configurations left out (config-out.ts)
  if (clock === "gpu") for (const m of models) m.config_out_bias = configOutBias(kept, configOf, train.length, m, weights, y);
  const gpuChoice = clock === "gpu" ? chooseModel(models.filter(gpuClockCandidate)) : null;
  return { models, chosen: opts.use ?? gpuChoice ?? chooseModel(models) ?? models[0]?.id ?? "" };
}

/**
 * Under the GPU clock the exported model is one of the GPU feature sets (the padded batch of a
 * CUDA graph, the prefill's attention) fitted for the mean (OLS or ridge); every model is still
 * fitted and reported. A simulator adds step times up, so it needs each step's mean: Huber's
 * location sits below the mean of right-skewed GPU spans (a launch-bound step reads long), and on
 * the 1B runs its models were 4.6–5.1% short on their own run's steps. And one run's CV cannot tell
 * a token-linear model that ignores the padding from one that knows it: on another request mix of
 * the same configuration the CV's choice (tokens/ridge) was 8.0% short where the GPU sets were
 * 2.8–2.9% (docs/fit.md, "An eighth session").
 */
const gpuClockCandidate = (m: ModelFit): boolean => GPU_PHYSICS_SETS.includes(m.feature_set as BetaFeatureSet) && m.estimator !== "huber";

/**
 * The exported model, chosen on the blocked cross-validation over the whole run (every phase
 * tested, not just the drain at the end): score = CV MAPE + 5 × |CV total-time bias|, since a
 * simulator accumulates step times and a biased clock shifts every queue (near saturation a 2%
 * slower clock is a much longer queue). Among the models
 * within 5% (relative) plus half a point of the best score, the fewest terms, then the best
 * score: a small model extrapolates to unseen batches sanely, many collinear terms do not.
 * A pool of configurations under the GPU clock weighs its bias on a configuration left out
 * instead of the CV's (config-out.ts).
 * Without CV (too few steps), the validation MAPE as before; null when no model has either.
 */
export function chooseModel(models: readonly ModelFit[]): string | null {
  const score = (m: ModelFit): number | null =>
    m.cv?.mape != null && m.cv.bias != null ? m.cv.mape + 5 * (m.config_out_bias ?? Math.abs(m.cv.bias)) : m.validation_mape;
  const scored = models.filter((m) => score(m) !== null);
  if (!scored.length) return null;
  const best = Math.min(...scored.map((m) => score(m)!));
  const near = scored.filter((m) => score(m)! <= best * 1.05 + 0.005);
  near.sort((a, b) => a.terms.length - b.terms.length || score(a)! - score(b)!);
  return near[0].id;
}

function spread(values: number[]): Spread {
  const s = Float64Array.from(values).sort();
  const q = (p: number) => (s.length ? quantileSorted(s, p) : null);
  return { n: s.length, min_ns: s.length ? s[0] : null, p10_ns: q(0.1), p50_ns: q(0.5), p90_ns: q(0.9), max_ns: s.length ? s[s.length - 1] : null };
}

const FRONTEND_NOTE = "frontend delay = visibility delay (modelled, median at the prompt's length) + the wait for the engine loop's next step boundary (simulate reproduces that on its own steps)";

/** Observations per run (each has its own clock and step boundaries), one pooled fit. */
function fitFrontend(parts: readonly FitData[]): FitResult["alpha"]["frontend"] {
  const obs = parts.flatMap((p) => frontendObservations(p.requests, p.steps));
  const recorded = parts.flatMap((p) => p.requests.flatMap((r) => (r.frontend_delay_ns === null ? [] : [r.frontend_delay_ns])));
  const model = fitFrontendDelay(obs, recorded.length);
  const replayed = model ? spread(parts.flatMap((p) => replayFrontendDelays(model, p.requests, p.steps))) : null;
  return { model, recorded: spread(recorded), replayed, note: FRONTEND_NOTE };
}

function fitAlpha(data: FitData): Omit<FitResult["alpha"], "frontend"> {
  const rows = [...data.requests].sort((a, b) => a.arrival_time - b.arrival_time);
  const train = rows.filter((r) => r.split === "train"), test = rows.filter((r) => r.split === "test");
  let regression: ModelFit | null = null;
  if (train.length > ALPHA_TERMS.length + 1) {
    const y = (r: AlphaTrainingRow) => r.queue_delay_ns;
    const tr = train as unknown as Record<string, unknown>[], te = test as unknown as Record<string, unknown>[];
    const est = estimate(tr, targetOf(train, y), ALPHA_TERMS, null);
    const pt = predictRows(te, ALPHA_TERMS, est), at = targetOf(test, y);
    regression = {
      id: "seed/ols", feature_set: "seed", estimator: "ols", ridge_lambda: null, terms: est,
      validation_mape: validationMape(tr, (r) => (r as unknown as AlphaTrainingRow).queue_delay_ns, ALPHA_TERMS, null),
      test: errorMetrics(pt, at), train: errorMetrics(predictRows(tr, ALPHA_TERMS, est), targetOf(train, y)),
      cv: null, cv_by_batch_type: [], config_out_bias: null, exported_terms: est,
      by_batch_type: [], by_batch_size_decile: [],
    };
  }
  const fe = rows.filter((r) => r.frontend_delay_ns !== null);
  const idle = fe.filter((r) => r.engine_idle_at_arrival === 1);
  const feIdle = spread(idle.map((r) => r.frontend_delay_ns!));
  const feAll = spread(fe.map((r) => r.frontend_delay_ns!));
  return {
    regression,
    overheads: {
      frontend_delay: feAll,
      frontend_delay_idle_engine: feIdle,
      queue_delay_idle_engine: spread(rows.filter((r) => r.engine_idle_at_arrival === 1).map((r) => r.queue_delay_ns)),
      frontend_delay_fixed_ns: Math.max(0, Math.round(feIdle.p50_ns ?? feAll.p10_ns ?? 0)),
    },
    note: ALPHA_NOTE,
  };
}

/**
 * One run, or several (`--with`): each run's steps are collected with its own configuration,
 * hold-out and CV blocks, then pooled, so a model learns batches no single config reaches.
 */
export async function fitRun(sources: TableSource | readonly TableSource[], opts: FitOptions = DEFAULT_FIT_OPTIONS): Promise<FitOutcome> {
  const list = Array.isArray(sources) ? sources : [sources as TableSource];
  const parts: FitData[] = [];
  for (const s of list) parts.push(await collectFitData(s, { warmupSteps: opts.warmupSteps, testFraction: opts.testFraction }));
  const resolved = resolveClock(opts.clock, parts.map((p) => p.steps), parts.map((p) => p.sources[0] ?? ""));
  if (resolved.error !== null) throw new ClockUnavailable(resolved.error);
  const clock = resolved.clock;
  if (clock === "gpu") for (const p of parts) excludeUntimed(p.steps);
  const hostCpu = applyHostCpu(parts.map((p) => p.steps), parts.map((p) => p.emitterLevel));
  const data = mergeFitData(parts);
  const count = (e: string) => data.steps.filter((r) => r.excluded === e).length;
  const kept = data.steps.filter((r) => r.excluded === null).sort((a, b) => a.start_time - b.start_time);
  const test = kept.filter((r) => r.split === "test");
  const groups = weighGroups(parts, opts.weigh);
  const weights = groupWeights(parts, groups);
  const gpuWork = applyGpuWork(kept, weights, opts.gpuWork);
  const beta = fitBeta(data, opts, weights, clock, rowGroups(parts, configGroups(parts)));
  const y = targetOfClock(clock);
  const result: FitResult = {
    kind: "vsched.fit",
    sources: data.sources,
    vllm_version: data.vllmVersion,
    config_max_num_seqs: data.steps[0]?.max_num_seqs ?? null,
    target: {
      beta: clock === "gpu" && opts.gpuWork === "censored" ? GPU_WORK_TARGET : CLOCK_TARGET[clock],
      alpha: "queue_delay_ns = first_scheduled_time − arrival_time",
    },
    filters: { steps: data.steps.length, kept: kept.length, warmup: count("warmup"), idle: count("idle"), incomplete: count("incomplete"), dummy: 0, warmup_steps: opts.warmupSteps, note: DUMMY_NOTE, no_gpu_time: count("no_gpu_time") },
    split: { method: "chronological", test_fraction: opts.testFraction, train_steps: kept.length - test.length, test_steps: test.length, test_from_ns: test.length ? test[0].start_time : null },
    beta: { clock, ...beta, per_step_overhead_ns: data.perStepOverheadNs, cv_blocks: CV_BLOCKS, capture_sizes: data.captureSizes, host_cpu: hostCpu, wait_shares: parts.map((p) => waitShare(p.steps)), weigh: opts.weigh, weigh_groups: groups, leave_one_run_out: leaveOneRunOut(parts, beta.models.find((m) => m.id === beta.chosen), weights, y), gpu_time: gpuTimeView(kept, weights, opts.ridgeRho, clock === "interval"), gpu_work: gpuWork, host_part: clock === "gpu" ? fitHostPart(kept, parts.map((p) => p.steps), postPerIndex(parts, hostCpu), weights, windowIndex(parts.map((p) => p.steps), hostCpu), opts.launchWaits) : null },
    alpha: { ...fitAlpha(data), frontend: fitFrontend(parts) },
  };
  return { result, data, plot: plotOf(kept, result, y) };
}

/**
 * Weights that make each group of runs count alike: a step of group g weighs N / (G × n_g), so the
 * weights average 1 (ridge's penalty per row and Huber's scale keep their meaning). null when
 * there is only one group (every step alike then).
 */
function groupWeights(parts: readonly FitData[], groupOf: readonly number[]): StepWeights {
  const kept = parts.map((p) => p.steps.filter((r) => r.excluded === null));
  const size = new Map<number, number>();
  kept.forEach((k, i) => k.length && size.set(groupOf[i], (size.get(groupOf[i]) ?? 0) + k.length));
  if (size.size < 2) return null;
  const total = [...size.values()].reduce((a, b) => a + b, 0);
  const w = new Map<object, number>();
  kept.forEach((k, i) => {
    for (const r of k) w.set(r, total / (size.size * size.get(groupOf[i])!));
  });
  return w;
}

/**
 * A run's engine configuration, for --weigh configs: the scheduler limits, chunked prefill,
 * async scheduling, the block size, and the KV pool within 10% (vLLM sizes the pool by profiling
 * memory, so two runs of one configuration differ by a few hundred blocks; a KV-bound run's pool
 * is a fraction of a normal one's).
 */
function configGroups(parts: readonly FitData[]): number[] {
  const desc = parts.map((p) => {
    const r = p.steps[0];
    return r ? { key: [r.max_num_seqs, r.max_num_batched_tokens, r.enable_chunked_prefill, r.async_scheduling, r.block_size, p.vllmVersion].join("/"), blocks: r.num_gpu_blocks } : { key: "", blocks: 0 };
  });
  const reps: { key: string; blocks: number }[] = [];
  return desc.map((d) => {
    let g = reps.findIndex((x) => x.key === d.key && Math.abs(x.blocks - d.blocks) <= 0.1 * Math.max(x.blocks, d.blocks));
    if (g < 0) g = reps.push(d) - 1;
    return g;
  });
}

/** Each kept row's group, from its run's. */
function rowGroups(parts: readonly FitData[], groupOf: readonly number[]): Map<object, number> {
  const m = new Map<object, number>();
  parts.forEach((p, i) => p.steps.forEach((r) => m.set(r, groupOf[i])));
  return m;
}

/** Each run's group under `weigh`: what counts alike (steps: one group). */
function weighGroups(parts: readonly FitData[], weigh: Weigh): number[] {
  return weigh === "steps" ? parts.map(() => 0) : weigh === "runs" ? parts.map((_, i) => i) : configGroups(parts);
}

function leaveOneRunOut(parts: readonly FitData[], chosen: ModelFit | undefined, weights: StepWeights, y: StepTarget): RunBias[] {
  if (parts.length < 2 || !chosen) return [];
  const kept = parts.map((p) => p.steps.filter((r) => r.excluded === null));
  const trainSteps = kept.reduce((n, k) => n + k.filter((r) => r.split === "train").length, 0);
  return parts.map((p, i) => ({
    source: p.sources[0] ?? "",
    steps: kept[i].length,
    bias: biasWithout(kept[i], kept.flatMap((k, j) => (j === i ? [] : k)), trainSteps, chosen, weights, y),
  }));
}

/** Each run's update-to-schedule times per unit of the host index of their window (host CPU time, as pre is fitted). */
function postPerIndex(parts: readonly FitData[], host: HostCpu | null): PostUpdate[] {
  return parts.flatMap((p, i) => {
    const profile = host?.profiles[i] ?? [];
    return p.postUpdates.map((v) => ({ ...v, ns: v.ns / indexAt(profile, v.at) }));
  });
}

function mergeFitData(parts: FitData[]): FitData {
  if (parts.length === 1) return parts[0];
  return {
    steps: parts.flatMap((p) => p.steps),
    requests: parts.flatMap((p) => p.requests),
    perStepOverheadNs: parts[0].perStepOverheadNs,
    sources: parts.flatMap((p) => p.sources),
    vllmVersion: [...new Set(parts.map((p) => p.vllmVersion))].join(","),
    captureSizes: parts[0].captureSizes,
    emitterLevel: [...new Set(parts.map((p) => p.emitterLevel))].join(","),
    postUpdates: parts.flatMap((p) => p.postUpdates),
  };
}

function plotOf(kept: BetaTrainingRow[], result: FitResult, y: StepTarget): FitPlot {
  const m = result.beta.models.find((x) => x.id === result.beta.chosen);
  const terms = m ? (BETA_FEATURE_SETS as Record<string, readonly Term[]>)[m.feature_set] : [];
  const pred = m ? predictRows(kept as unknown as Record<string, unknown>[], terms, m.exported_terms) : new Float64Array(kept.length);
  return {
    model: result.beta.chosen,
    time_ns: kept.map((r) => r.start_time),
    actual_ns: kept.map(y),
    predicted_ns: Array.from(pred),
    test: kept.map((r) => r.split === "test"),
  };
}
