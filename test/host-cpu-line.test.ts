import { describe, expect, it } from "vitest";
import { referenceLine, runIndex } from "../src/analysis/fit/host-cpu.js";

/**
 * The host index's reference line takes its slope within runs (src/analysis/fit/host-cpu.ts).
 * Known answer: two hosts whose schedule() differs by a constant (c_run + b × batch, b the same),
 * the fast host at large batches and the slow one at small batches, as the 1B s128 and s64 runs
 * of two GPU machines were. The within-run slope is b exactly; a pooled slope learns the hosts'
 * difference as a (here negative) cost per request and reads the slow host as the fast one.
 */
const B = 2_000;
const run = (c: number, batches: number[]) => batches.map((x) => ({ excluded: null, batch_size: x, schedule_ns: c + B * x }));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("host CPU reference line", () => {
  const fast = run(100_000, range(40, 60));
  const slow = run(400_000, range(1, 20));

  it("learns the per-request cost within runs, not the hosts' difference", () => {
    const line = referenceLine([fast, slow])!;
    const all = [...fast, ...slow];
    const meanX = all.reduce((s, r) => s + r.batch_size, 0) / all.length;
    const meanY = all.reduce((s, r) => s + r.schedule_ns, 0) / all.length;
    // scaled as a whole: the ratio of slope to intercept is the unscaled line's
    expect(line.per_request_ns / line.intercept_ns).toBeCloseTo(B / (meanY - B * meanX), 12);
    expect(line.per_request_ns).toBeGreaterThan(0);
  });

  it("so the slow host reads slower than the fast one", () => {
    const line = referenceLine([fast, slow])!;
    expect(runIndex(slow, line)).toBeGreaterThan(1.2 * runIndex(fast, line));
  });

  it("one run falls back to its own slope; runs of one batch each to the pooled one", () => {
    const one = referenceLine([fast])!;
    expect(one.per_request_ns / one.intercept_ns).toBeCloseTo(B / 100_000, 12);
    const flat = referenceLine([run(100_000, Array(12).fill(10)), run(300_000, Array(12).fill(30))])!;
    // pooled through the two points (10, 120k) and (30, 360k): slope 12k, intercept 0 before scaling
    expect(flat.intercept_ns).toBeCloseTo(0, 6);
    expect(runIndex(run(100_000, Array(12).fill(10)), flat)).toBeCloseTo(1, 3);
  });
});
