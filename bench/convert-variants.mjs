#!/usr/bin/env node
// Variants of `vsched convert` on the bench trace, alternating in rounds (A B C, C B A, …) so all
// see the same load: e.g. several --threads settings of one build, or two builds. Prints every run
// (wall, CPU of all threads, peak RSS, load), the medians, ratios to the floor (read + JSON.parse
// per line, in-process, before and after) by wall and by CPU, rows per wall second, and whether
// every variant's CSVs equal the first variant's (streamed sha256, first round).
//
//   npm run build && node bench/convert-variants.mjs [--mb 200] [--repeat 3] [--modes lean,all] \
//     --variant 't1=--threads 1' --variant 't2=--threads 2' [--variant 'main=@/work/wt/base --threads 1']
//
// A variant is NAME=ARGS; ARGS starting with @DIR run DIR/bin/vsched.js instead of this checkout's.
import { rmSync } from "node:fs";
import path from "node:path";
import { benchTrace, convertChild, csvDigests as digests, floorUsage as floor, loadAvg as load, MODE_ARGS, options, r2, root, scratch } from "./lib.mjs";

const opt = options();
const MB = Number(opt("mb", 200));
const REPEAT = Number(opt("repeat", 3));
const MODES = String(opt("modes", "lean,all")).split(",");
const variants = [];
for (let i = 0; i < process.argv.length; i++) {
  if (process.argv[i] !== "--variant") continue;
  const v = process.argv[i + 1];
  const eq = v.indexOf("=");
  let args = v.slice(eq + 1).split(" ").filter(Boolean);
  let cli = path.join(root, "bin", "vsched.js");
  if (args[0]?.startsWith("@")) cli = path.join(path.resolve(args.shift().slice(1)), "bin", "vsched.js");
  variants.push({ name: v.slice(0, eq), cli, args });
}
if (variants.length === 0) for (const t of [1, 2]) variants.push({ name: `t${t}`, cli: path.join(root, "bin", "vsched.js"), args: ["--threads", String(t)] });
const log = (...a) => console.error(...a);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const trace = benchTrace(MB, log);


const floors = [await floor(trace)];
log(`floor ${JSON.stringify(floors[0])}, load ${load()}`);
const runs = {};
const same = {};
for (const mode of MODES) {
  runs[mode] = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let k = 0; k < REPEAT; k++) {
    const order = k % 2 ? [...variants].reverse() : variants;
    for (const v of order) {
      const out = path.join(scratch, `var-${mode}-${v.name}`);
      const l0 = load();
      const { wall_s, usage: u, manifest: m } = convertChild(v.cli, trace, out, [...v.args, ...MODE_ARGS[mode]]);
      // CPU s per JS thread (main, each worker), and the rest: V8's GC helpers, libuv's writes
      const threads = u.threads ?? {};
      const other = r2(u.user_s + u.sys_s - Object.values(threads).reduce((a, b) => a + b, 0));
      const r = { wall_s: r2(wall_s), cpu_s: r2(u.user_s + u.sys_s), user_s: r2(u.user_s), sys_s: r2(u.sys_s), threads: { ...threads, other }, peak_rss_mb: Math.round(u.max_rss_kb / 1024), rows: m.totals.rows, load: [l0, load()] };
      log(`${mode} ${v.name}: ${JSON.stringify(r)}`);
      runs[mode][v.name].push(r);
      if (k === 0) {
        const d = await digests(out);
        if (v === variants[0]) same[mode] = { ref: d, result: {} };
        else same[mode].result[v.name] = JSON.stringify(d) === JSON.stringify(same[mode].ref) ? `${Object.keys(d).length} CSVs identical to ${variants[0].name}` : "DIFFER";
      }
      rmSync(out, { recursive: true, force: true });
    }
  }
}
floors.push(await floor(trace));
const fl = { wall_s: Math.min(...floors.map((f) => f.wall_s)), cpu_s: Math.min(...floors.map((f) => f.cpu_s)) };
const result = { trace: path.relative(root, trace), mb: MB, floor: fl, floors, modes: {} };
for (const mode of MODES) {
  const m = {};
  for (const v of variants) {
    const rs = runs[mode][v.name];
    const wall = median(rs.map((r) => r.wall_s));
    const cpu = median(rs.map((r) => r.cpu_s));
    m[v.name] = {
      args: v.args.join(" "),
      wall_s: rs.map((r) => r.wall_s),
      cpu_s: rs.map((r) => r.cpu_s),
      median_wall_s: r2(wall),
      median_cpu_s: r2(cpu),
      // per thread, the median over runs (an encoder pool's workers summed under "encode")
      threads: Object.fromEntries(Object.keys(rs[0].threads).map((k) => [k, r2(median(rs.map((r) => r.threads[k] ?? 0)))])),
      peak_rss_mb: Math.max(...rs.map((r) => r.peak_rss_mb)),
      rows: rs[0].rows,
      floor_ratio_wall: r2(fl.wall_s / wall),
      floor_ratio_cpu: r2(fl.cpu_s / cpu),
      rows_per_wall_s: Math.round(rs[0].rows / wall),
      load: rs.map((r) => r.load),
    };
  }
  m.tables = same[mode].result;
  result.modes[mode] = m;
}
console.log(JSON.stringify(result, null, 2));
