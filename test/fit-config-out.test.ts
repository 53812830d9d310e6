import { describe, expect, it } from "vitest";
import type { BetaTrainingRow } from "../src/schema/fit.js";
import { configOutBias, MIN_CONFIGS } from "../src/analysis/fit/config-out.js";
import { gpuTime } from "../src/analysis/fit/clock.js";

/**
 * Known answers for the pooled model's bias on a configuration left out (config-out.ts): steps
 * whose GPU time is an exact line in the tokens features give 0 whichever configuration is left
 * out; a configuration whose steps all take 12% longer than that line is missed by about that
 * much when it is left out, and pulls the others' models toward it when it is in.
 */
function rows(config: number, n: number, scale: number): BetaTrainingRow[] {
  return Array.from({ length: n }, (_, i) => {
    const prefill = (i * 37 + config * 101) % 900, decode = 1 + ((i * 13 + config) % 60), batch = decode + (prefill > 0 ? 1 : 0);
    const gpu = scale * (2e6 + 1500 * prefill + 40_000 * decode + 5_000 * batch);
    return { prefill_tokens: prefill, decode_tokens: decode, batch_size: batch, gpu_step_ns: gpu } as unknown as BetaTrainingRow;
  });
}

function pool(scales: number[]) {
  const parts = scales.map((s, c) => rows(c, 200, s));
  const kept = parts.flat();
  const groupOf = new Map<object, number>();
  parts.forEach((p, c) => p.forEach((r) => groupOf.set(r, c)));
  return { kept, groupOf };
}

const OLS = { feature_set: "tokens", estimator: "ols" as const, ridge_lambda: null };

describe("configOutBias", () => {
  it("is 0 where every configuration follows the same line", () => {
    const { kept, groupOf } = pool([1, 1, 1, 1]);
    expect(configOutBias(kept, groupOf, kept.length, OLS, null, gpuTime)).toBeLessThan(1e-5); // rounding alone
  });

  it("finds a configuration that runs 12% slower than the others", () => {
    const { kept, groupOf } = pool([1, 1, 1.12, 1]);
    const b = configOutBias(kept, groupOf, kept.length, OLS, null, gpuTime)!;
    // left out, the slow one is predicted by the others' line: (1 − 1.12) / 1.12 = −10.7%; each
    // other one left out is predicted by a line of two configurations at 1 and the one at 1.12,
    // about 4% long: the mean is about (10.7 + 3 × 4) / 4 = 5.7%
    expect(b).toBeGreaterThan(0.04);
    expect(b).toBeLessThan(0.07);
  });

  it(`needs ${MIN_CONFIGS} configurations`, () => {
    const { kept, groupOf } = pool([1, 1.12]);
    expect(configOutBias(kept, groupOf, kept.length, OLS, null, gpuTime)).toBeNull();
  });
});
