import { describe, expect, test } from "vitest";
import { RawRecord as RawRecordSchema, type HeaderRecord, type RawRecord } from "../src/schema/raw.js";
import type { BetaTrainingRow } from "../src/schema/fit.js";
import { gpuTimeView } from "../src/analysis/fit/gpu-time.js";
import { MIN_GPU_TIME_COVERAGE } from "../src/analysis/fit/clock.js";
import { replay } from "./helpers/collect.js";
import { stepRecord as step, header as traceHeader, updateRecord as update } from "./helpers/trace.js";
import { GpuTimeAccumulator } from "../src/analysis/summary/gpu-time.js";
import type { TableRow } from "../src/tables/types.js";

// Each step's GPU time (trace schema 1.6, update.gpu: [span_ns, gap_ns, host_ns], two CUDA events per
// step) in per_iteration, and fit's view of it, on hand-made inputs with answers worked out here.

const MS = 1_000_000;
const base = traceHeader();
const header = traceHeader({
  schema_version: "1.6", capabilities: { gpu_time: true },
  config: { ...(base.config as object), scheduler_class: "AsyncScheduler", async_scheduling: true },
}) as unknown as HeaderRecord;

describe("per_iteration gpu_step_ns, gpu_gap_ns and runner_host_ns", () => {
  test("each step takes its own update's figures, async updates interleaved; null and absent give empty cells", () => {
    const rows = replay([
      header,
      step(0, 10 * MS),
      step(1, 12 * MS), // async: scheduled before step 0's update
      update(0, 20 * MS, [7_250_000, null, 310_000]),
      step(2, 22 * MS),
      update(1, 30 * MS, [9_000_000, 125_000, 420_000]),
      step(3, 32 * MS),
      update(2, 40 * MS, [null, null, 380_000]), // its end event had not completed
      step(4, 42 * MS),
      update(3, 50 * MS, null), // it ran no model
      update(4, 60 * MS), // an emitter that does not time the GPU
    ] as RawRecord[]).perIteration;
    expect(rows.map((r) => [r.iteration_id, r.gpu_step_ns, r.gpu_gap_ns, r.runner_host_ns])).toEqual([
      [0, 7_250_000, null, 310_000],
      [1, 9_000_000, 125_000, 420_000],
      [2, null, null, 380_000],
      [3, null, null, null],
      [4, null, null, null],
    ]);
  });

  test("the raw schema takes [count | null, count | null, count] or null, and nothing negative", () => {
    const ok = (gpu: unknown) => RawRecordSchema.safeParse({ ...update(0, 0), gpu }).success;
    expect([ok([1, 0, 5]), ok([1, null, 0]), ok([null, null, 3]), ok(null)]).toEqual([true, true, true, true]);
    expect([ok([-1, 0, 0]), ok([1, 0]), ok([1.5, 0, 0]), ok([1, 0, null]), ok("1")]).toEqual([false, false, false, false, false]);
  });
});

/** Kept training rows over five CV blocks, step i's GPU time a known line in padded tokens. */
function rows(n: number, gpuOf: (padded: number, i: number) => number | null, stepOf: (gpu: number, i: number) => number): BetaTrainingRow[] {
  return Array.from({ length: n }, (_, i) => {
    const prefill = i % 4 === 0;
    const padded = prefill ? 256 + 32 * (i % 7) : 8 * (1 + (i % 5));
    const gpu = gpuOf(padded, i);
    return {
      step_time_ns: stepOf(gpu ?? 0, i), prefill_reqs: prefill ? 1 : 0, decode_reqs: prefill ? i % 3 : 8, prefill_tokens: prefill ? padded - 8 : 0,
      decode_tokens: prefill ? 8 : padded, batch_size: prefill ? 9 : padded, context_tokens: 100 + i, decode_context_tokens: 50 + (i % 11) * 10,
      prefill_attention_work: prefill ? 1000 * (i % 5) : 0, padded_tokens: padded, has_prefill: prefill ? 1 : 0,
      excluded: null, block: Math.floor((i * 5) / n), start_time: i * MS, gpu_step_ns: gpu, gpu_gap_ns: i === 0 ? null : 10_000,
    } as unknown as BetaTrainingRow;
  });
}

describe("fit's view of the GPU time", () => {
  const line = (padded: number) => 1_000_000 + 20_000 * padded;

  test("a GPU time linear in the padded batch is recovered per step type; the shares are the sums'", () => {
    // the update-to-update interval moves half of every prefill step's time to the step after it
    const r = rows(200, line, (g, i) => (i % 4 === 0 ? g / 2 : i % 4 === 1 ? g + line(256 + 32 * ((i - 1) % 7)) / 2 : g) + 50_000);
    const v = gpuTimeView(r, null, [1e-4, 1e-3])!;
    const sumGpu = r.reduce((s, x) => s + x.gpu_step_ns!, 0), sumStep = r.reduce((s, x) => s + x.step_time_ns!, 0);
    expect(v.steps).toBe(200);
    expect(v.gpu_over_step_time).toBeCloseTo(sumGpu / sumStep, 12);
    expect(v.gap_over_step_time).toBeCloseTo((199 * 10_000) / (sumStep - r[0].step_time_ns!), 12);
    const gpuOls = v.models.find((m) => m.id === "gpu/ols")!;
    expect(gpuOls.cv!.mape).toBeLessThan(1e-9);
    for (const t of ["mixed", "decode_only"]) expect(gpuOls.cv_by_batch_type.find((g) => g.group === t)!.mape).toBeLessThan(1e-9);
    expect(gpuOls.cv_by_batch_type.map((g) => g.group)).not.toContain("prefill_episode");
    expect(v.chosen.startsWith("gpu/")).toBe(true);
  });

  test("no view below the coverage threshold, or without any GPU time", () => {
    const n = 100;
    const missing = Math.ceil(n * (1 - MIN_GPU_TIME_COVERAGE)) + 1;
    expect(gpuTimeView(rows(n, (p, i) => (i < missing ? null : line(p)), (g) => g + 1), null, [1e-3])).toBeNull();
    expect(gpuTimeView(rows(n, (p, i) => (i < missing - 2 ? null : line(p)), (g) => g + 1), null, [1e-3])).not.toBeNull();
    expect(gpuTimeView(rows(n, () => null, () => 1), null, [1e-3])).toBeNull();
  });
});

describe("summary's gpu_time", () => {
  test("busy and idle sums; the share over the steps with both figures", () => {
    const acc = new GpuTimeAccumulator();
    const add = (g: number | null, gap: number | null) => acc.add({ gpu_step_ns: g, gpu_gap_ns: gap } as TableRow<"per_iteration">);
    expect(acc.stats()).toBeNull();
    add(null, null); // a step without a figure
    expect(acc.stats()).toBeNull();
    add(8_000_000, null); // the first timed step: no gap
    add(6_000_000, 2_000_000);
    add(null, null);
    add(9_000_000, null); // after a step without a figure
    add(3_000_000, 1_000_000);
    expect(acc.stats()).toEqual({ steps: 4, busy_ns: 26_000_000, idle_ns: 3_000_000, busy_share: 9 / 12 });
  });

  test("a replayed trace's summary figures are the update records' sums", () => {
    const acc = new GpuTimeAccumulator();
    for (const r of replay([header, step(0, 0), update(0, 10 * MS, [4_000_000, null, 1]), step(1, 11 * MS), update(1, 20 * MS, [5_000_000, 500_000, 1])] as RawRecord[]).perIteration) acc.add(r as unknown as TableRow<"per_iteration">);
    expect(acc.stats()).toEqual({ steps: 2, busy_ns: 9_000_000, idle_ns: 500_000, busy_share: 5 / 5.5 });
  });
});
