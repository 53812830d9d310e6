import type { BetaTrainingRow } from "../../schema/fit.js";
import { BETA_FEATURE_SETS } from "./features.js";
import { olsRefitAt, targetOf, type StepWeights } from "./regress.js";

/**
 * The GPU's work in a step, which the GPU clock's β predicts under fit --gpu-work censored
 * (docs/fit.md, "Step clock").
 *
 * A step without a CUDA graph is launched kernel by kernel, and where the host launches slower
 * than the GPU runs, the GPU waits between kernels: its CUDA-event span then ends with the launch
 * and measures the host, not the batch. On the lent H100 the same s48 requests gave graphless
 * spans of 32.8 ms (mean of a gpu-set fit) on the run whose host slowed and 27.9 ms on the other;
 * 67% and 42% of their graphless steps ended within 5% of the runner's host time. A β fitted to
 * those spans learns the training host's launch speed as GPU work, and a replay on a faster host
 * keeps it (s48 a from a model of b: +26% E2E).
 *
 * The span of such a step is an upper bound on its work (a censored value). Censored, the work
 * is read as the lower of the span and the gpu set's least-squares line, refitted until it
 * settles (an imputation in the manner of censored regression): on the s48 runs the graphless work then
 * reads 24.6–26.6 ms on all four hosts. simulate puts the launch back (the harness's
 * _gpu_end: a graphless step ends no earlier than its launch, a graph starts when launched), so a
 * replay on a slow host gets the host-bound spans from the host part without β learning them.
 */

/**
 * What the GPU clock fits where a step ended with its launch: "span", its recorded GPU time (the
 * default); "censored", the work read as above (fit --gpu-work). Measured on 68 real-run cases
 * (docs/fit.md, "A tenth session"): censored removes the host from the slow-host runs' models
 * (s48 a from b: +26.6 -> +5.9% E2E) but reads the GPU-bound mixed steps of other pools 1-3%
 * short (the gpu set's shared terms), so fewer cases meet the targets (36 against 42 of 68).
 */
export type GpuWorkMode = "span" | "censored";
export const GPU_WORK_MODES: readonly GpuWorkMode[] = ["span", "censored"];

/** a graphless step whose GPU span is at most this times the runner's host time ended with its launch */
export const HOST_BOUND_RATIO = 1.05;
const MAX_ROUNDS = 200;
/** the imputation has settled when the host-bound steps' total work moves by less than this share in a round */
const SETTLED = 1e-5;

/** A step whose GPU span is bounded by its launch: no CUDA graph, and the span within HOST_BOUND_RATIO of the runner's host time. */
export function hostBound(r: Pick<BetaTrainingRow, "no_cudagraph" | "gpu_step_ns" | "runner_host_ns">): boolean {
  return r.no_cudagraph === 1 && r.gpu_step_ns !== null && r.runner_host_ns !== null && r.runner_host_ns > 0 && r.gpu_step_ns <= HOST_BOUND_RATIO * r.runner_host_ns;
}

export interface GpuWork {
  mode: GpuWorkMode;
  /** kept steps with a GPU time */
  steps: number;
  /** of them, the host-bound ones (hostBound): their span is only an upper bound on the work */
  host_bound: number;
  /** Σ work / Σ span over the host-bound steps (1 under "span") */
  host_bound_work_over_span: number | null;
  /** rounds of the imputation run, the last the one that settled unless it ran MAX_ROUNDS (0 under "span") */
  rounds: number;
}

/**
 * Sets gpu_work_ns on the kept steps with a GPU time: the span, or under "censored" for a
 * host-bound step the lower of its span and the pooled gpu-set line fitted to the work (weighted
 * as β is). Counts the host-bound steps either way. Null where no step has a GPU time.
 */
export function applyGpuWork(kept: readonly BetaTrainingRow[], weights: StepWeights, mode: GpuWorkMode): GpuWork | null {
  const rows = kept.filter((r) => r.gpu_step_ns !== null && r.gpu_step_ns > 0);
  for (const r of rows) r.gpu_work_ns = r.gpu_step_ns;
  if (!rows.length) return null;
  const bound = rows.filter(hostBound);
  const terms = BETA_FEATURE_SETS.gpu;
  let rounds = 0;
  if (mode === "censored" && bound.length && rows.length > 2 * terms.length) {
    const lineAtBound = olsRefitAt(rows as unknown as Record<string, unknown>[], terms, weights, bound as unknown as Record<string, unknown>[]);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      rounds = round;
      const line = lineAtBound(targetOf(rows, (r) => r.gpu_work_ns!));
      let before = 0, after = 0;
      bound.forEach((r, i) => {
        const work = Math.round(Math.max(0, Math.min(r.gpu_step_ns!, line[i])));
        before += r.gpu_work_ns!;
        after += work;
        r.gpu_work_ns = work;
      });
      if (Math.abs(after - before) <= SETTLED * before) break;
    }
  }
  let work = 0, span = 0;
  for (const r of bound) (work += r.gpu_work_ns!), (span += r.gpu_step_ns!);
  return { mode, steps: rows.length, host_bound: bound.length, host_bound_work_over_span: span > 0 ? work / span : null, rounds };
}
