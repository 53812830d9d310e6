import { describe, expect, test } from "vitest";
import { jainIndex, kendallTauB, mean, quantileSorted, TopK, Values } from "../src/analysis/math/stats.js";
import { kendallTauBrute } from "./helpers/kendall.js";

/** O(n²) τ-b straight from the definition */

describe("quantileSorted (type 7, as numpy.percentile)", () => {
  test("matches numpy on a small sample", () => {
    const s = [1, 2, 3, 4, 10];
    // numpy.percentile([1,2,3,4,10], [50, 90, 99, 99.9]) = 3, 7.6, 9.76, 9.976
    expect(quantileSorted(s, 0.5)).toBe(3);
    expect(quantileSorted(s, 0.9)).toBeCloseTo(7.6, 12);
    expect(quantileSorted(s, 0.99)).toBeCloseTo(9.76, 12);
    expect(quantileSorted(s, 0.999)).toBeCloseTo(9.976, 12);
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 1)).toBe(10);
  });
  test("one value and none", () => {
    expect(quantileSorted([42], 0.99)).toBe(42);
    expect(quantileSorted([], 0.5)).toBeNull();
  });
});

describe("Values", () => {
  test("grows past its initial capacity and sorts numerically", () => {
    const v = new Values();
    for (let i = 5000; i > 0; i--) v.push(i * 10);
    expect(v.count).toBe(5000);
    const s = v.sortedView();
    expect(s[0]).toBe(10);
    expect(s[4999]).toBe(50000);
    expect(mean(s)).toBe(25005);
  });
});

describe("jainIndex", () => {
  test("1 for equal shares, 1/n when one takes all", () => {
    expect(jainIndex([3, 3, 3, 3])).toBe(1);
    expect(jainIndex([5, 0, 0, 0])).toBe(0.25);
    expect(jainIndex([1, 2, 3])).toBeCloseTo(36 / (3 * 14), 12);
    expect(jainIndex([])).toBeNull();
    expect(jainIndex([0, 0])).toBeNull();
  });
});

describe("kendallTauB", () => {
  test("perfect agreement, reversal, and constant input", () => {
    expect(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(kendallTauB([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(kendallTauB([1], [1])).toBeNull();
  });
  test("equals the O(n²) definition with ties (scipy's tau-b)", () => {
    let s = 12345;
    const r = () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s / 2 ** 31);
    for (let trial = 0; trial < 20; trial++) {
      const n = 2 + Math.floor(r() * 200);
      const x = Array.from({ length: n }, () => Math.floor(r() * 10));
      const y = Array.from({ length: n }, (_, i) => (r() < 0.7 ? x[i] + Math.floor(r() * 4) : Math.floor(r() * 10)));
      const fast = kendallTauB(x, y);
      const slow = kendallTauBrute(x, y);
      if (slow === null) expect(fast).toBeNull();
      else expect(fast).toBeCloseTo(slow, 12);
    }
  });
  test("known value: scipy.stats.kendalltau([12,2,1,12,2],[1,4,7,1,0]) = -0.4714045", () => {
    expect(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])).toBeCloseTo(-0.47140452079103173, 12);
  });
});

describe("TopK", () => {
  test("keeps the k largest, ties by the comparator", () => {
    const t = new TopK<{ id: string; v: number }>(3, (a, b) => b.v - a.v || (a.id < b.id ? -1 : 1));
    for (const [id, v] of [["a", 1], ["b", 5], ["c", 3], ["d", 5], ["e", 4], ["f", 0]] as const) t.offer({ id, v });
    expect(t.result().map((x) => x.id)).toEqual(["b", "d", "e"]);
  });
});
