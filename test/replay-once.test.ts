import { describe, expect, it } from "vitest";
import { compareRuns } from "../src/analysis/compare/index.js";
import { computeReport } from "../src/analysis/report/index.js";
import { computeSummary } from "../src/analysis/summary/index.js";
import { resolveInputs } from "../src/parse/inputs.js";
import { openTraces, type TraceSource } from "../src/tables/from-trace.js";
import { traceFiles } from "./helpers/fixtures.js";
import { ROOT } from "./helpers/golden.js";

/**
 * A TableSource built from raw traces replays them on every scan(); these commands read every
 * table they need in one pass, so each input is replayed once (issue 20: summary replayed twice,
 * compare up to three times per run).
 */
const open = async (fixture: string): Promise<TraceSource> => openTraces(await resolveInputs(traceFiles(fixture), ROOT));

describe("reading commands replay each trace once", () => {
  it("summary", async () => {
    const src = await open("kv-pressure-preempt");
    const s = await computeSummary(src);
    expect(s.latency.itl).not.toBeNull(); // the figure that used to need a second pass
    expect(src.replays).toBe(1);
  });

  it("report (its collectors ride on the summary's pass)", async () => {
    const src = await open("kv-pressure-preempt");
    await computeReport(src);
    expect(src.replays).toBe(1);
  });

  it("compare, runs without predictions", async () => {
    const runs = [await open("ab-fcfs"), await open("ab-fcfs-jitter1")];
    await compareRuns(runs, { resamples: 100, seed: 1 });
    expect(runs.map((r) => r.replays)).toEqual([1, 1]);
  });

  it("compare, a run with predictions: the waiting queue's τ rides on the same pass", async () => {
    // τ over each step's queue needs every waiting request's final token count and its
    // predictions, which a trace gives only when the request finishes: the steps wait for them
    const runs = [await open("ab-fcfs"), await open("ab-isrtf-oracle")];
    const once = await compareRuns(runs, { resamples: 100, seed: 1 });
    expect(runs.map((r) => r.replays)).toEqual([1, 1]);
    expect(once.runs[1].predictor?.kendall_tau_b_waiting_queue.steps).toBeGreaterThan(100);
    // the same figures as two passes: a run whose predictions the look at its start missed
    const late = await open("ab-isrtf-oracle");
    (late.info as { predictionsLikely?: boolean }).predictionsLikely = false;
    const twice = await compareRuns([await open("ab-fcfs"), late], { resamples: 100, seed: 1 });
    expect(late.replays).toBe(2);
    expect(twice.runs[1].predictor).toEqual(once.runs[1].predictor);
  });
});
