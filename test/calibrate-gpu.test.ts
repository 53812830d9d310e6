import { describe, expect, it } from "vitest";
import { runCliOk } from "./helpers/golden.js";
import { compareGpu, GpuSampler } from "../src/analysis/fit/gpu-timeline.js";

/**
 * calibrate's GPU section: each run's time on the GPU per step (update.gpu), busy and idle before
 * the step, recorded against simulated (src/analysis/fit/gpu-timeline.ts). On real H100 runs and
 * a replay's own timeline it is checked against the converted tables in test/sim-to-real.test.ts.
 */
const step = (num_prefill_reqs: number, gpu_step_ns: number | null, gpu_gap_ns: number | null) => ({ num_prefill_reqs, gpu_step_ns, gpu_gap_ns });

describe("calibrate's GPU timeline", () => {
  it("sums each kind's spans and the gaps before its steps, and leaves out steps without a GPU time", () => {
    const rec = new GpuSampler();
    [step(1, 30e6, null), step(0, 9e6, 0), step(0, 9e6, 2e6), step(2, 40e6, 5e6), step(0, null, null)].forEach((s) => rec.add(s));
    const sim = new GpuSampler();
    [step(1, 33e6, null), step(0, 9e6, 0), step(1, 40e6, 0)].forEach((s) => sim.add(s));
    const rows = compareGpu(rec, sim);
    expect(rows.map((r) => r.kind)).toEqual(["all", "prefill", "decode"]);
    const [all, prefill, decode] = rows;
    expect(prefill.recorded).toEqual({ steps: 2, busy_ns: 70e6, idle_ns: 5e6 });
    expect(decode.recorded).toEqual({ steps: 2, busy_ns: 18e6, idle_ns: 2e6 });
    expect(all.recorded).toEqual({ steps: 4, busy_ns: 88e6, idle_ns: 7e6 });
    expect(all.simulated).toEqual({ steps: 3, busy_ns: 82e6, idle_ns: 0 });
    expect(prefill.busy_error).toBeCloseTo(73 / 70 - 1, 12);
    expect(decode.busy_error).toBeCloseTo(9 / 18 - 1, 12);
  });

  it("compares nothing unless both runs have GPU times", () => {
    const timed = new GpuSampler();
    timed.add(step(0, 9e6, 0));
    const untimed = new GpuSampler();
    untimed.add(step(0, null, null));
    expect(compareGpu(timed, untimed)).toEqual([]);
    expect(compareGpu(untimed, timed)).toEqual([]);
  });

  it("says nothing of the GPU on two runs without GPU times (the CPU fixtures)", async () => {
    const args = ["calibrate", "fixtures/known-linear/vsched-1-dp0.jsonl", "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl"];
    const cal = JSON.parse(await runCliOk([...args, "--json"]));
    expect(cal.gpu).toEqual([]);
    expect(cal.gpu_timed).toEqual({ recorded: false, simulated: false });
    expect(await runCliOk(args)).not.toMatch(/^GPU/m);
  });
});
