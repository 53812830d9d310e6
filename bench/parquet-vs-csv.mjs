#!/usr/bin/env node
// CSV against Parquet output of `vsched convert`, in one run, as ratios:
//   write   convert --format csv, parquet and both (child processes): wall, CPU, peak RSS
//           (each against the 256 MB every convert must hold)
//   size    bytes of the tables in each format
//   read    load every table in pandas, Polars and DuckDB from each format (bench/parquet_read.py,
//           in the analysis venv of scripts/analysis_env.sh), best of --repeat; --no-read skips it
//
//   npm run build && node bench/parquet-vs-csv.mjs [--mb 60] [--repeat 3] [--no-read] [--parallel]
//
// VSCHED_PARQUET_ROW_GROUP_ROWS / VSCHED_PARQUET_PAGE_ROWS in the environment reach the converts (src/sinks/parquet-schema.ts).
// The replay costs ~5 CPU s per MB of this trace (binding limits of 1,000 waiting a step): 60 MB is ~6 CPU min per format.

// The trace is bench/out/trace-<mb>mb.jsonl from bench/gen-trace.mjs (made if missing):
// 256 running / 1,000 waiting, vLLM-shaped ids, the default convert (every request every step).
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { options, benchTrace } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const MB = Number(opt("mb", 60));
const READ = !args.includes("--no-read");
const PARALLEL = args.includes("--parallel");
const RSS_LIMIT_MB = 256;
const REPEAT = Number(opt("repeat", 3));
const out = path.join(root, "bench", "out");
const log = (...a) => console.error(...a);
const r3 = (x) => Math.round(x * 1000) / 1000;

const trace = (mb) => benchTrace(mb, log);

async function convert(file, dir, format) {
  rmSync(dir, { recursive: true, force: true });
  const rusage = path.join(out, `rusage-parquet-bench-${format}.json`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), path.join(root, "bin", "vsched.js"), "convert", file, "-o", dir, "--quiet", "--format", format], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const [status] = await once(child, "exit");
  const wall = (performance.now() - t0) / 1000;
  if (status !== 0 && status !== 1) throw new Error(`convert --format ${format} exited ${status}`);
  const u = JSON.parse(readFileSync(rusage, "utf8"));
  const size = (ext) => readdirSync(dir).filter((f) => f.endsWith(ext)).reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
  const bytes = format === "csv" ? size(".csv") : size(".parquet");
  const peak = Math.round(u.max_rss_kb / 1024);
  return { wall_s: r3(wall), cpu_s: r3(u.user_s + u.sys_s), peak_rss_mb: peak, within_rss_limit: peak <= RSS_LIMIT_MB, bytes };
}

const file = trace(MB);
const dir = path.join(out, "parquet-bench");
// --parallel runs the three at once: peak RSS and CPU s are per process and hold; wall times then share the cores
const formats = ["csv", "parquet", "both"]; // both: the read test needs both formats in one directory
log(`convert ${path.relative(root, file)} as ${formats.join(", ")}${PARALLEL ? " at once" : ""} …`);
const runs = {};
if (PARALLEL) Object.assign(runs, Object.fromEntries(await Promise.all(formats.map(async (f) => [f, await convert(file, `${dir}-${f}`, f)]))));
else for (const f of formats) runs[f] = await convert(file, `${dir}-${f}`, f);
const { csv, parquet: pq, both } = runs;

let read = null;
if (READ) {
  const venv = spawnSync("bash", [path.join(root, "scripts", "analysis_env.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).stdout.trim();
  log("read back in pandas, Polars, DuckDB …");
  const rd = spawnSync(path.join(venv, "bin", "python"), [path.join(root, "bench", "parquet_read.py"), dir + "-both", "--repeat", String(REPEAT)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (rd.status !== 0) throw new Error("parquet_read.py failed");
  read = JSON.parse(rd.stdout);
}

const over = (a, b) => ({ wall: r3(a.wall_s / b.wall_s), cpu: r3(a.cpu_s / b.cpu_s), rss: r3(a.peak_rss_mb / b.peak_rss_mb) });
const result = {
  trace_mb: MB,
  row_group_rows: process.env.VSCHED_PARQUET_ROW_GROUP_ROWS ?? "default",
  page_rows: process.env.VSCHED_PARQUET_PAGE_ROWS ?? "default",
  rss_limit_mb: RSS_LIMIT_MB,
  parallel: PARALLEL,
  write: { csv, parquet: pq, both, parquet_over_csv: over(pq, csv), both_over_csv: over(both, csv) },
  size: { csv_mb: r3(csv.bytes / 1e6), parquet_mb: r3(pq.bytes / 1e6), csv_over_parquet: r3(csv.bytes / pq.bytes) },
  read,
};
console.log(JSON.stringify(result, null, 2));
for (const d of ["-csv", "-parquet", "-both"]) rmSync(dir + d, { recursive: true, force: true });
