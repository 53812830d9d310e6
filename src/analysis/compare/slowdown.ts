import type { RequestFacts, StepFit } from "./collect.js";

/**
 * Slowdown = E2E / the request's service time when run alone.
 *
 * The service time alone is not measured (no run serves one request at a time), so it is
 * modelled from the baseline's own iterations: a least-squares fit of step duration
 *   duration ≈ c0 + c_prefill · prefill_tokens + c_decode · decode_tokens
 * over every iteration of the baseline that did work, then
 *   alone(r) = ceil(input_tokens / max_num_batched_tokens) · c0 + c_prefill · input_tokens
 *            + (output_tokens − 1) · (c0 + c_decode)
 * (the prompt in budget-sized chunks, whose last chunk yields the first token, then one
 * decode step per further token). One model, fitted on the baseline, serves every run,
 * so paired slowdowns differ only by E2E. Null when the fit is degenerate (fewer than 3
 * distinct kinds of step) or gives a non-positive time.
 */
export interface SlowdownModel {
  c0_ns: number;
  c_prefill_ns_per_token: number;
  c_decode_ns_per_token: number;
  iterations: number;
  budget_tokens: number | null;
}

export function fitSlowdownModel(fit: StepFit, budget: number | null): SlowdownModel | null {
  if (fit.n < 3) return null;
  const c = solve3(fit.xtx, fit.xty);
  if (!c) return null;
  return { c0_ns: c[0], c_prefill_ns_per_token: c[1], c_decode_ns_per_token: c[2], iterations: fit.n, budget_tokens: budget };
}

export function aloneNs(m: SlowdownModel, r: RequestFacts): number | null {
  const chunks = m.budget_tokens ? Math.ceil(r.input_tokens / m.budget_tokens) : 1;
  const t = chunks * m.c0_ns + m.c_prefill_ns_per_token * r.input_tokens + Math.max(0, r.output_tokens - 1) * (m.c0_ns + m.c_decode_ns_per_token);
  return t > 0 ? t : null;
}

export function slowdownOf(m: SlowdownModel | null, r: RequestFacts): number | null {
  if (!m || r.e2e_ns === null) return null;
  const alone = aloneNs(m, r);
  return alone === null ? null : r.e2e_ns / alone;
}

/** Gaussian elimination with partial pivoting on a 3×3 system; null when singular. */
function solve3(a: Float64Array, b: Float64Array): number[] | null {
  const m = [0, 1, 2].map((i) => [a[i * 3], a[i * 3 + 1], a[i * 3 + 2], b[i]]);
  for (let col = 0; col < 3; col++) {
    let piv = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
    if (Math.abs(m[piv][col]) < 1e-12 * Math.max(1, Math.abs(m[0][0]))) return null;
    [m[col], m[piv]] = [m[piv], m[col]];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let k = col; k < 4; k++) m[r][k] -= f * m[col][k];
    }
  }
  return [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
}
