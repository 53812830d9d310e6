import { describe, expect, test } from "vitest";
import type { GpuRecord, HeaderRecord, RawRecord, StepRecord, UpdateRecord } from "../src/schema/raw.js";
import { GpuJoin } from "../src/engine/gpu-join.js";
import { TraceChecks } from "../src/parse/trace-checks.js";
import type { Finding } from "../src/core/finding.js";
import { replay } from "./helpers/collect.js";
import { computeReport } from "../src/analysis/report/index.js";
import { memorySource } from "../src/tables/memory.js";

// The join of NVML samples (trace gpu records) to steps, on hand-made traces whose answers
// are worked out below from the rule in docs/tables.md: the latest sample at or before the
// step's end, reduced over devices (utilisation and clock averaged, memory and power summed).

const MS = 1_000_000;
function header(intervalNs: number | null): HeaderRecord {
  return {
    type: "header", schema_version: "1.4", emitter_version: "t", vllm_version: "t", pid: 1, dp_rank: 0, level: "full",
    clock: { epoch_ns: "1700000000000000000", monotonic_ns: "5000" },
    config: {
      scheduler_class: "Scheduler", policy: "fcfs", max_num_seqs: 2, max_num_batched_tokens: 100, max_model_len: 1000,
      max_loras: null, num_gpu_blocks: 11, block_size: 4, bytes_per_block: 64, enable_chunked_prefill: true,
      enable_prefix_caching: true, async_scheduling: false, long_prefill_token_threshold: 0, num_spec_tokens: 0, log_stats: true,
    },
    capabilities: intervalNs === null ? {} : { gpu_stats: true },
    not_captured: intervalNs === null ? [{ what: "GPU stats", why: "no NVML" }] : [],
    ...(intervalNs === null ? {} : { gpu_stats: { interval_ns: intervalNs, devices: [{ index: 0, name: "H", memory_total_bytes: 80e9 }, { index: 1, name: "H", memory_total_bytes: 80e9 }] } }),
  };
}
const gpu = (t: number, devices: GpuRecord["devices"]): GpuRecord => ({ type: "gpu", t, devices });
const step = (n: number, t: number): StepRecord => ({
  type: "step", step: n, t_start: t, t_end: t + 1 * MS, sched_t: null, sched: [], new: [], resumed: [], preempted: [], kv_fail: [],
  free_blocks: 10, running: 0, waiting: 0, budget_left: 100, stop: null, skipped: [], blocks: [], order: null,
});
const update = (n: number, t: number): UpdateRecord => ({
  type: "update", step: n, t_start: t, t_end: t + 1 * MS, out_t: null, tokens: [], finished: [], free_blocks: 10, running: 0, waiting: 0,
});

function timeChecks(records: RawRecord[]): Finding[] {
  const found: Finding[] = [];
  const checks = new TraceChecks("t.jsonl", (f) => found.push(f));
  records.forEach((r, i) => checks.record(r, i + 1));
  return found;
}

describe("per_iteration GPU columns", () => {
  test("each step gets the latest sample at or before its end, reduced over devices", () => {
    const records: RawRecord[] = [
      header(100 * MS),
      gpu(5 * MS, [[0, 40, 1000, 1400, 200_000], [1, 60, 3000, 1600, 300_000]]),
      step(0, 10 * MS), // ends at 11 ms
      gpu(12 * MS, [[0, 90, 2000, 1980, 650_000], [1, null, 2000, 1980, null]]), // a device without utilisation or power
      update(0, 20 * MS), // ends at 21 ms: the 12 ms sample
      step(1, 30 * MS), // no update: the step's own end, 31 ms
    ];
    const rows = replay(records).perIteration;
    expect(rows.map((r) => [r.gpu_util_percent, r.gpu_memory_used_bytes, r.gpu_sm_clock_mhz, r.gpu_power_w, r.gpu_sample_age_ns])).toEqual([
      [90, 4000, 1980, 650, 9 * MS],
      [90, 4000, 1980, 650, 19 * MS],
    ]);
  });

  test("a sample that lands in the file after the update but was taken before its end does not count; one taken after never does", () => {
    const rows = replay([
      header(100 * MS),
      gpu(1 * MS, [[0, 10, 1, 1000, 1000]]),
      step(0, 10 * MS),
      update(0, 20 * MS), // ends at 21 ms
      gpu(15 * MS, [[0, 50, 1, 1000, 1000]]), // read before 21 ms, queued after the update
      gpu(25 * MS, [[0, 70, 1, 1000, 1000]]),
    ]).perIteration;
    expect(rows[0].gpu_util_percent).toBe(10);
    expect(rows[0].gpu_sample_age_ns).toBe(20 * MS);
  });

  test("no samples, a sample after the step, or one older than three intervals: empty columns", () => {
    const none = replay([header(null), step(0, 10 * MS), update(0, 20 * MS)]).perIteration[0];
    expect([none.gpu_util_percent, none.gpu_memory_used_bytes, none.gpu_sm_clock_mhz, none.gpu_power_w, none.gpu_sample_age_ns]).toEqual([null, null, null, null, null]);
    const j = new GpuJoin(header(10 * MS));
    j.add(gpu(100 * MS, [[0, 20, 5, 900, 100]]));
    expect(j.at(99 * MS).gpu_util_percent).toBeNull(); // before the first sample
    expect(j.at(130 * MS).gpu_util_percent).toBe(20); // exactly three intervals old
    expect(j.at(130 * MS + 1).gpu_util_percent).toBeNull(); // stale: the sampler stopped
  });

  test("gpu records may interleave with scheduler records out of time order, but not among themselves", () => {
    const ok = timeChecks([header(100 * MS), step(0, 10 * MS), gpu(5 * MS, [[0, 1, 1, 1, 1]]), update(0, 20 * MS)]);
    expect(ok.filter((f) => f.code === "RAW_TIME_ORDER")).toEqual([]);
    const bad = timeChecks([header(100 * MS), gpu(8 * MS, [[0, 1, 1, 1, 1]]), gpu(5 * MS, [[0, 1, 1, 1, 1]])]);
    expect(bad.filter((f) => f.code === "RAW_TIME_ORDER").map((f) => f.line)).toEqual([3]);
  });
});

describe("the report's GPU charts", () => {
  const records: RawRecord[] = [
    header(100 * MS),
    gpu(5 * MS, [[0, 40, 2 ** 30, 1400, 200_000], [1, 60, 2 ** 31, 1600, 300_000]]),
    step(0, 10 * MS),
    update(0, 20 * MS),
  ];
  const source = (recs: RawRecord[]) => {
    const out = replay(recs);
    const { type: _t, ...h } = recs[0] as HeaderRecord;
    return memorySource({ per_request: out.perRequest, per_iteration: out.perIteration, per_iteration_requests: out.perIterationRequests }, {
      sources: [{ path: "t.jsonl", header: h, timeOffsetNs: 0 }],
    });
  };
  test("steps with samples give the series: utilisation and clock averaged, memory (GiB) and power summed", async () => {
    const rep = await computeReport(source(records));
    expect(rep.gpu_stats_missing).toBeNull();
    const g = rep.ranks[0].gpu!;
    expect([g.util_percent[0], g.memory_used_gib[0], g.sm_clock_mhz[0], g.power_w[0]]).toEqual([50, 3, 1500, 500]);
  });
  test("without samples the page says why, in the header's words", async () => {
    const rep = await computeReport(source([header(null), step(0, 10 * MS), update(0, 20 * MS)]));
    expect(rep.ranks[0].gpu).toBeNull();
    expect(rep.gpu_stats_missing).toBe("no NVML");
  });
});
