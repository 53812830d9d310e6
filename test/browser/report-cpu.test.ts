/**
 * The report's engine CPU charts in a real browser: a trace recorded from vLLM's real
 * scheduler with step.cpu added as the emitter writes it (trace schema 1.5: the differences
 * since the previous step's schedule() entry), the figures chosen as known fractions of the
 * interval between consecutive t_start, so every plotted share is a known answer. Step 0's
 * figure covers the time since the emitter attached: no point. Without step.cpu the page
 * says why; without PSI the pressure chart gives way to a note.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { cli, fixture, plotted, readCsv, reportSession, yRange } from "./helpers.js";

const { tmp, report } = reportSession();
const source = fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl");

/** the known shares of step n's interval: on a CPU, waiting for one, machine pressure */
const share = {
  cpu: (n: number) => ((n % 7) + 2) / 10,
  wait: (n: number) => (n % 5) / 20,
  pressure: (n: number) => (n % 5) / 20 + 0.05,
};

/** the trace with step.cpu on every step record; `psi` false writes pressure null as a kernel without PSI does */
function withCpu(file: string, psi: boolean): string {
  const out: string[] = [];
  let last: number | null = null;
  for (const line of readFileSync(source, "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r.type === "header") {
      r.schema_version = "1.5";
      r.host_cpu = { schedstat: true, pressure: psi, cpus: 16 };
      r.capabilities = { ...(r.capabilities as object), cpu_stats: true };
    } else if (r.type === "step") {
      const n = r.step as number;
      const t = r.t_start as number;
      // step 0: since the emitter attached, an interval the page cannot know
      const dt = last === null ? 1_000_000 : t - last;
      last = t;
      r.cpu = [Math.round(dt * share.cpu(n)), Math.round(dt * share.wait(n)), psi ? Math.round(dt * share.pressure(n)) : null];
    }
    out.push(JSON.stringify(r));
  }
  writeFileSync(file, out.join("\n") + "\n");
  return file;
}

/** each plotted share (%) against the known one; step 0 has none */
function expectShares(ys: (number | null)[], steps: number[], known: (n: number) => number): void {
  expect(ys.length).toBe(steps.length);
  expect(ys.filter((v) => v !== null).length).toBe(steps.length - 1);
  steps.forEach((n, i) => {
    if (n === 0) expect(ys[i], "step 0").toBeNull();
    else expect(ys[i], `step ${n}`).toBeCloseTo(known(n) * 100, 3);
  });
}

describe("engine CPU stats in the report", () => {
  test("a trace with step.cpu plots the engine thread's CPU and wait shares and the machine's pressure per step", async () => {
    const trace = withCpu(path.join(tmp(), "vsched-1-dp0.jsonl"), true);
    await cli(["convert", trace, "-o", path.join(tmp(), "logs")]);
    const rows = readCsv(path.join(tmp(), "logs", "per_iteration.csv"));
    expect(rows.every((r) => typeof r.engine_cpu_wait_ns === "number" && typeof r.cpu_pressure_ns === "number")).toBe(true);
    const steps = rows.map((r) => r.iteration_id as number);
    const page = await report(trace, "cpu");
    for (const id of ["engine-cpu", "cpu-pressure"]) {
      expect(await page.locator(`[data-chart="${id}"]`).getAttribute("data-points"), id).toBe(String(rows.length));
      // drawn, not only handed over: step 0 has no share, and a NaN there once left the y scale unset
      expect((await yRange(page, id)).every(Number.isFinite), id).toBe(true);
    }
    expect(await page.locator('[data-chart="engine-cpu"]').getAttribute("data-drawn-series")).toBe("2");
    const [x, cpu, wait] = await plotted(page, "engine-cpu");
    expect(x).toEqual(rows.map((r) => (r.start_time as number) / 1e9));
    expectShares(cpu, steps, share.cpu);
    expectShares(wait, steps, share.wait);
    expectShares((await plotted(page, "cpu-pressure"))[1], steps, share.pressure);
    expect(await page.getByText("No engine CPU stats in this run").count()).toBe(0);
    expect(await page.getByText("No CPU pressure in this run").count()).toBe(0);
    await page.close();
  });

  test("without PSI the thread's shares are plotted and the pressure chart gives way to a note", async () => {
    const trace = withCpu(path.join(tmp(), "no-psi.jsonl"), false);
    const page = await report(trace, "no-psi");
    const [, cpu] = await plotted(page, "engine-cpu");
    expect(cpu.filter((v) => v !== null).length).toBe(cpu.length - 1);
    expect(await page.locator('[data-chart="cpu-pressure"]').count()).toBe(0);
    expect(await page.getByText("No CPU pressure in this run").count()).toBe(1);
    await page.close();
  });

  test("without step.cpu the page says why", async () => {
    const page = await report(source, "none");
    expect(await page.locator('[data-chart="engine-cpu"]').count()).toBe(0);
    expect(await page.locator('[data-chart="cpu-pressure"]').count()).toBe(0);
    const why = "No engine CPU stats in this run: the trace has no step.cpu (an emitter before trace schema 1.5, VLLM_SCHEDULER_LOG_CPU_STATS=0, or not Linux).";
    expect(await page.getByText(why, { exact: true }).count()).toBe(1);
    await page.close();
  });
});
