import type { BetaTrainingRow, StepModelFile } from "../../schema/fit.js";
import { stepTimeNs } from "./data.js";
import type { RecordedStep } from "./recorded-steps.js";

/**
 * CPU contention as a run-level input (docs/fit.md, "CPU contention").
 *
 * The emitter reads the engine-core thread's run-queue wait at every schedule() entry (trace
 * schema 1.5). When other processes share the cores, that thread is runnable but not running,
 * and every step whose CPU part is on the critical path is late by it: on the lent H100, 16
 * busy loops on 16 cores took the 1B shape's decode steps from 2.2 ms to 3.2–5.7 ms, while the
 * host index (schedule() durations, a short burst that is seldom preempted) read those runs as
 * faster. The fit learns, with a cpu_wait_ns term, how much of a step's wait reaches its time
 * (coef); a simulated step has no measured wait, so a run's contention enters as its **wait
 * share** w (Σ wait / Σ step time): a step whose wait is w of its time takes
 * f / (1 − coef × w), f being the uncontended prediction.
 */

/** Below this share a pool holds no contention to learn a coefficient from. */
export const MIN_WAIT_SHARE = 0.01;

type WaitRow = Pick<BetaTrainingRow, "excluded" | "cpu_wait_ns" | "step_time_ns">;

/** Σ cpu_wait_ns / Σ step_time_ns over kept rows; null when any kept row lacks the wait (a trace before schema 1.5, or not captured). */
export function waitShare(rows: readonly WaitRow[]): number | null {
  let wait = 0, time = 0, n = 0;
  for (const r of rows) {
    if (r.excluded !== null || r.step_time_ns === null) continue;
    if (r.cpu_wait_ns === null) return null;
    wait += r.cpu_wait_ns;
    time += r.step_time_ns;
    n++;
  }
  return n > 0 && time > 0 ? wait / time : null;
}

/** The step-time multiplier of a share under a coefficient; shares past the model's reach are capped (a step at most 10× its uncontended time). */
export function waitScale(coef: number, share: number): number {
  const slowed = Math.min(Math.max(coef * share, 0), 0.9);
  return 1 / (1 - slowed);
}

/** The model file's cpu_wait block for a chosen model with the term (share 0: an uncontended host). */
export function cpuWaitBlock(coefPerNs: number, trainingShares: readonly (number | null)[]): NonNullable<StepModelFile["cpu_wait"]> {
  return { coef: coefPerNs, training_shares: trainingShares.map((s) => s ?? 0), share: 0, scale: 1 };
}

/**
 * A recorded run's wait share: the same target and the same warm-up as fit's rows, each step's
 * span wait taken from the next step's record. Null when the trace carries no step.cpu.
 */
export function recordedWaitShare(ranks: readonly (readonly RecordedStep[])[], warmupSteps = 10): number | null {
  const rows: WaitRow[] = [];
  for (const list of ranks) {
    list.forEach((s, i) => {
      const prev = list[i - 1], next = list[i + 1];
      const t = stepTimeNs(s, prev && prev.it === s.it - 1 ? prev.updStart : null);
      const kept = i >= warmupSteps && s.tokens > 0 && t !== null && t > 0;
      rows.push({ excluded: kept ? null : "warmup", step_time_ns: t, cpu_wait_ns: next && next.it === s.it + 1 ? next.wait : s.wait });
    });
  }
  return waitShare(rows);
}
