import { describe, expect, test } from "vitest";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { GpuTimeSteps } from "../src/analysis/report/gpu-time.js";
import type { TableRow } from "../src/tables/types.js";
import { replayReport } from "./helpers/collect.js";
import { stepRecord as step, header as traceHeader, updateRecord as update } from "./helpers/trace.js";

// The report's GPU time series: each step's update.gpu figures (per_iteration gpu_step_ns,
// gpu_gap_ns) over the interval since the previous step's update_from_output() entry, worked
// out by hand below.

const MS = 1_000_000;
type GpuCols = Pick<TableRow<"per_iteration">, "gpu_step_ns" | "gpu_gap_ns">;
const row = (c: Partial<GpuCols> | undefined[]): TableRow<"per_iteration"> => c as unknown as TableRow<"per_iteration">;
const cols = (step: number | null, gap: number | null) => row({ gpu_step_ns: step, gpu_gap_ns: gap });
const nanToNull = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isNaN(v) ? null : v));

describe("GpuTimeSteps", () => {
  test("shares of the interval since the previous update; none for step 0, after a missing update, or without figures", () => {
    const s = new GpuTimeSteps();
    // updates of steps 0..6 entered at 0, 8, 16, 32, (step 4 unknown), 48, 48 ms; shares in binary fractions, exact in float32
    const update = Float64Array.from([0, 8, 16, 32, NaN, 48, 48], (t) => t * MS);
    s.add(0, cols(5 * MS, null)); // no previous update: no share
    s.add(1, cols(4 * MS, 1 * MS));
    s.add(2, cols(null, null)); // the end event had not completed at the update
    s.add(3, cols(8 * MS, null)); // after a step without a figure: no gap
    s.add(5, cols(2 * MS, 0)); // no previous update (step 4 missing)
    s.add(6, cols(1 * MS, 0)); // an interval of 0: nothing to divide by
    const r = s.shares(update, 7)!;
    expect(s.figures).toBe(5);
    expect(r.points).toBe(2);
    expect(nanToNull(r.busy_share)).toEqual([null, 0.5, null, 0.5, null, null, null]);
    expect(nanToNull(r.gap_share)).toEqual([null, 0.125, null, null, null, null, null]);
  });

  test("columns an older log lacks (undefined) or a trace without update.gpu (null) give no series", () => {
    const s = new GpuTimeSteps();
    s.add(0, row([]));
    s.add(1, cols(null, null));
    expect(s.figures).toBe(0);
    expect(s.shares(Float64Array.from([0, MS]), 2)).toBeNull();
  });
});

describe("computeReport's GPU time", () => {
  const header = (notCaptured: { what: string; why: string }[] = []) =>
    traceHeader({ schema_version: "1.6", capabilities: notCaptured.length ? {} : { gpu_time: true }, not_captured: notCaptured }) as unknown as HeaderRecord;

  test("update.gpu reaches the rank's series through per_iteration, over update-to-update intervals", async () => {
    // updates entered at 10, 20, 36 ms: step 1's interval is 10 ms, step 2's 16 ms
    const rep = await replayReport([
      header(),
      step(0, 0), update(0, 10 * MS, [4 * MS, null, 1]),
      step(1, 11 * MS), update(1, 20 * MS, [5 * MS, 1_250_000, 1]),
      step(2, 21 * MS), update(2, 36 * MS, [10 * MS, 4 * MS, 1]),
    ] as RawRecord[]);
    expect(rep.gpu_time_missing).toBeNull();
    const g = rep.ranks[0].gpu_time!;
    expect(g.points).toBe(2);
    expect([nanToNull(g.busy_share), nanToNull(g.gap_share)]).toEqual([[null, 0.5, 0.625], [null, 0.125, 0.25]]);
  });

  test("async scheduling: a step scheduled before the previous update still takes its own update's interval", async () => {
    // step 1 is scheduled at 12 ms, before step 0's update (20 ms); its update enters at 28 ms: 8 ms
    const rep = await replayReport([header(), step(0, 10 * MS), step(1, 12 * MS), update(0, 20 * MS, [6 * MS, null, 1]), update(1, 28 * MS, [6 * MS, 1 * MS, 1])] as RawRecord[]);
    expect([nanToNull(rep.ranks[0].gpu_time!.busy_share), nanToNull(rep.ranks[0].gpu_time!.gap_share)]).toEqual([[null, 0.75], [null, 0.125]]);
  });

  test("without update.gpu the report says why: the header's words, else what the trace lacks", async () => {
    const nc = { what: "GPU time per step (update.gpu; per_iteration gpu_step_ns, gpu_gap_ns)", why: "a multiprocess executor runs the model in other processes" };
    const told = await replayReport([header([nc]), step(0, 0), update(0, 10 * MS), step(1, 11 * MS), update(1, 20 * MS)] as RawRecord[]);
    expect(told.ranks[0].gpu_time).toBeNull();
    expect(told.gpu_time_missing).toBe(nc.why);
    const none = await replayReport([header(), step(0, 0), update(0, 10 * MS), step(1, 11 * MS), update(1, 20 * MS)] as RawRecord[]);
    expect(none.gpu_time_missing).toBe(
      "the trace has no update.gpu (an emitter before trace schema 1.6, VLLM_SCHEDULER_LOG_GPU_TIME=0, a multiprocess executor, or no CUDA)",
    );
  });

  test("a figure on step 0 alone has no interval, and the report says so", async () => {
    const rep = await replayReport([header(), step(0, 0), update(0, 10 * MS, [4 * MS, null, 1])] as RawRecord[]);
    expect(rep.ranks[0].gpu_time).toBeNull();
    expect(rep.gpu_time_missing).toMatch(/no step with an update.gpu figure follows another step's update/);
  });
});
