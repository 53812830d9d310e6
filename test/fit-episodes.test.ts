import { describe, expect, it } from "vitest";
import { episodeMetrics, prefillEpisodes } from "../src/analysis/fit/metrics.js";

/**
 * Prefill episodes (docs/fit.md, "Blocked cross-validation"): steps with prefill and the step on
 * each side, joined where they touch, within one rank and consecutive steps only. The expected
 * episodes are written out by hand from the pattern of each case.
 */
const steps = (pattern: string, rank = 0, from = 0) => [...pattern].map((c, i) => ({ dp_rank: rank, iteration_id: from + i, prefill_reqs: c === "P" ? 1 : 0 }));

describe("prefill episodes", () => {
  it("a prefill step with its neighbours; episodes one decode step apart join", () => {
    //            0123456789
    const rows = steps("DDPDDDPDPDD");
    expect(prefillEpisodes(rows)).toEqual([[1, 2, 3], [5, 6, 7, 8, 9]]);
  });

  it("a run edge and a gap in the steps (a left-out step) end an episode", () => {
    const rows = [...steps("PD"), ...steps("DP", 0, 5)];
    expect(prefillEpisodes(rows)).toEqual([[0, 1], [2, 3]]);
  });

  it("ranks are separate, and pooled runs concatenated start new episodes", () => {
    const rows = [...steps("DPD", 0), ...steps("DPD", 1), ...steps("DP", 0, 0), ...steps("D", 0, 2)];
    // the third run starts again at step 0 of rank 0: it cannot continue the first run's episode
    expect(prefillEpisodes(rows)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  });

  it("an episode's error is that of its total: time moved between neighbours cancels", () => {
    const rows = steps("DPD");
    const actual = [10, 30, 10];
    const pred = [15, 25, 10]; // 5 ms moved from the prefill step to the step before it
    const m = episodeMetrics(prefillEpisodes(rows), pred, actual);
    expect(m.n).toBe(1);
    expect(m.mape).toBe(0);
  });
});
