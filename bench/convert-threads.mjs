#!/usr/bin/env node
// `vsched convert --threads N` against the floor, in one run, for each N in a list (a
// bigger machine shows the curve). Prints ratios measured in the same run:
//
//   npm run build && node bench/convert-threads.mjs [--mb 1024] [--threads 1,2] [--no-all] [--keep]
//
//   floor     Node reading the file (1 MiB chunks) and JSON.parse of every line, one core;
//             measured before and after the converts, the faster one is used
//   lean      convert --iteration-requests none --no-scheduled-events --threads N
//   all       convert (defaults) --threads N: every request every step in per_iteration_requests
//   for each: wall s, CPU s (every thread of the process), peak RSS (process.resourceUsage
//             via bench/convert-rss.mjs: it covers the worker threads, they share the process),
//             wall time as a ratio of the floor's (floor s / convert s), CSV rows per wall second,
//             the scaling from the first thread count (wall at the first / wall at N), and
//             whether manifest.json is identical to the first thread count's (it must be)
// Targets (issue 13): lean ≥ 0.8× floor on 2 cores; all ≥ 0.4× floor with ≥ 1.5 M CSV rows/s;
// peak RSS ≤ 256 MB.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchTrace, options, readFloor, root } from "./lib.mjs";

const opt = options();
const flag = (n) => process.argv.includes(`--${n}`);
const MB = Number(opt("mb", 1024));
const THREADS = String(opt("threads", "1,2")).split(",").map(Number);
const out = path.join(root, "bench", "out");
const log = (...a) => console.error(...a);
const r2 = (x) => Math.round(x * 100) / 100;
const r3 = (x) => Math.round(x * 1000) / 1000;

const floor = async (file) => (await readFloor(file)).seconds;

function convert(file, name, threads, extra) {
  const dir = path.join(out, `threads-${name}-${threads}`);
  rmSync(dir, { recursive: true, force: true });
  const rusage = path.join(out, `rusage-threads-${name}-${threads}.json`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), path.join(root, "bin", "vsched.js"), "convert", file, "-o", dir, "--quiet", "--threads", String(threads), ...extra], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`convert --threads ${threads} ${extra.join(" ")} exited ${r.status}`);
  const u = JSON.parse(readFileSync(rusage, "utf8"));
  const manifest = readFileSync(path.join(dir, "manifest.json"), "utf8");
  const m = JSON.parse(manifest);
  if (!flag("keep")) rmSync(dir, { recursive: true, force: true });
  const csvRows = m.tables.reduce((a, t) => a + t.rows, 0);
  return { seconds: r2(s), cpu_s: r2(u.user_s + u.sys_s), peak_rss_mb: r2(u.max_rss_kb / 1024), rows: csvRows, csv_rows_per_s: Math.round(csvRows / s), manifest };
}

spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs"), "--quiet"], { stdio: "inherit" });
const file = benchTrace(MB, log);
const size = statSync(file).size;
log(`trace ${path.relative(root, file)}: ${r2(size / 1e6)} MB; threads ${THREADS.join(",")}; ${os.availableParallelism()} cores; load ${os.loadavg().map(r2).join(" ")}`);

log("floor …");
const floorBefore = await floor(file);
const runs = { lean: {}, all: {} };
const kinds = flag("no-all") ? ["lean"] : ["lean", "all"];
for (const t of THREADS) {
  for (const k of kinds) {
    log(`convert ${k} --threads ${t} …`);
    runs[k][t] = convert(file, k, t, k === "lean" ? ["--iteration-requests", "none", "--no-scheduled-events"] : []);
  }
}
log("floor again …");
const floorAfter = await floor(file);
const floorS = Math.min(floorBefore, floorAfter);

const result = {
  trace: path.relative(root, file),
  trace_mb: r2(size / 1e6),
  node: process.version,
  cores: os.availableParallelism(),
  load_at_end: os.loadavg().map(r2),
  floor: { seconds: r2(floorS), before_s: r2(floorBefore), after_s: r2(floorAfter), mb_per_s: r2(size / 1e6 / floorS) },
};
for (const k of kinds) {
  const first = runs[k][THREADS[0]];
  result[k] = Object.fromEntries(
    THREADS.map((t) => {
      const { manifest, ...r } = runs[k][t];
      return [
        `threads_${t}`,
        { ...r, wall_over_floor: r3(floorS / r.seconds), scaling_from_first: r2(first.seconds / r.seconds), manifest_identical: manifest === first.manifest },
      ];
    }),
  );
}
result.targets = { lean_wall_over_floor: 0.8, all_wall_over_floor: 0.4, all_csv_rows_per_s: 1_500_000, peak_rss_mb: 256 };
console.log(JSON.stringify(result, null, 2));
