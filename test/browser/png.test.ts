/** `vsched report --png DIR`: every chart of the page as a PNG, and the statistics as CSV. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { cli, fixture, launch, openReport, readCsv, tmpDir } from "./helpers.js";

test("--png writes one PNG per chart on the page and statistics.csv with the summary's figures", async () => {
  const tmp = tmpDir();
  const html = path.join(tmp, "r.html");
  const dir = path.join(tmp, "figures");
  const logs = path.join(tmp, "logs");
  const trace = fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl");
  await cli(["report", trace, "-o", html, "--png", dir]);
  await cli(["convert", trace, "-o", logs]);
  const summary = JSON.parse(await cli(["summary", logs, "--json"]));
  const browser = await launch();
  const { page } = await openReport(browser, html);
  const charts = await page.$$eval("[data-chart]", (els) => els.map((e) => e.getAttribute("data-chart")));
  await browser.close();
  const files = readdirSync(dir).sort();
  expect(files).toEqual([...charts.map((c) => `${c}.png`), "statistics.csv"].sort());
  for (const f of files.filter((f) => f.endsWith(".png"))) {
    const b = readFileSync(path.join(dir, f));
    expect(b.subarray(0, 8).toString("hex"), f).toBe("89504e470d0a1a0a");
    expect(b.readUInt32BE(16), `${f} width`).toBeGreaterThan(300); // IHDR width at 2x
  }
  const stats = Object.fromEntries(readCsv(path.join(dir, "statistics.csv")).map((r) => [r.figure, r]));
  expect(stats.batches.value).toBe(summary.scheduler.iterations);
  expect(stats.schedule_mean_ns.value).toBe(summary.scheduler.scheduling_overhead.mean_ns);
  expect(stats.ttft_p99_ns.value).toBe(summary.latency.ttft.p99_ns);
  expect(stats.preemptions.value).toBe(summary.resources.preemptions);
}, 120_000);
