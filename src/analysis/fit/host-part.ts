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
 */
export interface HostPart {
  /** terms of pre (ns at cpu_index 1), OLS: the mean launch, as the harness chains it (docs/fit.md, "Step clock"); a launch that waits on the device stays in that mean */
  terms: CoefEstimate[];
  /** blocked CV of pre over the kept steps with a runner time */
  cv: ErrorMetrics | null;
  cv_by_batch_type: GroupMetrics[];
  /** median from update_from_output() entry to the next schedule() entry, at cpu_index 1 */
  post_update_ns: number;
  /** the same time as a line in the batch the update collected (intercept, batch_size), OLS: the mean, as the harness chains it */
  post_terms: CoefEstimate[];
  /** kept steps with a runner time (the rows pre is fitted on) */
  steps: number;
}

const t = (...factors: string[]): Term => ({ name: factors.length ? factors.join("*") : "intercept", factors });
/** what a launch costs the host: a fixed part, kernel-by-kernel launches without a CUDA graph, per-request input preparation, per-token copies */
export const HOST_TERMS: readonly Term[] = [t(), t("no_cudagraph"), t("prefill_reqs"), t("batch_size"), t("scheduled_tokens")];

/** what the loop after an update costs the host: a fixed part and a walk over the batch's requests */
export const POST_TERMS: readonly Term[] = [t(), t("batch_size")];

/** The host's time from schedule() entry to the end of the launch, per unit of the host index the step ran at. */
const hostPreAt = (indexOf: (r: BetaTrainingRow) => number): StepTarget => (r) => (r.schedule_ns + r.runner_host_ns!) / indexOf(r);

/**
 * The host part, or null where too few kept steps have a runner time (traces before schema 1.6,
 * or the interval clock). `indexOf`: the host index of a step's window (fit/host-cpu.ts
 * windowIndex); `posts` come divided by theirs.
 */
export function fitHostPart(kept: readonly BetaTrainingRow[], posts: readonly PostUpdate[], weights: StepWeights, indexOf: (r: BetaTrainingRow) => number): HostPart | null {
  const rows = kept.filter((r) => r.runner_host_ns !== null && r.runner_host_ns > 0 && indexOf(r) > 0);
  if (rows.length <= 2 * HOST_TERMS.length || posts.length <= 2 * POST_TERMS.length) return null;
  const hostPre = hostPreAt(indexOf);
  const terms = estimate(rows as unknown as Record<string, unknown>[], targetOf(rows, hostPre), HOST_TERMS, null, "ols", weights);
  const cv = blockedCv(rows, HOST_TERMS, null, "ols", [], weights, hostPre);
  const post = Float64Array.from(posts, (p) => p.ns).sort();
  const postRows = posts.map((p) => ({ batch_size: p.batch, ns: p.ns }));
  const postTerms = estimate(postRows, targetOf(postRows, (r) => r.ns), POST_TERMS, null, "ols");
  return { terms, cv: cv.cv, cv_by_batch_type: cv.byType.filter((g) => g.group !== "prefill_episode"), post_update_ns: quantileSorted(post, 0.5) ?? 0, post_terms: postTerms, steps: rows.length };
}
