#!/usr/bin/env node
// Where convert's CPU time goes, measured in one process per stage (CPU seconds, so the
// numbers hold on a loaded machine):
//   floor    read + split + JSON.parse (what any reader pays)
//   parse    vsched's reader: LineSplitter + TraceRecordParser + sha256 (no engine)
//   engine   parse + engine with a sink that drops rows (lean, then all); the rows are
//            still built (the sink keeps a reference to the last one)
//   csv      parse + engine + CSV writers to bench/out/breakdown/ (lean, then all)
// The differences are the cost of each layer.
//
//   node bench/convert-breakdown.mjs [TRACE]   (default bench/out/trace-200mb.jsonl)
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const trace = path.resolve(process.argv[2] ?? path.join(root, "bench", "out", "trace-200mb.jsonl"));
const out = path.join(root, "bench", "out");
mkdirSync(out, { recursive: true });

const harness = `
import { createReadStream, mkdirSync, rmSync } from "node:fs";
import { createEngine } from "${root}/src/engine/index.ts";
import { readTraceFile, readTraceHeader } from "${root}/src/parse/node.ts";
import { resolveInputs } from "${root}/src/parse/inputs.ts";
import { CsvTableSet } from "${root}/src/sinks/csv-tables.ts";
const [file, stage, which] = process.argv.slice(2);
const c0 = process.cpuUsage();
let rows = 0;
if (stage === "floor") {
  let carry = null;
  for await (let c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    if (carry) c = Buffer.concat([carry, c]);
    let s = 0, i;
    while ((i = c.indexOf(10, s)) !== -1) { JSON.parse(c.toString("utf8", s, i)); s = i + 1; }
    carry = s < c.length ? c.subarray(s) : null;
  }
} else {
  const [input] = await resolveInputs([file]);
  const header = await readTraceHeader(input);
  // keep each row reachable so V8 cannot optimise the row objects away
  let last = null;
  const count = (row) => { rows++; last = row; };
  process.on("exit", () => { if (last === 1) console.log(""); });
  const drop = { perRequest: count, perIteration: count, perIterationRequest: count, event: count, stateTransition: count, finding() {} };
  const dir = "${out}/breakdown";
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tables = stage === "csv" ? new CsvTableSet(dir) : null;
  const lean = which === "lean";
  const engine = createEngine(header, tables ? { ...tables.sink, finding() {} } : drop, {
    timeOffsetNs: 0, epochZeroNs: BigInt(header.clock.epoch_ns), iterationRequests: lean ? "none" : "all", iterationRequestsEvery: 1, scheduledEvents: !lean,
  });
  const push = stage === "parse" ? () => {} : (r, l) => engine.push(r, l);
  await readTraceFile(input, { lenient: false }, push, { afterChunk: () => (tables?.needsDrain ? tables.drain() : undefined) });
  if (stage !== "parse") engine.end();
  if (tables) { await tables.close(); rows = Object.values(tables.rowCounts()).reduce((a, b) => a + b, 0); }
}
// read before the output is deleted: removing 1.6 GB of just-written CSV is 1-3 s of system
// time that convert never spends (it was counted as CSV cost until the third round)
const c = process.cpuUsage(c0);
if (stage === "csv") rmSync("${out}/breakdown", { recursive: true, force: true });
console.log(JSON.stringify({ cpu_s: (c.user + c.system) / 1e6, rows }));
`;
const src = path.join(out, "breakdown-harness.ts");
const bundle = path.join(out, "breakdown-harness.mjs");
writeFileSync(src, harness);
await build({
  entryPoints: [src],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: bundle,
  logLevel: "warning",
  nodePaths: [path.join(root, "node_modules")],
  banner: { js: 'import { createRequire as __c } from "node:module"; const require = __c(import.meta.url);' },
});

const mb = statSync(trace).size / 1e6;
const run = (stage, which = "") => {
  const r = spawnSync(process.execPath, [bundle, trace, stage, which], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop());
};
const r2 = (x) => Math.round(x * 100) / 100;
const floor = run("floor");
const parse = run("parse");
const res = { trace: path.relative(root, trace), trace_mb: r2(mb), cpu_s: {}, mb_per_cpu_s: {}, layer_cpu_s: {} };
res.cpu_s.floor = r2(floor.cpu_s);
res.cpu_s.parse = r2(parse.cpu_s);
for (const which of ["lean", "all"]) {
  const e = run("engine", which);
  const c = run("csv", which);
  res.cpu_s[`engine_${which}`] = r2(e.cpu_s);
  res.cpu_s[`csv_${which}`] = r2(c.cpu_s);
  res.layer_cpu_s[which] = {
    reader_over_floor: r2(parse.cpu_s - floor.cpu_s),
    engine: r2(e.cpu_s - parse.cpu_s),
    csv_writers: r2(c.cpu_s - e.cpu_s),
    rows: c.rows,
    csv_rows_per_cpu_s: Math.round(c.rows / Math.max(1e-9, c.cpu_s - e.cpu_s)),
  };
}
for (const [k, v] of Object.entries(res.cpu_s)) res.mb_per_cpu_s[k] = r2(mb / v);
res.ratios = {
  parse_over_floor: r2(floor.cpu_s / parse.cpu_s),
  convert_lean_over_floor: r2(floor.cpu_s / res.cpu_s.csv_lean),
  convert_all_over_floor: r2(floor.cpu_s / res.cpu_s.csv_all),
};
if (!process.env.KEEP_HARNESS) rmSync(src);
console.log(JSON.stringify(res, null, 2));
