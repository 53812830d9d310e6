/**
 * The report's GPU time chart in a real browser: a small hand-made trace (trace schema 1.6)
 * whose updates carry update.gpu as the emitter writes it ([span_ns, gap_ns] from two CUDA
 * events per step), the figures chosen as known fractions of the interval between consecutive
 * update entries, so every plotted share is a known answer. Step 0 has no previous update: no
 * point. The same trace without update.gpu says why there is no chart.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { header, jsonl, stepRecord, updateRecord } from "../helpers/trace.js";
import { cli, plotted, readCsv, reportSession, yRange } from "./helpers.js";

const { tmp, report } = reportSession();

const MS = 1_000_000;
const STEPS = 12;
/** update_from_output() of step n entered at (ms): intervals of 12, 12, 6 ms in turn */
const updateAt = (n: number) => (5 + 10 * n + 2 * (n % 3)) * MS;
/** the known shares of step n's interval: the GPU busy with the step, idle before it */
const share = {
  busy: (n: number) => ((n % 5) + 3) / 10,
  idle: (n: number) => (n % 4) / 20,
};

/** steps and their updates, one after another as a sync scheduler runs them; `gpu` false leaves update.gpu out */
function trace(file: string, gpu: boolean): string {
  const recs: unknown[] = [header({ schema_version: "1.6", capabilities: gpu ? { gpu_time: true } : {} })];
  for (let n = 0; n < STEPS; n++) {
    const t = n === 0 ? 0 : updateAt(n - 1) + 2 * MS;
    recs.push(stepRecord(n, t));
    // step 0: its interval since the previous update is unknown; the first timed step has no gap
    const dt = n === 0 ? 10 * MS : updateAt(n) - updateAt(n - 1);
    recs.push(updateRecord(n, updateAt(n), gpu ? [Math.round(dt * share.busy(n)), n === 0 ? null : Math.round(dt * share.idle(n)), 100_000] : undefined));
  }
  writeFileSync(file, jsonl(...recs));
  return file;
}

describe("GPU time per step in the report", () => {
  test("a trace with update.gpu plots the GPU's busy and idle shares of each step's interval", async () => {
    const file = trace(path.join(tmp(), "vsched-1-dp0.jsonl"), true);
    await cli(["convert", file, "-o", path.join(tmp(), "logs")]);
    const rows = readCsv(path.join(tmp(), "logs", "per_iteration.csv"));
    expect(rows.length).toBe(STEPS);
    expect(rows.every((r) => typeof r.gpu_step_ns === "number")).toBe(true);
    const page = await report(file, "gpu-time");
    const box = page.locator('[data-chart="gpu-time"]');
    expect(await box.getAttribute("data-points")).toBe(String(STEPS));
    expect(await box.getAttribute("data-drawn-series")).toBe("2");
    // drawn, not only handed over: step 0 has no share, and a NaN there once left the y scale unset
    expect((await yRange(page, "gpu-time")).every(Number.isFinite)).toBe(true);
    const [x, busy, idle] = await plotted(page, "gpu-time");
    expect(x).toEqual(rows.map((r) => (r.start_time as number) / 1e9));
    for (const [ys, known] of [[busy, share.busy], [idle, share.idle]] as const) {
      expect(ys.length).toBe(STEPS);
      expect(ys[0], "step 0").toBeNull();
      for (let n = 1; n < STEPS; n++) expect(ys[n], `step ${n}`).toBeCloseTo(known(n) * 100, 3);
    }
    expect(await page.getByText("No GPU time per step in this run").count()).toBe(0);
    await page.close();
  });

  test("without update.gpu the page says why", async () => {
    const page = await report(trace(path.join(tmp(), "none.jsonl"), false), "none");
    expect(await page.locator('[data-chart="gpu-time"]').count()).toBe(0);
    const why =
      "No GPU time per step in this run: the trace has no update.gpu (an emitter before trace schema 1.6, VLLM_SCHEDULER_LOG_GPU_TIME=0, a multiprocess executor, or no CUDA).";
    expect(await page.getByText(why, { exact: true }).count()).toBe(1);
    await page.close();
  });
});
