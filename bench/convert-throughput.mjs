#!/usr/bin/env node
// `vsched convert` throughput on a generated trace, against the floor (read + JSON.parse
// per line) and a naive pandas converter, in one run. Prints ratios.
//
//   npm run build && node bench/convert-throughput.mjs [--mb 1024] [--baseline-mb 200] [--no-baseline] [--no-all] [--no-breakdown] [--keep]
//
// Measures, on bench/out/trace-<mb>mb.jsonl (made by bench/gen-trace.mjs if missing):
//   floor      Node reading the file (1 MiB chunks) and JSON.parse of every line, MB/s
//   convert    the built CLI as a child process, MB/s and its ratio to the floor, twice:
//              "lean" (--iteration-requests none --no-scheduled-events: parse + engine +
//              the small tables) and "all" (defaults: every request every iteration)
//   rss        the child's peak RSS (process.resourceUsage via bench/convert-rss.mjs)
//   rows/s     CSV rows written per second of convert, plus the writer alone
//              (bench/convert-csv.mjs) on per_iteration_requests rows
//   breakdown  bench/convert-breakdown.mjs on the --baseline-mb trace: CPU seconds of the
//              floor, vsched's reader, + engine, + CSV writers (ratios hold under load)
//   baseline   bench/convert-baseline-pandas.py (pandas in a venv under
//              /root/.cache/vsched/bench-venv) vs convert on a --baseline-mb trace
// Targets: convert (lean) ≥ 60% of the floor, CSV ≥ 1.5 M rows/s, peak RSS ≤ 256 MB.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { options, benchTrace, convertChild, readFloor } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const flag = (n) => args.includes(`--${n}`);
const MB = Number(opt("mb", 1024));
const BASE_MB = Math.min(MB, Number(opt("baseline-mb", 200)));
const out = path.join(root, "bench", "out");
const VENV = "/root/.cache/vsched/bench-venv";

const log = (...a) => console.error(...a);
const r2 = (x) => Math.round(x * 100) / 100;

const trace = (mb) => benchTrace(mb, log);

async function floor(file) {
  const { seconds: s, lines } = await readFloor(file);
  return { seconds: r2(s), mb_per_s: r2(statSync(file).size / 1e6 / s), lines };
}

function convert(file, extra, name) {
  const dir = path.join(out, `convert-${name}`);
  const { wall_s: s, usage: u, manifest: m } = convertChild(path.join(root, "bin", "vsched.js"), file, dir, extra);
  const outBytes = m.tables.reduce((a, t) => a + statSync(path.join(dir, t.file)).size, 0);
  const res = {
    args: extra.join(" ") || "(defaults)",
    seconds: r2(s),
    mb_per_s: r2(statSync(file).size / 1e6 / s),
    cpu_s: r2(u.user_s + u.sys_s),
    peak_rss_mb: r2(u.max_rss_kb / 1024),
    rows: m.totals.rows,
    rows_per_s: Math.round(m.totals.rows / s),
    rows_by_table: Object.fromEntries(m.tables.map((t) => [t.name, t.rows])),
    output_mb: r2(outBytes / 1e6),
    requests: m.totals.requests,
    iterations: m.totals.iterations,
  };
  if (!flag("keep")) rmSync(dir, { recursive: true, force: true });
  return res;
}

function csvWriter() {
  const r = spawnSync(process.execPath, [path.join(root, "bench", "convert-csv.mjs"), "--rows", "5000000"], { encoding: "utf8" });
  return r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()) : { error: r.stderr };
}

function python() {
  const py = path.join(VENV, "bin", "python");
  if (!existsSync(py)) {
    log(`creating ${VENV} and installing pandas …`);
    if (spawnSync("python3", ["-m", "venv", VENV], { stdio: "inherit" }).status !== 0) return null;
    if (spawnSync(path.join(VENV, "bin", "pip"), ["install", "--quiet", "pandas"], { stdio: "inherit" }).status !== 0) return null;
  }
  return spawnSync(py, ["-c", "import pandas"]).status === 0 ? py : null;
}

function baseline(file) {
  const py = python();
  if (!py) return { skipped: "pandas not installable" };
  const dir = path.join(out, "baseline-pandas");
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  // peak RSS from Python's own rusage, so no /usr/bin/time is needed
  const wrapper = "import resource, runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)";
  const r = spawnSync(py, ["-c", wrapper, path.join(root, "bench", "convert-baseline-pandas.py"), file, dir], { encoding: "utf8" });
  const s = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) return { failed: r.stderr.slice(-500) };
  return { seconds: r2(s), mb_per_s: r2(statSync(file).size / 1e6 / s), rows: Number(r.stdout.trim()), peak_rss_mb: r2(Number(r.stderr.trim().split("\n").pop()) / 1024) };
}

spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs"), "--quiet"], { stdio: "inherit" });
const engine = readFileSync(path.join(root, "src", "engine", "index.ts"), "utf8").includes("Placeholder") ? "placeholder" : "real";
const file = trace(MB);
const size = statSync(file).size;
log(`trace ${path.relative(root, file)}: ${r2(size / 1e6)} MB; engine: ${engine}`);

const result = { trace: path.relative(root, file), trace_mb: r2(size / 1e6), engine, node: process.version };
log("floor …");
result.floor = await floor(file);
log("convert (lean) …");
result.convert_lean = convert(file, ["--iteration-requests", "none", "--no-scheduled-events"], "lean");
if (!flag("no-all")) {
  log("convert (all) …");
  result.convert_all = convert(file, [], "all");
}
log("csv writer …");
result.csv_writer = csvWriter();
if (!flag("no-baseline")) {
  const bfile = trace(BASE_MB);
  log(`baseline on ${path.relative(root, bfile)} …`);
  const b = baseline(bfile);
  const c = convert(bfile, [], "baseline-vsched");
  result.baseline = { trace: path.relative(root, bfile), pandas: b, vsched_all: c, pandas_time_over_vsched: b.seconds ? r2(b.seconds / c.seconds) : null };
}
if (!flag("no-breakdown")) {
  const bfile = trace(BASE_MB);
  log(`breakdown on ${path.relative(root, bfile)} …`);
  const r = spawnSync(process.execPath, [path.join(root, "bench", "convert-breakdown.mjs"), bfile], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  result.breakdown = r.status === 0 ? JSON.parse(r.stdout) : { failed: r.status };
}
result.ratios = {
  convert_lean_over_floor: r2(result.convert_lean.mb_per_s / result.floor.mb_per_s),
  convert_all_over_floor: result.convert_all ? r2(result.convert_all.mb_per_s / result.floor.mb_per_s) : null,
  peak_rss_mb_max: Math.max(result.convert_lean.peak_rss_mb, result.convert_all?.peak_rss_mb ?? 0),
  convert_all_rows_per_s: result.convert_all?.rows_per_s ?? null,
  csv_writer_rows_per_s: result.csv_writer.encode_and_write_rows_per_s ?? null,
  pandas_time_over_vsched: result.baseline?.pandas_time_over_vsched ?? null,
  cpu_convert_lean_over_floor: result.breakdown?.ratios?.convert_lean_over_floor ?? null,
  cpu_convert_all_over_floor: result.breakdown?.ratios?.convert_all_over_floor ?? null,
  csv_rows_per_cpu_s_in_convert: result.breakdown?.layer_cpu_s?.all?.csv_rows_per_cpu_s ?? null,
  targets: { convert_over_floor: 0.6, csv_rows_per_s: 1_500_000, peak_rss_mb: 256 },
};
console.log(JSON.stringify(result, null, 2));
