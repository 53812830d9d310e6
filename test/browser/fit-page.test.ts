import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/golden.js";
import { launch, tmpDir } from "./helpers.js";

/**
 * vsched fit --html in headless Chromium on two real H100 runs pooled: every fitted model is in
 * the table with its blocked-CV errors, the chosen one marked, each run's leave-one-run-out bias
 * is listed, and the three residual charts draw with no console error and no request leaving
 * the page.
 */
describe("fit --html in a browser", () => {
  it("shows each model's fit and the chosen model's charts", async () => {
    const file = path.join(tmpDir(), "fit.html");
    const runs = ["fixtures/h100-s64-a", "--with", "fixtures/h100-s64-b"];
    // one fit writes the page and prints its JSON (the two flags are independent): the page is
    // checked against the fit it was drawn from, not a second run of the same command
    const r = await runCli(["fit", ...runs, "--html", file, "--json"], { timeoutMs: 300_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const fit = JSON.parse(r.stdout);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      page.on("request", (q) => q.url() !== `file://${file}` && requests.push(q.url()));
      await page.goto(`file://${file}`);
      await page.waitForSelector("#rvt canvas", { timeout: 30_000 });
      const rows = await page.$$eval("#models tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")));
      expect(rows.map((c) => c[0].replace(" (chosen)", ""))).toEqual(fit.beta.models.map((m: { id: string }) => m.id));
      const chosen = rows.filter((c) => c[0].endsWith("(chosen)"));
      expect(chosen.map((c) => c[0])).toEqual([`${fit.beta.chosen} (chosen)`]);
      const m = fit.beta.models.find((x: { id: string }) => x.id === fit.beta.chosen);
      expect(chosen[0][1]).toBe(`${(m.cv.mape * 100).toFixed(2)}%`);
      const perRun = await page.$$eval("#runs tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")));
      expect(perRun.map((c) => c[0])).toEqual(fit.sources);
      const signed = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)}%`;
      expect(perRun.map((c) => c[2])).toEqual(fit.beta.leave_one_run_out.map((x: { bias: number }) => signed(x.bias)));
      expect(await page.$$eval("canvas", (c) => c.length)).toBeGreaterThanOrEqual(3);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
      expect(readFileSync(file, "utf8")).not.toMatch(/<script[^>]+src=/);
    } finally {
      await browser.close();
    }
  }, 600_000);
});
