#!/usr/bin/env node
// Before/after of `vsched convert` in one run: another build (BASE: a checkout of main with
// `npm run build` done, or a copy of its bin/ and dist/) and this checkout convert the same
// bench trace, alternating (A B B A …) so both see the same load, with the floor (read +
// JSON.parse per line) measured before and after. Prints wall and CPU per run, the medians,
// and each as a ratio of the floor: on a shared machine the CPU ratios are the ones to trust.
//
//   npm run build && node bench/convert-ab.mjs --base /tmp/main-build [--mb 200] [--repeat 2] [--modes lean,all] [--threads 1]
//
// lean = --iteration-requests none --no-scheduled-events; all = the defaults. Both builds'
// tables are compared byte for byte (cmp of every CSV) after the first pair of each mode.
import { rmSync } from "node:fs";
import path from "node:path";
import { benchTrace, convertChild, csvDigests, floorUsage as floor, loadAvg as load, MODE_ARGS, options, r2, root, scratch } from "./lib.mjs";

const opt = options();
const BASE = opt("base", null);
if (!BASE) throw new Error("--base DIR: a built vsched (DIR/bin/vsched.js) to compare with");
const MB = Number(opt("mb", 200));
const REPEAT = Number(opt("repeat", 2));
const MODES = String(opt("modes", "lean,all")).split(",");
const THREADS = String(opt("threads", "1"));
const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const trace = benchTrace(MB, log);
const builds = { before: path.resolve(BASE), after: root };

function convert(build, mode) {
  const out = path.join(scratch, `ab-${mode}-${build === root ? "after" : "before"}`);
  const { wall_s, usage: u, manifest: m } = convertChild(path.join(build, "bin", "vsched.js"), trace, out, ["--threads", THREADS, ...MODE_ARGS[mode]]);
  return { out, wall_s: r2(wall_s), cpu_s: r2(u.user_s + u.sys_s), peak_rss_mb: Math.round(u.max_rss_kb / 1024), rows: m.totals.rows, load: load() };
}

async function sameTables(a, b) {
  const [da, db] = [await csvDigests(a), await csvDigests(b)];
  const differ = Object.keys(da).filter((f) => da[f] !== db[f]);
  return differ.length ? `DIFFER: ${differ.join(", ")}` : `${Object.keys(da).length} CSVs identical`;
}

const floors = [await floor(trace)];
log(`floor ${JSON.stringify(floors[0])}, load ${load()}`);
const runs = {};
const identical = {};
for (const mode of MODES) {
  runs[mode] = { before: [], after: [] };
  for (let k = 0; k < REPEAT; k++) {
    const order = k % 2 ? ["after", "before"] : ["before", "after"];
    const got = {};
    for (const which of order) {
      got[which] = convert(builds[which], mode);
      log(`${mode} ${which}: ${JSON.stringify({ ...got[which], out: undefined })}`);
      runs[mode][which].push(got[which]);
    }
    if (k === 0) identical[mode] = await sameTables(got.before.out, got.after.out);
    for (const g of Object.values(got)) rmSync(g.out, { recursive: true, force: true });
  }
}
floors.push(await floor(trace));
const fl = { wall_s: Math.min(...floors.map((f) => f.wall_s)), cpu_s: Math.min(...floors.map((f) => f.cpu_s)) };
const result = { trace: path.relative(root, trace), mb: MB, threads: Number(THREADS), floor: fl, floors, modes: {} };
for (const mode of MODES) {
  const m = {};
  for (const which of ["before", "after"]) {
    const rs = runs[mode][which];
    const wall = median(rs.map((r) => r.wall_s));
    const cpu = median(rs.map((r) => r.cpu_s));
    m[which] = {
      wall_s: rs.map((r) => r.wall_s),
      cpu_s: rs.map((r) => r.cpu_s),
      peak_rss_mb: Math.max(...rs.map((r) => r.peak_rss_mb)),
      rows: rs[0].rows,
      floor_ratio_wall: r2(fl.wall_s / wall),
      floor_ratio_cpu: r2(fl.cpu_s / cpu),
      rows_per_wall_s: Math.round(rs[0].rows / wall),
      rows_per_cpu_s: Math.round(rs[0].rows / cpu),
      load: rs.map((r) => r.load),
    };
  }
  m.speedup_cpu = r2(median(runs[mode].before.map((r) => r.cpu_s)) / median(runs[mode].after.map((r) => r.cpu_s)));
  m.speedup_wall = r2(median(runs[mode].before.map((r) => r.wall_s)) / median(runs[mode].after.map((r) => r.wall_s)));
  m.tables = identical[mode];
  result.modes[mode] = m;
}
console.log(JSON.stringify(result, null, 2));
