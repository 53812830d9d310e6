import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { ReportData } from "../../analysis/report/types.js";
import { launchChromium } from "./browser.js";
import { csvLine } from "../../logs/csv-format.js";
import { writeFileAtomic } from "../../sinks/write-file-atomic.js";
import { statisticsRows } from "./statistics-csv.js";

/**
 * Figures for papers: the same page opened in headless Chromium, each chart's element
 * screenshotted at 2x into DIR/<chart>.png, plus DIR/statistics.csv with every figure
 * of the statistics cards. Returns the files written (relative to DIR).
 */
export async function writePngs(html: string, data: ReportData, dir: string): Promise<string[]> {
  const browser = await launchChromium("--png");
  const written: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 2 });
    await page.route("**/*", (route) => (route.request().url().startsWith("data:") ? route.continue() : route.abort()));
    await page.setContent(html, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready]");
    await mkdir(dir, { recursive: true });
    const charts = await page.$$("[data-chart]");
    for (const c of charts) {
      const name = await c.getAttribute("data-chart");
      if (!name) continue;
      const file = `${name}.png`;
      await c.scrollIntoViewIfNeeded();
      await c.screenshot({ path: path.join(dir, file) });
      written.push(file);
    }
  } finally {
    await browser.close();
  }
  const csv = [csvLine(["figure", "value", "source"]), ...statisticsRows(data).map((r) => csvLine([r.figure, r.value === null ? null : String(r.value), r.source]))].join("");
  await writeFileAtomic(path.join(dir, "statistics.csv"), csv);
  written.push("statistics.csv");
  return written;
}
