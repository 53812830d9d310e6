import { describe, expect, test } from "vitest";
import type { HeaderRecord, RawRecord, StepRecord } from "../src/schema/raw.js";
import { EngineCpuSteps } from "../src/analysis/report/engine-cpu.js";
import type { TableRow } from "../src/tables/types.js";
import { replayReport } from "./helpers/collect.js";

// The report's engine CPU series: each step's step.cpu figures over the interval since the
// previous step's start (what the emitter's differences cover), worked out by hand below.

const MS = 1_000_000;
type CpuCols = Pick<TableRow<"per_iteration">, "engine_cpu_ns" | "engine_cpu_wait_ns" | "cpu_pressure_ns">;
const row = (c: Partial<CpuCols> | undefined[]): TableRow<"per_iteration"> => c as unknown as TableRow<"per_iteration">;
const cols = (cpu: number | null, wait: number | null, pressure: number | null) => row({ engine_cpu_ns: cpu, engine_cpu_wait_ns: wait, cpu_pressure_ns: pressure });
const nanToNull = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isNaN(v) ? null : v));

describe("EngineCpuSteps", () => {
  test("shares of the interval since the previous step's start; none for step 0, after a gap, or without figures", () => {
    const s = new EngineCpuSteps();
    // steps 0..5 start at 0, 8, 16, 32, (step 4 unknown), 48 ms; shares in binary fractions, exact in float32
    const start = Float64Array.from([0, 8, 16, 32, NaN, 48], (t) => t * MS);
    s.add(0, cols(5 * MS, 1 * MS, 1 * MS)); // since the emitter attached: no share
    s.add(1, cols(4 * MS, 1 * MS, 2 * MS));
    s.add(2, cols(null, null, null)); // the scheduler moved to another thread
    s.add(3, cols(8 * MS, 4 * MS, null)); // no PSI on this step
    s.add(5, cols(2 * MS, 0, 0)); // no previous start (step 4 missing)
    const r = s.shares(start, 6)!;
    expect(s.figures).toBe(4);
    expect(r.points).toBe(2);
    expect(nanToNull(r.cpu_share)).toEqual([null, 0.5, null, 0.5, null, null]);
    expect(nanToNull(r.wait_share)).toEqual([null, 0.125, null, 0.25, null, null]);
    expect(nanToNull(r.pressure_share!)).toEqual([null, 0.25, null, null, null, null]);
  });

  test("columns an older log lacks (undefined) or a trace without step.cpu (null) give no series", () => {
    const s = new EngineCpuSteps();
    s.add(0, row([]));
    s.add(1, cols(null, null, null));
    expect(s.figures).toBe(0);
    expect(s.shares(Float64Array.from([0, MS]), 2)).toBeNull();
  });
});

describe("computeReport's engine CPU", () => {
  function header(cpu: boolean): HeaderRecord {
    return {
      type: "header", schema_version: "1.5", emitter_version: "t", vllm_version: "t", pid: 1, dp_rank: 0, level: "full",
      clock: { epoch_ns: "1700000000000000000", monotonic_ns: "5000" },
      config: {
        scheduler_class: "Scheduler", policy: "fcfs", max_num_seqs: 2, max_num_batched_tokens: 100, max_model_len: 1000,
        max_loras: null, num_gpu_blocks: 11, block_size: 4, bytes_per_block: 64, enable_chunked_prefill: true,
        enable_prefix_caching: true, async_scheduling: false, long_prefill_token_threshold: 0, num_spec_tokens: 0, log_stats: true,
      },
      capabilities: cpu ? { cpu_stats: true } : {},
      not_captured: cpu ? [] : [{ what: "engine thread CPU and run-queue wait, CPU pressure (step.cpu; per_iteration engine_* columns)", why: "VLLM_SCHEDULER_LOG_CPU_STATS=0 turned it off" }],
      ...(cpu ? { host_cpu: { schedstat: true, pressure: false, cpus: 4 } } : {}),
    };
  }
  const step = (n: number, t: number, cpu?: StepRecord["cpu"]): StepRecord => ({
    type: "step", step: n, t_start: t, t_end: t + 1 * MS, sched_t: null, sched: [], new: [], resumed: [], preempted: [], kv_fail: [],
    free_blocks: 10, running: 0, waiting: 0, budget_left: 100, stop: null, skipped: [], blocks: [], order: null, ...(cpu === undefined ? {} : { cpu }),
  });

  test("step.cpu reaches the rank's series through per_iteration; no PSI, no pressure series", async () => {
    const rep = await replayReport([header(true), step(0, 10 * MS, [MS, 0, null]), step(1, 26 * MS, [4 * MS, 2 * MS, null])]);
    expect(rep.engine_cpu_missing).toBeNull();
    const c = rep.ranks[0].engine_cpu!;
    expect([nanToNull(c.cpu_share), nanToNull(c.wait_share), c.pressure_share]).toEqual([[null, 0.25], [null, 0.125], null]);
  });

  test("without step.cpu the report says why, in the header's words", async () => {
    const rep = await replayReport([header(false), step(0, 10 * MS), step(1, 30 * MS)]);
    expect(rep.ranks[0].engine_cpu).toBeNull();
    expect(rep.engine_cpu_missing).toBe("VLLM_SCHEDULER_LOG_CPU_STATS=0 turned it off");
  });

  test("a figure on step 0 alone has no interval, and the report says so", async () => {
    const rep = await replayReport([header(true), step(0, 10 * MS, [MS, 0, null])]);
    expect(rep.ranks[0].engine_cpu).toBeNull();
    expect(rep.engine_cpu_missing).toMatch(/no step with a step.cpu figure follows another step/);
  });
});
