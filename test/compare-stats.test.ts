import { describe, expect, it } from "vitest";
import { blockLength, blockResample, minNForQuantile, pairedDiffCI, rng, statOf, unpairedDiffCI, wilcoxonSignedRank } from "../src/analysis/compare/stats.js";

/**
 * An AR(1) series (phi = 0.3, about the lag-1 autocorrelation of the paired JCT differences on
 * the ab-* fixtures): neighbours correlated, as queueing makes arrival-ordered requests.
 * Stronger dependence covers less (87-91% at phi = 0.5; see blockLength).
 */
function ar1(n: number, rand: () => number, phi = 0.3): number[] {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out: number[] = [];
  let x = 0;
  for (let i = 0; i < n; i++) out.push((x = phi * x + gauss()));
  return out;
}

describe("moving-block bootstrap", () => {
  it("covers a known shift of the mean in at least 90% of 200 synthetic experiments of 250 requests (paired)", () => {
    const rand = rng(12345);
    const shift = 0.7;
    let covered = 0;
    for (let trial = 0; trial < 200; trial++) {
      const a = ar1(250, rand).map((x) => 10 + 3 * x);
      const noise = ar1(250, rand);
      const b = a.map((x, i) => x + shift + noise[i]);
      const ci = pairedDiffCI(a, b, { kind: "mean" }, 1000, trial + 1);
      if (ci.lo <= shift && shift <= ci.hi) covered++;
    }
    expect(covered / 200).toBeGreaterThanOrEqual(0.9);
    expect(covered / 200).toBeLessThan(1); // an interval that always covers would be too wide to mean anything
  });

  it("covers a known shift in at least 90% of 200 experiments when the runs are independent (unpaired)", () => {
    const rand = rng(777);
    let covered = 0;
    for (let trial = 0; trial < 200; trial++) {
      const a = ar1(150, rand);
      const b = ar1(150, rand).map((x) => x + 0.5);
      const ci = unpairedDiffCI(a, b, { kind: "mean" }, 1000, trial + 1);
      if (ci.lo <= 0.5 && 0.5 <= ci.hi) covered++;
    }
    expect(covered / 200).toBeGreaterThanOrEqual(0.9);
  });

  it("is deterministic for a seed and keeps blocks of consecutive indices", () => {
    const a = ar1(50, rng(9));
    const b = a.map((x) => x * 2);
    expect(pairedDiffCI(a, b, { kind: "mean" }, 500, 3)).toEqual(pairedDiffCI(a, b, { kind: "mean" }, 500, 3));
    expect(pairedDiffCI(a, b, { kind: "mean" }, 500, 3)).not.toEqual(pairedDiffCI(a, b, { kind: "mean" }, 500, 4));
    const idx = blockResample(10, 3, rng(1));
    for (let k = 0; k < 9; k++) if (k % 3 !== 2) expect(idx[k + 1]).toBe((idx[k] + 1) % 10);
    expect(blockLength(1000)).toBe(10);
  });

  it("an interval of no difference is exactly 0 when the runs are identical", () => {
    const a = [3, 1, 4, 1, 5, 9, 2, 6];
    expect(pairedDiffCI(a, a, { kind: "quantile", q: 0.5 }, 200, 1)).toEqual({ lo: 0, hi: 0 });
  });
});

describe("percentiles and Wilcoxon", () => {
  it("withholds a percentile until 10 observations lie beyond it", () => {
    expect(minNForQuantile(0.5)).toBe(20);
    expect(minNForQuantile(0.9)).toBe(100);
    expect(minNForQuantile(0.99)).toBe(1000);
  });

  it("type-7 quantiles as numpy.percentile", () => {
    expect(statOf([1, 2, 3, 4], { kind: "quantile", q: 0.5 })).toBe(2.5);
    expect(statOf([10, 0, 5], { kind: "quantile", q: 0.9 })).toBe(9);
  });

  it("exact small-sample p-values (hand-counted null distribution)", () => {
    // d = 1..5 all positive: W- = 0; P(W+ = 15) = 1/32, two-sided 2/32
    expect(wilcoxonSignedRank([1, 2, 3, 4, 5])).toMatchObject({ statistic: 0, p_value: 2 / 32, method: "exact", n: 5 });
    // zeros dropped
    expect(wilcoxonSignedRank([0, 0, 1, 2, 3, 4, 5])?.n).toBe(5);
    expect(wilcoxonSignedRank([0, 0])).toBeNull();
  });
});
