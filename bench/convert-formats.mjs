#!/usr/bin/env node
// The same logical trace in both raw formats (bench/gen-trace.mjs --format plain|interned:
// schema 1.0 with every id spelled out, schema 1.3 with handles and delta lists), and what
// `vsched convert` takes to read each: bytes per step, gzip ratio, convert wall and CPU
// time (child processes, in alternating order, best of --repeat) and their ratios.
//
//   npm run build && node bench/convert-formats.mjs [--steps 3000] [--repeat 3] [--lean]
//
// --lean converts with --iteration-requests none --no-scheduled-events (the reader and the
// engine dominate); by default every table is written (the CSV writers dominate). Both
// conversions must give byte-identical tables (checked).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { options, root } from "./lib.mjs";

const opt = options();
const STEPS = Number(opt("steps", 3000));
const REPEAT = Number(opt("repeat", 3));
const LEAN = process.argv.includes("--lean");
const out = path.join(root, "bench", "out", "formats");
mkdirSync(out, { recursive: true });
const r2 = (x) => Math.round(x * 100) / 100;

function gen(format) {
  const file = path.join(out, `trace-${STEPS}-${format}.jsonl`);
  const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), "--steps", String(STEPS), "--format", format, "--out", file], { encoding: "utf8" });
  if (g.status !== 0) throw new Error(`gen-trace --format ${format} failed: ${g.stderr}`);
  const info = JSON.parse(g.stdout.trim().split("\n").at(-1));
  const bytes = readFileSync(file);
  return { file, bytes: bytes.length, bytes_per_step: info.bytes_per_step, gzip_ratio: r2(bytes.length / gzipSync(bytes).length) };
}

function convert(file, dir) {
  rmSync(dir, { recursive: true, force: true });
  const rusage = path.join(out, "rusage.json");
  const extra = LEAN ? ["--iteration-requests", "none", "--no-scheduled-events"] : [];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), path.join(root, "bin", "vsched.js"), "convert", file, "-o", dir, ...extra], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage },
    encoding: "utf8",
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`convert ${file}: exit ${r.status}: ${r.stderr}`);
  const u = JSON.parse(readFileSync(rusage, "utf8"));
  return { wall_s: wall, cpu_s: u.user_s + u.sys_s, rss_mb: u.max_rss_kb / 1024 };
}

const traces = { plain: gen("plain"), interned: gen("interned") };
const best = { plain: null, interned: null };
for (let i = 0; i < REPEAT; i++) {
  for (const f of i % 2 ? ["interned", "plain"] : ["plain", "interned"]) {
    const m = convert(traces[f].file, path.join(out, `logs-${f}`));
    const b = best[f];
    best[f] = b ? { wall_s: Math.min(b.wall_s, m.wall_s), cpu_s: Math.min(b.cpu_s, m.cpu_s), rss_mb: Math.max(b.rss_mb, m.rss_mb) } : m;
  }
}
const tables = readdirSync(path.join(out, "logs-plain")).filter((t) => t.endsWith(".csv"));
const identical = tables.every((t) => readFileSync(path.join(out, "logs-plain", t)).equals(readFileSync(path.join(out, "logs-interned", t))));
const result = {
  steps: STEPS,
  mode: LEAN ? "lean" : "all",
  tables_identical: identical,
  plain: { ...traces.plain, file: undefined, mb: r2(statSync(traces.plain.file).size / 1e6), ...mapR2(best.plain) },
  interned: { ...traces.interned, file: undefined, mb: r2(statSync(traces.interned.file).size / 1e6), ...mapR2(best.interned) },
  ratio_interned_to_plain: {
    bytes: r2(traces.interned.bytes / traces.plain.bytes),
    bytes_per_step: r2(traces.interned.bytes_per_step / traces.plain.bytes_per_step),
    wall: r2(best.interned.wall_s / best.plain.wall_s),
    cpu: r2(best.interned.cpu_s / best.plain.cpu_s),
  },
};
console.log(JSON.stringify(result, null, 1));
process.exit(identical ? 0 : 1);

function mapR2(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, r2(v)]));
}
