import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { runCliOk } from "./helpers/golden.js";
import { comparePace, compareProgress, compareWork, PaceSampler, ProgressSampler, WorkSampler, type PaceBin, type PaceStep, type ProgressWindow, type WorkMilestone } from "../src/analysis/fit/pace.js";

/**
 * calibrate's pace: the time from one schedule() entry to the next, by step type and batch,
 * recorded against simulated (src/analysis/fit/pace.ts).
 *
 * The known answer: fixtures/known-linear and known-linear-seqs6 were recorded by vLLM's own
 * scheduler on a virtual clock with the harness's linear cost (their recipe.json: alpha 20 ms,
 * 0.3 ms a decode token, 0.5 ms a scheduled request), so a decode-only step of batch B takes
 * 20 + 0.8·B ms and nothing else passes between steps. Counted in the traces' per_iteration rows:
 * 47 of the 87 decode steps of batch 1–8 in known-linear have batch 1, 89 of its 107 decode steps
 * of batch 9–16 have batch 16, and known-linear-seqs6 (max_num_seqs 6) has its median decode step
 * at batch 6 and none above.
 */
const ms = (v: number) => v * 1e6;
const bin = (pace: PaceBin[], kind: string, lo: number) => pace.find((b) => b.kind === kind && b.batch_lo === lo)!;

describe("vsched calibrate: pace by batch on a known cost", () => {
  it("reads each decode bin's median step from the cost, and names the bin the other run never reached", async () => {
    const cal = JSON.parse(await runCliOk(["calibrate", "fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl", "--json"]));
    const pace = cal.pace as PaceBin[];
    const small = bin(pace, "decode", 0), large = bin(pace, "decode", 8);
    expect(small.recorded.steps).toBe(87);
    expect(small.recorded.median_ns).toBeCloseTo(ms(20 + 0.8 * 1), -3); // within 1 µs
    expect(small.simulated.median_ns).toBeCloseTo(ms(20 + 0.8 * 6), -3);
    expect(small.error).toBeCloseTo((20 + 0.8 * 6) / (20 + 0.8 * 1) - 1, 5);
    expect(large.recorded.steps).toBe(107);
    expect(large.recorded.median_ns).toBeCloseTo(ms(20 + 0.8 * 16), -3);
    expect(large.simulated.steps).toBe(0);
    expect(large.error).toBeNull();
    const shares = pace.reduce((s, b) => s + b.recorded.time_share!, 0);
    expect(shares).toBeCloseTo(1, 9);
    const text = await runCliOk(["calibrate", "fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl"]);
    expect(text).toMatch(/decode {3}batch 9-16 .*32\.800 ms -> -.*never reached in the replay/);
  });
});

describe("vsched calibrate: progress by window of the run's time", () => {
  it("accounts for every step and every scheduled token of both runs, window by window", async () => {
    // Both fixtures replay the same 80 requests (56,714 prompt and 3,543 output tokens in their
    // per_request tables) with no preemption and no prefix cache: every prompt token and every
    // output token but each request's first (which its last prefill step samples) is scheduled
    // once, 56,714 + 3,543 - 80 = 60,177 tokens; known-linear ran 328 steps, seqs6 676.
    const cal = JSON.parse(await runCliOk(["calibrate", "fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl", "--json"]));
    const progress = cal.progress as ProgressWindow[];
    const sum = (side: "recorded" | "simulated", k: "steps" | "scheduled_tokens") => progress.reduce((n, w) => n + w[side][k], 0);
    expect([sum("recorded", "steps"), sum("simulated", "steps")]).toEqual([328, 676]);
    expect([sum("recorded", "scheduled_tokens"), sum("simulated", "scheduled_tokens")]).toEqual([60177, 60177]);
    expect(progress.map((w) => w.from_s)).toEqual(progress.map((_, i) => 5 * i));
    // max_num_seqs 6 against 16: the same work takes longer, so the smaller engine's run is the longer one
    expect(progress.at(-1)!.recorded.steps).toBe(0);
    expect(progress.at(-1)!.simulated.steps).toBeGreaterThan(0);
  });

  it("puts a step in the window of its start from the run's first step, and averages the waiting queue over the window's steps", () => {
    const a = new ProgressSampler(), b = new ProgressSampler();
    a.add({ start_time: 1e9, total_tokens: 10, waiting_count: 2 });
    a.add({ start_time: 5.9e9, total_tokens: 20, waiting_count: 4 }); // 4.9 s after the first: window 0
    a.add({ start_time: 6.1e9, total_tokens: 30, waiting_count: 1 }); // 5.1 s: window 1
    b.add({ start_time: 7e9, total_tokens: 5, waiting_count: 0 });
    expect(compareProgress(a, b)).toEqual([
      { from_s: 0, recorded: { steps: 2, scheduled_tokens: 30, mean_waiting: 3 }, simulated: { steps: 1, scheduled_tokens: 5, mean_waiting: 0 } },
      { from_s: 5, recorded: { steps: 1, scheduled_tokens: 30, mean_waiting: 1 }, simulated: { steps: 0, scheduled_tokens: 0, mean_waiting: null } },
    ]);
  });
});

describe("vsched calibrate: work done by share of each run's tokens", () => {
  it("dates each share at the step whose tokens reach it, read against the converted per_iteration table", async () => {
    // the oracle: each run's per_iteration.csv (vsched convert), its token-scheduling steps in
    // order, cumulative tokens, and the first step whose running total reaches share × total
    const fromTable = async (trace: string) => {
      const out = mkdtempSync(path.join(os.tmpdir(), "vsched-work-"));
      await runCliOk(["convert", trace, "-o", out, "--quiet"]);
      const rows = Papa.parse<Record<string, string>>(readFileSync(path.join(out, "per_iteration.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
      const t0 = Math.min(...rows.map((r) => Number(r.start_time)));
      const steps = rows.filter((r) => Number(r.total_tokens) > 0).sort((a, b) => Number(a.iteration_id) - Number(b.iteration_id));
      const total = steps.reduce((n, r) => n + Number(r.total_tokens), 0);
      return (share: number) => {
        let done = 0;
        for (const r of steps) if ((done += Number(r.total_tokens)) >= share * total) return Number(r.start_time) - t0;
        return null;
      };
    };
    const [rec, sim] = await Promise.all(["fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl"].map(fromTable));
    const cal = JSON.parse(await runCliOk(["calibrate", "fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl", "--json"]));
    const work = cal.work as WorkMilestone[];
    expect(work.map((m) => m.share)).toEqual([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1]);
    for (const m of work) {
      expect(m.recorded_ns).toBe(rec(m.share));
      expect(m.simulated_ns).toBe(sim(m.share));
      expect(m.lead_ns).toBe(m.simulated_ns! - m.recorded_ns!);
    }
    // max_num_seqs 6 against 16 on the same cost: the smaller engine falls behind and stays behind
    expect(work.slice(1).every((m) => m.lead_ns! > 0)).toBe(true);
  });

  it("keeps every step of a short run and a bounded number of a long one, dating a share within the kept stride", () => {
    const a = new WorkSampler();
    for (let i = 0; i < 10; i++) {
      a.add({ start_time: 2e9 + i * 1e9, total_tokens: 100 });
      if (i === 3) a.add({ start_time: 5.5e9, total_tokens: 0 }); // a step with no tokens dates nothing
    }
    expect([0.01, 0.5, 0.55, 1].map((q) => a.at(q))).toEqual([0, 4e9, 5e9, 9e9]);
    expect(new WorkSampler().at(0.5)).toBeNull();
    // 10,000 one-token steps a millisecond apart: halved twice past 4,096 kept points (a stride of 4 steps)
    const long = new WorkSampler();
    for (let i = 0; i < 10_000; i++) long.add({ start_time: i * 1e6, total_tokens: 1 });
    const half = long.at(0.5)!; // exact: the 5,000th step, 4.999 s
    expect(half).toBeGreaterThanOrEqual(4.999e9);
    expect(half).toBeLessThan(4.999e9 + 4e6);
    expect(long.at(1)).toBe(9.999e9); // the last step is always known
    // 1% is the 100th step (0.099 s); the kept steps are every 4th from the first, so step 101 (0.1 s) dates it
    const [first] = compareWork(a, long);
    expect(first).toEqual({ share: 0.01, recorded_ns: 0, simulated_ns: 0.1e9, lead_ns: 0.1e9 });
  });
});

describe("PaceSampler", () => {
  const step = (s: Partial<PaceStep> & Pick<PaceStep, "start_time" | "batch_size">): PaceStep => ({ dp_rank: 0, num_prefill_reqs: 0, busy_after: true, ...s });

  it("paces a step by the next one of its rank, leaves out the gap after an idle step, and keys by the paced step's type and batch", () => {
    const rec = new PaceSampler();
    // rank 0: a decode step of 4 (paced 10), a prefill step after which the engine went idle, a decode step (paced 5), an empty step
    rec.add(step({ start_time: 0, batch_size: 4 }));
    rec.add(step({ dp_rank: 1, start_time: 5, batch_size: 100 })); // another rank's steps interleave
    rec.add(step({ start_time: 10, batch_size: 4, num_prefill_reqs: 1, busy_after: false }));
    rec.add(step({ dp_rank: 1, start_time: 12, batch_size: 100 }));
    rec.add(step({ start_time: 40, batch_size: 4 })); // not paced: the step before it left the engine idle
    rec.add(step({ start_time: 45, batch_size: 0 }));
    rec.add(step({ start_time: 47, batch_size: 3 })); // not paced: an empty step paces nothing
    expect(Object.fromEntries(rec.samples())).toEqual({ "decode:0": [10, 5], "decode:4": [7] });
    const sim = new PaceSampler();
    const pace = comparePace(rec, sim);
    expect(pace.map((b) => [b.kind, b.batch_lo, b.batch_hi, b.recorded.steps, b.simulated.steps])).toEqual([
      ["decode", 0, 8, 2, 0],
      ["decode", 64, 128, 1, 0],
    ]);
    expect(pace[0].recorded.time_share).toBeCloseTo(15 / 22, 12);
  });

  it("compares medians only where both runs have enough steps, and gives the last bin no upper bound", () => {
    const a = new PaceSampler(), b = new PaceSampler();
    // 20 steps each: 19 paced, one short of PACE_MIN_STEPS
    for (let i = 0; i < 20; i++) (a.add(step({ start_time: i * 10, batch_size: 2000 })), b.add(step({ start_time: i * 12, batch_size: 2000 })));
    const [big] = comparePace(a, b);
    expect([big.batch_lo, big.batch_hi, big.recorded.steps, big.recorded.median_ns, big.simulated.median_ns, big.error]).toEqual([1024, null, 19, 10, 12, null]);
    a.add(step({ start_time: 200, batch_size: 2000 }));
    b.add(step({ start_time: 240, batch_size: 2000 }));
    const [again] = comparePace(a, b);
    expect(again.error).toBeCloseTo(0.2, 12);
  });
});
