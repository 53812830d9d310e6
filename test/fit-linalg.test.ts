import { describe, expect, it } from "vitest";
import { huber, ols, ridge, tCdf, tQuantile, weightRows, type Design } from "../src/analysis/math/linalg.js";
import { errorMetrics, byDecile } from "../src/analysis/fit/metrics.js";

/** A design from rows of numbers. */
const design = (rows: number[][]): Design => ({ n: rows.length, p: rows[0].length, x: Float64Array.from(rows.flat()) });

describe("linear algebra of vsched fit", () => {
  it("OLS recovers noiseless coefficients of very differently scaled columns", () => {
    const rows: number[][] = [], y: number[] = [];
    for (let i = 0; i < 200; i++) {
      const a = (i * 37) % 512, b = (i * 11) % 17, c = ((i * 7) % 13) / 13;
      rows.push([1, a, b, c, a * a]);
      y.push(2e7 + 1.2e5 * a + 3e5 * b - 4e4 * c + 0.5 * a * a);
    }
    const r = ols(design(rows), Float64Array.from(y));
    const want = [2e7, 1.2e5, 3e5, -4e4, 0.5];
    r.coef.forEach((c, j) => expect(Math.abs(c - want[j]) / Math.abs(want[j])).toBeLessThan(1e-8));
    expect(r.kept.every(Boolean)).toBe(true);
  });

  it("drops a column that equals another (decode_tokens = decode_reqs) and keeps the fit", () => {
    const rows: number[][] = [], y: number[] = [];
    for (let i = 0; i < 50; i++) {
      const d = i % 9, p = (i * 13) % 300;
      rows.push([1, d, p, d]);
      y.push(10 + 2 * d + 0.1 * p);
    }
    const r = ols(design(rows), Float64Array.from(y));
    expect(r.kept).toEqual([true, true, true, false]);
    expect(r.coef[1]).toBeCloseTo(2, 9);
    expect(r.coef[3]).toBe(0);
  });

  it("HC3 standard errors match the textbook formula computed by hand on a tiny design", () => {
    // y = a + b x, x = 0..4, y = [1, 3, 2, 5, 4]: closed forms (X'X)^-1 = [[0.6, -0.2], [-0.2, 0.1]]
    const x = [0, 1, 2, 3, 4], yv = [1, 3, 2, 5, 4];
    const r = ols(design(x.map((v) => [1, v])), Float64Array.from(yv));
    expect(r.coef[0]).toBeCloseTo(1.4, 12);
    expect(r.coef[1]).toBeCloseTo(0.8, 12);
    // hand computation: e = y - 1.4 - 0.8x, h_i = 0.2 + (x_i - 2)^2 / 10, meat = Σ e²/(1-h)² x_i x_i'
    const e = x.map((v, i) => yv[i] - 1.4 - 0.8 * v), h = x.map((v) => 0.2 + (v - 2) ** 2 / 10);
    const w = e.map((ei, i) => (ei * ei) / (1 - h[i]) ** 2);
    const inv = [[0.6, -0.2], [-0.2, 0.1]];
    const meat = [[0, 0], [0, 0]];
    x.forEach((v, i) => {
      const xi = [1, v];
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) meat[a][b] += w[i] * xi[a] * xi[b];
    });
    const cov = (a: number, b: number) => [0, 1].reduce((s, k) => s + [0, 1].reduce((t, l) => t + inv[a][k] * meat[k][l] * inv[l][b], 0), 0);
    expect(r.se[0]).toBeCloseTo(Math.sqrt(cov(0, 0)), 12);
    expect(r.se[1]).toBeCloseTo(Math.sqrt(cov(1, 1)), 12);
  });

  it("ridge tends to OLS as lambda goes to 0 and shrinks slopes as it grows", () => {
    const rows = [...Array(40).keys()].map((i) => [1, i, (i * 7) % 5]);
    const y = Float64Array.from(rows, (r) => 3 + 2 * r[1] - r[2] + ((r[1] * 13) % 3) * 0.1);
    const o = ols(design(rows), y).coef, r0 = ridge(design(rows), y, 1e-9, 0), big = ridge(design(rows), y, 1e6, 0);
    r0.forEach((c, j) => expect(c).toBeCloseTo(o[j], 6));
    expect(Math.abs(big[1])).toBeLessThan(0.01);
  });

  it("Student t quantiles equal the printed tables", () => {
    // two-sided 95% critical values from any statistics table
    expect(tQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.2281, 4);
    expect(tQuantile(0.975, 30)).toBeCloseTo(2.0423, 4);
    expect(tQuantile(0.975, 1e6)).toBeCloseTo(1.96, 2);
    expect(tCdf(0, 7)).toBeCloseTo(0.5, 12);
  });

  it("error metrics: MAPE, quantiles, signed bias, R²", () => {
    const m = errorMetrics([110, 90, 100, 120], [100, 100, 100, 100]);
    expect(m.mape).toBeCloseTo(0.1, 12);
    expect(m.median_ape).toBeCloseTo(0.1, 12);
    expect(m.bias).toBeCloseTo(0.05, 12);
    expect(m.mae_ns).toBeCloseTo(10, 12);
    expect(m.r2).toBeNull(); // no spread in actual values
    const d = byDecile([...Array(20).keys()], [...Array(20).keys()].map((i) => i + 1), [...Array(20).keys()]);
    expect(d).toHaveLength(10);
    expect(d[0].n).toBe(2);
  });
});

describe("β features", () => {
  it("every β term is built from STEP_FEATURES (the list the harness's fitted cost model mirrors), each a beta_training column", async () => {
    const { BETA_FEATURE_SETS, STEP_FEATURES } = await import("../src/analysis/fit/features.js");
    const { BetaTrainingRow } = await import("../src/schema/fit.js");
    const columns = Object.keys(BetaTrainingRow.shape);
    const used = new Set(Object.values(BETA_FEATURE_SETS).flatMap((terms) => terms.flatMap((t) => [...t.factors])));
    for (const f of used) expect(STEP_FEATURES as readonly string[], f).toContain(f);
    for (const f of STEP_FEATURES) expect(columns, f).toContain(f);
    expect(used.size).toBeGreaterThan(5);
  });
});

describe("weighted fits (a pooled fit weighing its runs alike)", () => {
  // a row of weight k is k copies of that row: the known answer for least squares and ridge
  const rows: number[][] = [], y: number[] = [], w: number[] = [];
  for (let i = 0; i < 60; i++) {
    const a = (i * 37) % 101, b = (i * 11) % 7;
    rows.push([1, a, b]);
    y.push(5 + 0.3 * a - 2 * b + ((i * 13) % 17) - 8 + (i < 20 ? 25 : 0)); // the first 20 rows sit higher
    w.push(i < 20 ? 3 : 1);
  }
  const copies = (k: (i: number) => number) => {
    const r: number[][] = [], t: number[] = [];
    rows.forEach((row, i) => { for (let c = 0; c < k(i); c++) (r.push(row), t.push(y[i])); });
    return { d: design(r), y: Float64Array.from(t) };
  };
  const wa = Float64Array.from(w);

  it("weighted least squares equals least squares on repeated rows, and differs from the unweighted fit", () => {
    const rep = copies((i) => w[i]);
    const { d, y: yw } = weightRows(design(rows), Float64Array.from(y), wa);
    const got = ols(d, yw).coef, want = ols(rep.d, rep.y).coef, plain = ols(design(rows), Float64Array.from(y)).coef;
    got.forEach((c, j) => expect(c).toBeCloseTo(want[j], 8));
    expect(Math.abs(got[0] - plain[0])).toBeGreaterThan(1);
  });

  it("weighted ridge equals ridge on repeated rows (the same λ), and weights of 1 change nothing to the bit", () => {
    const rep = copies((i) => w[i]);
    const got = ridge(design(rows), Float64Array.from(y), 7, 0, wa), want = ridge(rep.d, rep.y, 7, 0);
    got.forEach((c, j) => expect(c).toBeCloseTo(want[j], 8));
    const ones = ridge(design(rows), Float64Array.from(y), 7, 0, new Float64Array(rows.length).fill(1));
    expect(ones).toEqual(ridge(design(rows), Float64Array.from(y), 7, 0));
  });

  it("Huber with equal prior weights is Huber (its scale comes from the residuals), with unequal ones it moves", () => {
    const d = design(rows), yy = Float64Array.from(y);
    const plain = huber(d, yy), same = huber(d, yy, undefined, undefined, new Float64Array(rows.length).fill(2.5));
    same.forEach((c, j) => expect(c).toBeCloseTo(plain[j], 6));
    const moved = huber(d, yy, undefined, undefined, wa);
    expect(Math.abs(moved[0] - plain[0])).toBeGreaterThan(1);
  });
});
