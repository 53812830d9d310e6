/**
 * The report's GPU charts in a real browser: a trace recorded from vLLM's real scheduler with
 * NVML samples added as the emitter writes them (trace schema 1.4, one sample just before each
 * step but the first ends) gets the four GPU charts, with one point per step that has a sample in the
 * converted per_iteration.csv; the same trace without samples says why there are none.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { cli, fixture, readCsv, reportSession, yRange } from "./helpers.js";

const { tmp, report } = reportSession();
const source = fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl");

/** the trace with a gpu record before every step record's end but the first (t_end - 1 µs), as the sampler thread would queue it */
function withSamples(file: string): string {
  const out: string[] = [];
  for (const line of readFileSync(source, "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r.type === "header") {
      r.schema_version = "1.4";
      r.gpu_stats = { interval_ns: 10_000_000_000, devices: [{ index: 0, name: "test", memory_total_bytes: 80 * 2 ** 30 }] };
      out.push(JSON.stringify(r));
      continue;
    }
    out.push(line);
    // none before step 0's end: in a real trace the first steps may come before the first sample
    if (r.type === "step" && r.step !== 0) out.push(JSON.stringify({ type: "gpu", t: (r.t_end as number) - 1000, devices: [[0, (r.step as number) % 101, 2 ** 30, 1500, 400_000]] }));
  }
  writeFileSync(file, out.join("\n") + "\n");
  return file;
}

describe("GPU stats in the report", () => {
  test("a trace with NVML samples shows utilisation, memory, SM clock and power over time", async () => {
    const trace = withSamples(path.join(tmp(), "vsched-1-dp0.jsonl"));
    await cli(["convert", trace, "-o", path.join(tmp(), "logs")]);
    const rows = readCsv(path.join(tmp(), "logs", "per_iteration.csv"));
    const sampled = rows.filter((r) => typeof r.gpu_sample_age_ns === "number").length;
    expect(sampled).toBe(rows.length - 1);
    const page = await report(trace, "gpu");
    for (const id of ["gpu-util", "gpu-memory", "gpu-clock", "gpu-power"]) {
      const box = page.locator(`[data-chart="${id}"]`);
      expect(await box.getAttribute("data-points"), id).toBe(String(rows.length));
      expect(await box.getAttribute("data-drawn-series"), id).toBe("1");
      // step 0 has no sample (NaN): the chart must still find a y range, or it draws nothing
      expect((await yRange(page, id)).every(Number.isFinite), id).toBe(true);
    }
    expect(await page.getByText("No GPU stats in this run").count()).toBe(0);
    await page.close();
  });

  test("without samples the page says why, in the trace header's words", async () => {
    const header = JSON.parse(readFileSync(source, "utf8").split("\n")[0]) as { not_captured: { what: string; why: string }[] };
    const page = await report(source, "none");
    expect(await page.locator('[data-chart="gpu-util"]').count()).toBe(0);
    const why = header.not_captured.find((n) => n.what.startsWith("GPU stats"))?.why ?? "the trace has no gpu records";
    expect(await page.getByText(`No GPU stats in this run: ${why}`, { exact: false }).count()).toBe(1);
    await page.close();
  });
});
