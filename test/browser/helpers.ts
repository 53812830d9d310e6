import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { ROOT, runCli } from "../helpers/golden.js";

export const CHROMIUM = process.env.VSCHED_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** No skip: a machine without Chromium fails with the fix. */
export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`browser tests need Chromium at ${CHROMIUM}: run 'bash scripts/setup-browser.sh' (apt-get install chromium) or set VSCHED_CHROMIUM`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

export const tmpDir = (): string => mkdtempSync(path.join(os.tmpdir(), "vsched-report-"));

export interface Opened {
  page: Page;
  /** console errors and warnings, uncaught exceptions */
  problems: string[];
  /** every request the page made besides loading its own file */
  requests: string[];
}

export async function openReport(browser: Browser, file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  const self = `file://${file}`;
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    if (r.url() !== self) requests.push(r.url());
  });
  await page.goto(self);
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  return { page, problems, requests };
}

/** a chart's y scale as uPlot set it: null bounds when it found no value to range over (and drew nothing) */
export async function yRange(page: Page, id: string): Promise<[number | null, number | null]> {
  return page.evaluate((chartId) => {
    type U = { root: HTMLElement; scales: { y: { min: number | null; max: number | null } } };
    const u = (window as unknown as { vschedReport: { charts: U[] } }).vschedReport.charts.find((c) => (c.root.parentNode as HTMLElement).getAttribute("data-chart") === chartId);
    if (!u) throw new Error(`no chart ${chartId}`);
    return [u.scales.y.min, u.scales.y.max] as [number | null, number | null];
  }, id);
}

/** the values a chart plots, per series (x first); NaN as null */
export async function plotted(page: Page, id: string): Promise<(number | null)[][]> {
  return page.evaluate((chartId) => {
    type U = { root: HTMLElement; data: ArrayLike<number | null>[] };
    const charts = (window as unknown as { vschedReport: { charts: U[] } }).vschedReport.charts;
    const u = charts.find((c) => (c.root.parentNode as HTMLElement).getAttribute("data-chart") === chartId);
    if (!u) throw new Error(`no chart ${chartId}`);
    return u.data.map((s) => Array.from(s, (v) => (v === null || Number.isNaN(v) ? null : v)));
  }, id);
}

/**
 * A test file's browser and temp dir, launched before its tests and closed after, and its
 * reports: `report(trace, name)` writes <tmp>/<name>.html and opens it, with no console problem.
 */
export function reportSession(): { tmp: () => string; report: (trace: string, name: string) => Promise<Page> } {
  let browser: Browser | undefined;
  let tmp = "";
  beforeAll(async () => {
    browser = await launch();
    tmp = tmpDir();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    tmp: () => tmp,
    async report(trace, name) {
      const html = path.join(tmp, `${name}.html`);
      await cli(["report", trace, "-o", html]);
      const { page, problems } = await openReport(browser!, html);
      expect(problems).toEqual([]);
      return page;
    },
  };
}

/** vsched CLI run that must succeed */
export async function cli(args: string[]): Promise<string> {
  const r = await runCli(args, { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`vsched ${args.join(" ")} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

export function readCsv(file: string): Record<string, unknown>[] {
  return Papa.parse<Record<string, unknown>>(readFileSync(file, "utf8"), { header: true, dynamicTyping: true, skipEmptyLines: true }).data;
}

export const fixture = (...p: string[]): string => path.join(ROOT, "fixtures", ...p);

export function get(obj: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((o, k) => (o === null || o === undefined ? null : (o as Record<string, unknown>)[k]), obj);
}

/** type-7 quantile (numpy's default), written here independently of src/analysis/math/stats.ts */
export function q7(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo] + (h - lo) * (s[Math.min(lo + 1, s.length - 1)] - s[lo]);
}
