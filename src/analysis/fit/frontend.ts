import type { AlphaTrainingRow, BetaTrainingRow } from "../../schema/fit.js";
import { solveSpd } from "../math/linalg.js";
import { lowerBound } from "../math/stats.js";

/**
 * The frontend delay of a request (add_request() − vLLM's Request.arrival_time) is two things:
 *
 * 1. the time until the request sits in the engine core's input queue (input processing,
 *    serialisation, IPC, building the Request with its block hashes): the **visibility delay** d;
 * 2. the wait for the engine loop's next step boundary: vLLM's engine core reads its input
 *    queue only between steps (before each schedule()), so a request that becomes visible
 *    mid-step waits for the step to end.
 *
 * The harness reproduces (2) itself: it adds arrivals only between steps, on the simulated step
 * times. On the H100 runs (2) is most of the growth under load (p50 6–7.5 ms, p90 17–28 ms: a
 * random arrival falls into the long prefill steps, docs/fit.md). What the trace says about (1)
 * is *current-status* data: a step boundary b after the request's arrival stamp either missed
 * it (b < add_request(): d > b − stamp) or picked it up (d ≤ add_request() − stamp). The model is
 * a logistic location–scale fit by maximum likelihood on those observations:
 *
 *   P(d > x | prompt) = σ((μ(prompt) − x) / s),  μ(prompt) = a + b · prompt_tokens
 *
 * μ is the median (and the mean) of d for a prompt of that length; simulate uses it as each
 * request's delay (deterministic). Load (running requests, arrivals in the last 5 ms) was not
 * significant on any of the H100 runs once the boundary wait is accounted for; prompt length
 * was (≈ 0.2 ms per 1000 tokens), and it is what the frontend and the engine core's input
 * thread process per request.
 */
export interface FrontendObservation {
  /** offset of a step boundary from the request's arrival stamp (ns) */
  x_ns: number;
  /** 1: the boundary passed without the request (not yet visible); 0: it picked it up */
  missed: 0 | 1;
  prompt_tokens: number;
}

export interface FrontendDelayModel {
  /** median visibility delay at 0 prompt tokens (ns) */
  intercept_ns: number;
  /** added per prompt token (ns) */
  per_prompt_token_ns: number;
  /** logistic scale s (ns): the delay's spread around the median (its sd is s·π/√3) */
  scale_ns: number;
  requests: number;
  observations: number;
  missed: number;
}

/** Too few boundaries that missed a request say nothing about the delay's size. */
const MIN_MISSED = 10;

/** Current-status observations of one run: its steps' schedule() starts are the boundaries at which the engine core read its input queue. */
export function frontendObservations(requests: readonly AlphaTrainingRow[], steps: readonly BetaTrainingRow[]): FrontendObservation[] {
  const byRank = boundariesByRank(steps);
  const out: FrontendObservation[] = [];
  for (const r of requests) {
    if (r.frontend_delay_ns === null || r.frontend_delay_ns < 0) continue;
    const stamp = r.arrival_time - r.frontend_delay_ns;
    const b = byRank.get(r.dp_rank) ?? [];
    for (let i = firstAfter(b, stamp); i < b.length && b[i] < r.arrival_time; i++) out.push({ x_ns: b[i] - stamp, missed: 1, prompt_tokens: r.prompt_tokens });
    out.push({ x_ns: r.frontend_delay_ns, missed: 0, prompt_tokens: r.prompt_tokens });
  }
  return out;
}

/** Maximum-likelihood logistic fit of "missed" on (1, x, prompt); null when the data cannot identify it. */
export function fitFrontendDelay(obs: readonly FrontendObservation[], requests: number): FrontendDelayModel | null {
  const missed = obs.reduce((n, o) => n + o.missed, 0);
  if (missed < MIN_MISSED || obs.length - missed < MIN_MISSED) return null;
  // scaled columns (ms, thousands of tokens) keep the Newton system well conditioned
  const rows = obs.map((o) => [1, o.x_ns / 1e6, o.prompt_tokens / 1e3]);
  const beta = logisticNewton(rows, obs.map((o) => o.missed));
  if (!beta || !(beta[1] < 0)) return null; // a delay must be less likely to be pending the later the boundary
  const s = -1 / beta[1];
  return {
    intercept_ns: Math.round(beta[0] * s * 1e6),
    per_prompt_token_ns: beta[2] * s * 1e3,
    scale_ns: Math.round(s * 1e6),
    requests,
    observations: obs.length,
    missed,
  };
}

/** μ(prompt), at least 0: the delay simulate gives a request of that prompt length. */
export function frontendDelayNs(m: Pick<FrontendDelayModel, "intercept_ns" | "per_prompt_token_ns">, promptTokens: number): number {
  return Math.max(0, Math.round(m.intercept_ns + m.per_prompt_token_ns * promptTokens));
}

/**
 * The frontend delay each request would have had with the model's delay and the recorded step
 * boundaries: picked up at the first schedule() at or after stamp + μ, at once when it found the
 * engine idle. Compared with the recorded delays, it checks the model and the boundary-wait
 * account together without a simulation.
 */
export function replayFrontendDelays(m: FrontendDelayModel, requests: readonly AlphaTrainingRow[], steps: readonly BetaTrainingRow[]): number[] {
  const byRank = boundariesByRank(steps);
  const out: number[] = [];
  for (const r of requests) {
    if (r.frontend_delay_ns === null || r.frontend_delay_ns < 0) continue;
    const stamp = r.arrival_time - r.frontend_delay_ns;
    const visible = stamp + frontendDelayNs(m, r.prompt_tokens);
    const b = byRank.get(r.dp_rank) ?? [];
    const i = firstAtOrAfter(b, visible);
    out.push((r.engine_idle_at_arrival === 1 || i >= b.length ? visible : b[i]) - stamp);
  }
  return out;
}

function boundariesByRank(steps: readonly BetaTrainingRow[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const s of steps) (m.get(s.dp_rank) ?? m.set(s.dp_rank, []).get(s.dp_rank)!).push(s.start_time);
  for (const list of m.values()) list.sort((a, b) => a - b);
  return m;
}

const firstAfter = (sorted: readonly number[], t: number) => lowerBound(sorted, (v) => v <= t);
const firstAtOrAfter = (sorted: readonly number[], t: number) => lowerBound(sorted, (v) => v < t);

/** Newton–Raphson (IRLS) for logistic regression; null if it does not converge (separation). */
function logisticNewton(x: number[][], y: number[], maxIter = 100): number[] | null {
  const p = x[0].length;
  let beta = new Array<number>(p).fill(0);
  for (let iter = 0; iter < maxIter; iter++) {
    const h = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    const g = new Array<number>(p).fill(0);
    for (let i = 0; i < x.length; i++) {
      const eta = x[i].reduce((s, v, j) => s + v * beta[j], 0);
      const mu = 1 / (1 + Math.exp(-eta));
      const w = Math.max(mu * (1 - mu), 1e-12);
      for (let j = 0; j < p; j++) {
        g[j] += x[i][j] * (y[i] - mu);
        for (let k = 0; k < p; k++) h[j][k] += w * x[i][j] * x[i][k];
      }
    }
    const step = solveSpd(h, g);
    beta = beta.map((b, j) => b + step[j]);
    if (!beta.every(Number.isFinite) || beta.some((b) => Math.abs(b) > 1e6)) return null;
    if (Math.max(...step.map(Math.abs)) < 1e-10) return beta;
  }
  return null;
}
