import type { BetaTrainingRow } from "../../schema/fit.js";
import { quantileSorted } from "../math/stats.js";
import type { Term } from "./features.js";
import type { ErrorMetrics, GroupMetrics } from "./metrics.js";
import type { PostUpdate } from "./data.js";
import { blockedCv, estimate, targetOf, type CoefEstimate, type StepTarget, type StepWeights } from "./regress.js";

/**
 * The host's part of the GPU clock (docs/fit.md, "Step clock"). Under async scheduling vLLM's
 * engine loop schedules and launches step N+1, then waits for step N's output, then runs N's
 * update and loops. So N's update comes at the later of N's end on the GPU and the end of N+1's
 * launch: on four H100 runs (1B; 8B s64, s16, s128 t2048), update(N) = max(GPU end(N),
 * launch end(N+1)) + 0.2–0.5 ms (median; p10–p90 within 0.1–0.9 ms, the 1B and the 8B shape
 * alike). A GPU-bound engine (8B) ends the
 * launch first, so only the GPU time shows; a host-bound one (1B: 95% of its updates wait for the
 * launch) runs at the host's pace, which the GPU time alone misses (the 1B run replayed on its
 * own GPU-time model: E2E −13%, TTFT −26%).
 *
 * Two figures make the host's loop: `pre`, from a step's schedule() entry to the end of its
 * launch (schedule_ns + runner_host_ns, per step, a regression on the batch: a step without a
 * CUDA graph is launched kernel by kernel), and `post`, from an update's entry to the next
 * schedule() (the update, output handling, the loop: a line in the batch the update collected,
 * since the update walks its requests: 4–6 µs a request on the 1B runs' hosts, 0.1 ms at 8 and
 * 0.5 ms at 128; a median of the training batches missed that at batches past them). Both are
 * host CPU time, so they are fitted per unit of the run's cpu_index (fit/host-cpu.ts), and
 * simulate scales them by the replayed run's.
 *
 * Some launches wait for the device: the runner returns only when its own step's work ends (a
 * synchronizing launch; the trace shows the runner's host time reaching the step's GPU time).
 * On the H100 runs 2–13% of the launches of steps with a prefill did, and at most 0.3% of the
 * others. Their host time is the GPU's, not the host's: fitted with the rest, a mean over them
 * put ~28 ms per prefill request into the 14B runs' launch (against ~22 ms for a graphless launch
 * at the median), and the replay of another configuration, whose GPU steps were shorter, ran its prefill
 * steps at +50% of the recorded pace. Under fit --launch-waits apart, `pre` is fitted on the
 * launches that did not wait, and the share that did (`sync_share`, over the launches of steps
 * with a prefill, weighted as β is) goes to the harness, which ends each such launch that share
 * of the way to its step's end on the replay's own GPU timeline. It is not the default: over 68
 * real-run cases it moved the prefill pace closer and the latencies of fewer cases into the
 * targets (docs/fit.md, "An eleventh session").
 */

/** where the launches that waited for their step go: "mean", into pre's mean with the rest (the default); "apart", out of pre, their share to the model */
export type LaunchWaits = "mean" | "apart";
export const LAUNCH_WAITS: readonly LaunchWaits[] = ["mean", "apart"];
export interface HostPart {
  /** terms of pre (ns at cpu_index 1), OLS: the mean launch (under --launch-waits apart, of those that did not wait for their step on the GPU), as the harness chains it (docs/fit.md, "Step clock") */
  terms: CoefEstimate[];
  /** blocked CV of pre over the launches it is fitted on */
  cv: ErrorMetrics | null;
  cv_by_batch_type: GroupMetrics[];
  /** median from update_from_output() entry to the next schedule() entry, at cpu_index 1 */
  post_update_ns: number;
  /** the same time as a line in the batch the update collected (intercept, batch_size), OLS: the mean, as the harness chains it */
  post_terms: CoefEstimate[];
  /** kept steps with a runner time */
  steps: number;
  /** where the launches that waited went (fit --launch-waits) */
  launch_waits: LaunchWaits;
  /** of them, the launches that waited for their own step on the GPU (synced): left out of pre under "apart" */
  synced: number;
  /** the share of the launches of steps with a prefill that synced, weighted as β is: what the harness applies under "apart" (docs/fit.md, "Step clock") */
  sync_share: number;
}

const t = (...factors: string[]): Term => ({ name: factors.length ? factors.join("*") : "intercept", factors });
/** what a launch costs the host: a fixed part, kernel-by-kernel launches without a CUDA graph, per-request input preparation, per-token copies */
export const HOST_TERMS: readonly Term[] = [t(), t("no_cudagraph"), t("prefill_reqs"), t("batch_size"), t("scheduled_tokens")];

/** what the loop after an update costs the host: a fixed part and a walk over the batch's requests */
export const POST_TERMS: readonly Term[] = [t(), t("batch_size")];

/** a launch waited for its step on the GPU when its runner time reached this share of the step's GPU time… */
export const SYNC_RATIO = 0.9;
/** …and this multiple of its run's median launch of the same kind (with or without a CUDA graph): a slow host's launch, which the GPU waits for, reaches its GPU time too, but not twice its own kind's */
export const SYNC_OVER_MEDIAN = 2;

/** The launches of these runs that waited for their own step on the GPU (SYNC_RATIO, SYNC_OVER_MEDIAN), among steps with a runner and a GPU time. */
export function syncedLaunches(runs: readonly (readonly BetaTrainingRow[])[]): Set<BetaTrainingRow> {
  const synced = new Set<BetaTrainingRow>();
  for (const steps of runs) {
    const timed = steps.filter((r) => r.runner_host_ns !== null && r.runner_host_ns > 0 && r.gpu_step_ns !== null && r.gpu_step_ns > 0);
    for (const graphless of [0, 1]) {
      const kind = timed.filter((r) => (r.no_cudagraph ?? 0) === graphless);
      const median = quantileSorted(Float64Array.from(kind, (r) => r.runner_host_ns!).sort(), 0.5);
      if (median === null) continue;
      for (const r of kind) if (r.runner_host_ns! >= SYNC_RATIO * r.gpu_step_ns! && r.runner_host_ns! >= SYNC_OVER_MEDIAN * median) synced.add(r);
    }
  }
  return synced;
}

/** Σ weight of the synced launches of steps with a prefill over Σ weight of all of them (0 without any). */
function syncShare(rows: readonly BetaTrainingRow[], synced: ReadonlySet<BetaTrainingRow>, weights: StepWeights): number {
  let all = 0, waited = 0;
  for (const r of rows) {
    if (r.has_prefill !== 1) continue;
    const w = weights?.get(r) ?? 1;
    all += w;
    if (synced.has(r)) waited += w;
  }
  return all > 0 ? waited / all : 0;
}

/** The host's time from schedule() entry to the end of the launch, per unit of the host index the step ran at. */
const hostPreAt = (indexOf: (r: BetaTrainingRow) => number): StepTarget => (r) => (r.schedule_ns + r.runner_host_ns!) / indexOf(r);

/**
 * The host part, or null where too few kept steps have a runner time (traces before schema 1.6,
 * or the interval clock). `indexOf`: the host index of a step's window (fit/host-cpu.ts
 * windowIndex); `posts` come divided by theirs.
 */
export function fitHostPart(kept: readonly BetaTrainingRow[], runs: readonly (readonly BetaTrainingRow[])[], posts: readonly PostUpdate[], weights: StepWeights, indexOf: (r: BetaTrainingRow) => number, waits: LaunchWaits = "mean"): HostPart | null {
  const rows = kept.filter((r) => r.runner_host_ns !== null && r.runner_host_ns > 0 && indexOf(r) > 0);
  const synced = syncedLaunches(runs.map((steps) => steps.filter((r) => r.excluded === null)));
  const launches = waits === "apart" ? rows.filter((r) => !synced.has(r)) : rows;
  if (launches.length <= 2 * HOST_TERMS.length || posts.length <= 2 * POST_TERMS.length) return null;
  const hostPre = hostPreAt(indexOf);
  const terms = estimate(launches as unknown as Record<string, unknown>[], targetOf(launches, hostPre), HOST_TERMS, null, "ols", weights);
  const cv = blockedCv(launches, HOST_TERMS, null, "ols", [], weights, hostPre);
  const post = Float64Array.from(posts, (p) => p.ns).sort();
  const postRows = posts.map((p) => ({ batch_size: p.batch, ns: p.ns }));
  const postTerms = estimate(postRows, targetOf(postRows, (r) => r.ns), POST_TERMS, null, "ols");
  return {
    terms, cv: cv.cv, cv_by_batch_type: cv.byType.filter((g) => g.group !== "prefill_episode"),
    post_update_ns: quantileSorted(post, 0.5) ?? 0, post_terms: postTerms,
    launch_waits: waits, steps: rows.length, synced: rows.filter((r) => synced.has(r)).length, sync_share: syncShare(rows, synced, weights),
  };
}
