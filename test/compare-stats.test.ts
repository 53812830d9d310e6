import { describe, expect, it } from "vitest";
import { blockLength, blockResample, bootstrapCIs, minNForQuantile, pairedDiffCI, rng, statOf, unpairedDiffCI, wilcoxonSignedRank } from "../src/analysis/compare/stats.js";

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

describe("relative change, bootstrapped as a ratio per resample", () => {
  it("B = 1.5 A exactly: every resample's ratio is +50%, so the interval is [+0.5, +0.5] (mean and p50)", () => {
    const a = ar1(120, rng(5)).map((x) => Math.exp(x));
    const b = a.map((x) => 1.5 * x);
    for (const s of [{ kind: "mean" as const }, { kind: "quantile" as const, q: 0.5 }]) {
      const { ratio } = bootstrapCIs(a, b, s, 300, 2, true);
      expect(ratio!.lo).toBeCloseTo(0.5, 12);
      expect(ratio!.hi).toBeCloseTo(0.5, 12);
    }
  });

  it("never goes below -100% for non-negative data, where the scaled difference did (the ab fixtures' p50 case)", () => {
    // a long right tail in A, B mostly near 0: the difference's lower bound divided by A's
    // point estimate falls below -100%, the ratio's cannot
    const rand = rng(31);
    const a = Array.from({ length: 60 }, () => (rand() < 0.5 ? 1 + rand() : 20 + 80 * rand()));
    const b = a.map((x) => x * 0.2 * rand());
    const s = { kind: "quantile" as const, q: 0.5 };
    const ci = bootstrapCIs(a, b, s, 2000, 1, true);
    expect(ci.diff.lo / statOf(a, s)).toBeLessThan(-1);
    expect(ci.ratio!.lo).toBeGreaterThanOrEqual(-1);
    expect(ci.ratio!.hi).toBeLessThan(0);
  });

  it("is null when the baseline's statistic is 0 in some resample, and the difference keeps its interval", () => {
    const a = [0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    const b = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const ci = bootstrapCIs(a, b, { kind: "mean" }, 500, 1, true);
    expect(ci.ratio).toBeNull();
    expect(ci.diff.lo).toBeLessThan(ci.diff.hi);
  });

  it("covers a known ratio of means in at least 90% of 200 log-normal AR(1) experiments (paired, n = 250)", () => {
    const rand = rng(4242);
    let covered = 0;
    for (let trial = 0; trial < 200; trial++) {
      const x = ar1(250, rand);
      const y = ar1(250, rand);
      // same marginal for a and b / 0.7 (rho 0.8 between them), so the true ratio of means is 0.7
      const a = x.map((v) => Math.exp(0.5 * v));
      const b = x.map((v, i) => 0.7 * Math.exp(0.5 * (0.8 * v + 0.6 * y[i])));
      const { ratio } = bootstrapCIs(a, b, { kind: "mean" }, 1000, trial + 1, true);
      if (ratio!.lo <= -0.3 && -0.3 <= ratio!.hi) covered++;
    }
    expect(covered / 200).toBeGreaterThanOrEqual(0.9);
    expect(covered / 200).toBeLessThan(1);
  });

  it("keeps the difference's interval exactly as before (same draws): the wrappers are its .diff", () => {
    const a = ar1(80, rng(8)).map((x) => 10 + x);
    const b = ar1(80, rng(9)).map((x) => 11 + x);
    expect(pairedDiffCI(a, b, { kind: "mean" }, 400, 6)).toEqual(bootstrapCIs(a, b, { kind: "mean" }, 400, 6, true).diff);
    expect(unpairedDiffCI(a, b, { kind: "mean" }, 400, 6)).toEqual(bootstrapCIs(a, b, { kind: "mean" }, 400, 6, false).diff);
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
