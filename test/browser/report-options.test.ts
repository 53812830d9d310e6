/**
 * What the page shows only when the data or the options ask for it: predictions (a
 * policy's predicted_remaining_tokens; no recorded fixture has one yet, so a real
 * fixture's logs get the column filled in), the --slo lines and goodput, and --title.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Papa from "papaparse";
import { expect, test } from "vitest";
import { cli, fixture, get, launch, openReport, tmpDir } from "./helpers.js";

test("predictions, SLO lines, goodput and the title, with the numbers of summary --json", async () => {
  const tmp = tmpDir();
  const logs = path.join(tmp, "logs");
  await cli(["convert", fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl"), "-o", logs]);
  // a policy that predicted each request's output length with an error that grows with its index
  const file = path.join(logs, "per_request.csv");
  const parsed = Papa.parse<Record<string, string>>(readFileSync(file, "utf8"), { header: true, skipEmptyLines: true });
  parsed.data.forEach((r, i) => (r.predicted_remaining_tokens = String(Number(r.output_tokens) + (i % 5) * 3 - 4)));
  writeFileSync(file, Papa.unparse(parsed.data, { columns: parsed.meta.fields, newline: "\n" }) + "\n");
  const slo = "ttft=500ms,tpot=50ms";
  const summary = JSON.parse(await cli(["summary", logs, "--json", "--slo", slo])) as Record<string, unknown>;
  expect(get(summary, "policy.predicted_remaining_tokens.count")).toBe(parsed.data.length);
  const html = path.join(tmp, "r.html");
  await cli(["report", logs, "-o", html, "--slo", slo, "--title", "kv pressure </title><b>x</b>"]);

  const browser = await launch();
  const { page, problems, requests } = await openReport(browser, html);
  expect(problems).toEqual([]);
  expect(requests).toEqual([]);
  expect(await page.title()).toBe("kv pressure </title><b>x</b>");
  expect(await page.locator("h1").textContent()).toBe("kv pressure </title><b>x</b>");
  expect(await page.locator("b").count()).toBe(0);
  const pred = page.locator('[data-chart="predictions"]');
  expect(await pred.getAttribute("data-points")).toBe(String(parsed.data.length));
  const figs = await page.$$eval("[data-src=summary]", (els) => els.map((e) => ({ key: e.getAttribute("data-key")!, value: JSON.parse(e.getAttribute("data-value")!) as unknown })));
  const keys = figs.map((f) => f.key);
  for (const k of ["policy.predicted_remaining_tokens.kendall_tau", "policy.predicted_remaining_tokens.rmse_tokens", "goodput.requests", "goodput.share"]) expect(keys).toContain(k);
  for (const f of figs) expect(f.value, f.key).toEqual(get(summary, f.key));
  // the SLO line on the TTFT and TPOT charts, not on queue time (no SLO for it)
  for (const id of ["ttft-cdf", "tpot-cdf"]) expect(JSON.parse((await page.locator(`[data-chart="${id}"]`).getAttribute("data-markers"))!)).toEqual(["p50", "p90", "p99", "SLO"]);
  expect(JSON.parse((await page.locator('[data-chart="queue-cdf"]').getAttribute("data-markers"))!)).toEqual(["p50", "p90", "p99"]);
  await browser.close();
}, 120_000);
