#!/usr/bin/env node
// `vsched report` at scale (a benchmark, not a test): generation time and peak RSS, HTML
// size, and time to first paint / to every chart drawn in headless Chromium, on the 1 GB
// bench trace (256 running, ~1,000 waiting: 1,256 per_iteration_requests rows a step) and
// on a synthetic 1 M-step trace (4 running, ~4 waiting). Baseline in the same run, on the
// same trace: `vsched convert --iteration-requests none`.
// Targets: HTML ≤ 15 MB and first paint ≤ 3 s at 1 M steps; report no slower than that convert.
//
//   npm run build && node bench/report.mjs [--mb 1024] [--steps 1000000] [--only big|steps]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { options } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = options(args);
const MB = Number(opt("mb", 1024));
const STEPS = Number(opt("steps", 1_000_000));
const only = opt("only", null);
const out = path.join(root, "bench", "out");
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-bench-report-"));

function trace(file, genArgs) {
  if (!existsSync(file)) execFileSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), ...genArgs, "--out", file], { stdio: ["ignore", "inherit", "inherit"] });
  return file;
}

/** one CLI run as a child process: wall time, peak RSS, CPU (bench/convert-rss.mjs records them at exit) */
function timed(cliArgs) {
  const usage = path.join(tmp, `usage-${Date.now()}.json`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), path.join(root, "bin", "vsched.js"), ...cliArgs], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: usage },
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`vsched ${cliArgs.join(" ")}: exit ${r.status}: ${r.stderr}`);
  const u = JSON.parse(readFileSync(usage, "utf8"));
  return { wall_s: +wall.toFixed(2), cpu_s: +(u.user_s + u.sys_s).toFixed(2), peak_rss_mb: Math.round(u.max_rss_kb / 1024) };
}

async function paint(html) {
  const browser = await chromium.launch({
    executablePath: process.env.VSCHED_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${html}`);
    await page.waitForSelector("body[data-ready]", { timeout: 120_000 });
    runs.push(
      await page.evaluate(() => ({
        first_paint_ms: Math.round(performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN),
        charts_drawn_ms: Number(document.body.getAttribute("data-ready")),
        script_ms: Number(document.body.getAttribute("data-build-ms")),
      })),
    );
    await page.close();
  }
  await browser.close();
  runs.sort((a, b) => a.charts_drawn_ms - b.charts_drawn_ms);
  return runs[1]; // the median of three
}

async function bench(name, file) {
  console.error(`== ${name}: ${path.relative(root, file)} (${(statSync(file).size / 1e6).toFixed(0)} MB)`);
  const convert = timed(["convert", file, "-o", path.join(tmp, "logs"), "--iteration-requests", "none", "--quiet"]);
  rmSync(path.join(tmp, "logs"), { recursive: true, force: true });
  const html = path.join(tmp, `${name}.html`);
  const report = timed(["report", file, "-o", html]);
  const p = await paint(html);
  const res = {
    trace: path.relative(root, file),
    trace_mb: Math.round(statSync(file).size / 1e6),
    convert_iteration_requests_none: convert,
    report,
    report_over_convert: +(report.wall_s / convert.wall_s).toFixed(2),
    html_mb: +(statSync(html).size / 1e6).toFixed(2),
    ...p,
  };
  console.log(JSON.stringify({ bench: name, ...res }));
  return res;
}

if (only !== "steps") await bench(`trace-${MB}mb`, trace(path.join(out, `trace-${MB}mb.jsonl`), ["--mb", String(MB)]));
if (only !== "big") await bench(`steps-${STEPS}`, trace(path.join(out, `steps-${STEPS}.jsonl`), ["--steps", String(STEPS), "--running", "4", "--waiting", "4"]));
rmSync(tmp, { recursive: true, force: true });
