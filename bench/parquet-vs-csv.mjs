#!/usr/bin/env node
// CSV against Parquet output of `vsched convert`, in one run, as ratios:
//   write   convert --format csv vs --format parquet (child processes): wall, CPU, peak RSS
//   size    bytes of the five tables in each format
//   read    load every table in pandas, Polars and DuckDB from each format (bench/parquet_read.py,
//           in the analysis venv of scripts/analysis_env.sh), best of --repeat
//
//   npm run build && node bench/parquet-vs-csv.mjs [--mb 200] [--repeat 3] [--threads-note]
//
// The trace is bench/out/trace-<mb>mb.jsonl from bench/gen-trace.mjs (made if missing):
// 256 running / 1,000 waiting, vLLM-shaped ids, the default convert (every request every step).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { options, benchTrace } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const MB = Number(opt("mb", 200));
const REPEAT = Number(opt("repeat", 3));
const out = path.join(root, "bench", "out");
const log = (...a) => console.error(...a);
const r3 = (x) => Math.round(x * 1000) / 1000;

const trace = (mb) => benchTrace(mb, log);

function convert(file, dir, format) {
  rmSync(dir, { recursive: true, force: true });
  const rusage = path.join(out, `rusage-parquet-bench-${format}.json`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), path.join(root, "bin", "vsched.js"), "convert", file, "-o", dir, "--quiet", "--format", format], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`convert --format ${format} exited ${r.status}`);
  const u = JSON.parse(readFileSync(rusage, "utf8"));
  const ext = format === "csv" ? ".csv" : ".parquet";
  const bytes = readdirSync(dir).filter((f) => f.endsWith(ext)).reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
  return { wall_s: r3(wall), cpu_s: r3(u.user_s + u.sys_s), peak_rss_mb: Math.round(u.max_rss_kb / 1024), bytes };
}

const file = trace(MB);
const dir = path.join(out, "parquet-bench");
log(`convert ${path.relative(root, file)} as CSV …`);
const csv = convert(file, dir + "-csv", "csv");
log("convert as Parquet …");
const pq = convert(file, dir + "-parquet", "parquet");
log("convert as both (the read test needs both in one directory) …");
const both = convert(file, dir + "-both", "both");

const venv = spawnSync("bash", [path.join(root, "scripts", "analysis_env.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).stdout.trim();
log("read back in pandas, Polars, DuckDB …");
const rd = spawnSync(path.join(venv, "bin", "python"), [path.join(root, "bench", "parquet_read.py"), dir + "-both", "--repeat", String(REPEAT)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
if (rd.status !== 0) throw new Error("parquet_read.py failed");
const read = JSON.parse(rd.stdout);

const result = {
  trace_mb: MB,
  write: {
    csv,
    parquet: pq,
    both,
    parquet_over_csv: { wall: r3(pq.wall_s / csv.wall_s), cpu: r3(pq.cpu_s / csv.cpu_s), rss: r3(pq.peak_rss_mb / csv.peak_rss_mb) },
  },
  size: { csv_mb: r3(csv.bytes / 1e6), parquet_mb: r3(pq.bytes / 1e6), csv_over_parquet: r3(csv.bytes / pq.bytes) },
  read,
};
console.log(JSON.stringify(result, null, 2));
for (const d of ["-csv", "-parquet", "-both"]) rmSync(dir + d, { recursive: true, force: true });
