import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { recordedWaitShare, waitScale, waitShare } from "../src/analysis/fit/cpu-wait.js";
import { EngineCpuAccumulator } from "../src/analysis/summary/engine-cpu.js";
import { recordedSteps } from "../src/analysis/fit/recorded-steps.js";
import { memorySource } from "../src/tables/memory.js";
import type { TableRow } from "../src/tables/types.js";
import { runCli } from "./helpers/golden.js";

/**
 * CPU contention as a run-level input of the step model (src/analysis/fit/cpu-wait.ts, docs/fit.md
 * "CPU contention"). Known answers worked out by hand: the wait share of a run, the scale a
 * share gives a step, and the share simulate reads back from a recorded run's per_iteration.
 */
const MS = 1_000_000;

describe("wait share and scale", () => {
  it("Σ wait / Σ step time over kept rows; none when any kept row lacks the wait", () => {
    const rows = [
      { excluded: null, step_time_ns: 10 * MS, cpu_wait_ns: 1 * MS },
      { excluded: null, step_time_ns: 30 * MS, cpu_wait_ns: 9 * MS },
      { excluded: "warmup" as const, step_time_ns: 50 * MS, cpu_wait_ns: null },
    ];
    expect(waitShare(rows)).toBeCloseTo(10 / 40, 15);
    expect(waitShare([...rows, { excluded: null, step_time_ns: 5 * MS, cpu_wait_ns: null }])).toBeNull();
  });

  it("a step waiting share w of its time under coefficient c takes 1 / (1 − c·w) of its uncontended time, capped at 10×", () => {
    expect(waitScale(0.8, 0.25)).toBeCloseTo(1.25, 15);
    expect(waitScale(1, 0)).toBe(1);
    expect(waitScale(-0.5, 0.3)).toBe(1); // a negative coefficient is no speed-up
    expect(waitScale(2, 0.9)).toBeCloseTo(10, 12);
  });
});

/** a per_iteration row with the fields the share reads (the rest unused) */
function step(it: number, startMs: number, schedMs: number, fwdMs: number | null, waitMs: number | null): TableRow<"per_iteration"> {
  return {
    iteration_id: it, dp_rank: 0, start_time: startMs * MS, scheduling_overhead: schedMs * MS,
    forward_duration: fwdMs === null ? null : fwdMs * MS, total_tokens: 8, engine_cpu_wait_ns: waitMs === null ? null : waitMs * MS,
  } as unknown as TableRow<"per_iteration">;
}

describe("a recorded run's share (simulate --cpu-wait recorded)", () => {
  it("each step's span takes the next step's wait, over the steps fit keeps", async () => {
    // synchronous steps 10 ms apart: schedule() 1 ms, update at 9 ms, so step time = 8 ms
    const rows = Array.from({ length: 14 }, (_, i) => step(i, 10 * i, 1, 8, i === 0 ? 50 : 2));
    rows[13] = step(13, 130, 1, null, 4); // no update: not kept, but it gives step 12's span its wait
    const share = recordedWaitShare(await recordedSteps(memorySource({ per_iteration: rows })), 10);
    // kept: steps 10, 11, 12 (after ten warm-up steps); their spans' waits: 2, 2, 4 ms over 3 × 8 ms
    expect(share).toBeCloseTo(8 / 24, 12);
  });

  it("a run without step.cpu has none", async () => {
    const rows = Array.from({ length: 14 }, (_, i) => step(i, 10 * i, 1, 8, null));
    expect(recordedWaitShare(await recordedSteps(memorySource({ per_iteration: rows })), 10)).toBeNull();
  });
});

describe("simulate --cpu-wait", () => {
  it("a share outside [0, 1) is refused in one line", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-wait-"));
    const model = path.join(dir, "m.json");
    writeFileSync(model, JSON.stringify({
      format: "vsched-step-model", format_version: "1.0", unit: "seconds", model: "gpu_wait/ols",
      terms: [{ name: "intercept", factors: [], coef: 0.01 }, { name: "cpu_wait_ns", factors: ["cpu_wait_ns"], coef: 0.9e-9 }],
      per_step_overhead_s: 0, min_step_s: 0, frontend_delay_s: 0, alpha: null,
      trained_on: { sources: [], steps: 1, vllm_version: "0.24.0" },
      cpu_wait: { coef: 0.9, training_shares: [0, 0.3], share: 0, scale: 1 },
    }));
    const r = await runCli(["simulate", path.join("fixtures", "h100-s64-c"), "--model", model, "-o", path.join(dir, "out"), "--cpu-wait", "1.5"], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--cpu-wait: expected recorded, none or a share in [0, 1)");
  }, 120_000);
});

describe("summary's engine_cpu", () => {
  it("a step without figures still moves the start: the next figure covers only the time since it", () => {
    const acc = new EngineCpuAccumulator();
    const row = (startMs: number, cpu: number | null, wait: number | null) =>
      ({ dp_rank: 0, start_time: startMs * MS, engine_cpu_ns: cpu === null ? null : cpu * MS, engine_cpu_wait_ns: wait === null ? null : wait * MS, cpu_pressure_ns: null }) as unknown as TableRow<"per_iteration">;
    acc.add(row(0, 50, 0)); // since the emitter attached: not counted
    acc.add(row(10, 5, 1));
    acc.add(row(20, null, null)); // the scheduler moved thread
    acc.add(row(30, 4, 2));
    const s = acc.stats()!;
    expect(s.covered_ns).toBe(20 * MS); // (10 − 0) + (30 − 20)
    expect(s.cpu_share).toBeCloseTo(9 / 20, 15);
    expect(s.wait_share).toBeCloseTo(3 / 20, 15);
    expect(s.pressure_share).toBeNull();
  });
});
