#!/usr/bin/env node
// Self time of a `node --cpu-prof` profile of the CLI, by function and by layer. The bundle's
// (dist/*.js) lines are mapped back to their source module by esbuild's `// src/…` comments, so
// each function is named with its module, and a layer is the module's folder:
//   reader  src/parse, src/schema (record checks); `JSON.parse` is a builtin, its time is the
//           self time of the frame that calls it (the reader's `line`)
//   engine  src/engine, src/pipeline
//   sinks   src/sinks, src/logs (CSV writers), src/tables, the row guard (src/pipeline/row-guard.ts)
//   GC      (garbage collector); runtime: what no src frame called (stream machinery run from
//           the event loop, module loading, (program))
// A frame outside the bundle (a builtin, node:internal, code made by `new Function`: the record
// checks, the CSV row encoders) takes the layer of its nearest caller in src, and its name shows
// that caller: `update <- transform (src/parse/node.ts)` is the input's sha256.
//
//   node bench/cpuprofile-summary.mjs PROFILE.cpuprofile [--top 40] [--json]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (!file) throw new Error("usage: cpuprofile-summary.mjs PROFILE.cpuprofile [--top N] [--json]");
const topAt = args.indexOf("--top");
const TOP = topAt === -1 ? 40 : Number(args[topAt + 1]);
const prof = JSON.parse(readFileSync(file, "utf8"));

// bundle line → source module, from esbuild's module comments ("// src/engine/x.ts")
const moduleMaps = new Map();
function moduleOf(url, line) {
  if (!url.startsWith("file://") || !/\/dist\/[^/]+\.js$/.test(url)) return null;
  let m = moduleMaps.get(url);
  if (!m) {
    m = [];
    const lines = readFileSync(fileURLToPath(url), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const c = /^\/\/ ((?:src|node_modules|\.\.\/)[^\s]*\.[cm]?[jt]s)$/.exec(lines[i]);
      if (c) m.push([i, c[1].replace(/^(\.\.\/)+work\/main\//, "")]);
    }
    moduleMaps.set(url, m);
  }
  let lo = 0;
  let hi = m.length - 1;
  let found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (m[mid][0] <= line) {
      found = m[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function layerOf(fn, mod, url) {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)") return "idle";
  if (mod) {
    if (/^src\/(parse|schema)\//.test(mod)) return "reader";
    if (/^src\/(sinks|logs|tables)\//.test(mod) || mod === "src/pipeline/row-guard.ts") return "sinks";
    if (/^src\/(engine|pipeline)\//.test(mod)) return "engine";
    if (/^src\/threads\//.test(mod)) return "threads";
    if (/^src\/cli\//.test(mod)) return "cli";
    return "other src";
  }
  if (url.startsWith("node:")) return "runtime (node:internal)";
  return "runtime (other)";
}

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const FAST_CHECK = "src/schema/fast-check.ts";
/** The nearest caller in the bundle's src modules: [its function name, its module]. */
function srcCaller(id) {
  for (let q = parent.get(id); q !== undefined; q = parent.get(q)) {
    const cf = byId.get(q).callFrame;
    const mod = moduleOf(cf.url, cf.lineNumber);
    // the generated record checks (src/schema/fast-check.ts) serve the reader and the row guard of the sinks alike: their caller says which
    if (mod && mod.startsWith("src/") && mod !== FAST_CHECK) return [cf.functionName || "(anonymous)", mod];
  }
  return null;
}
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fns = new Map();
const layers = new Map();
for (const [id, us] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  let mod = moduleOf(cf.url, cf.lineNumber);
  let name = cf.functionName || "(anonymous)";
  let where = mod ?? cf.url;
  let layer = layerOf(name, mod, cf.url);
  if ((!(mod && mod.startsWith("src/")) || mod === FAST_CHECK) && layer !== "GC" && layer !== "idle") {
    const c = srcCaller(id);
    if (c) {
      name = `${name} <- ${mod === FAST_CHECK || byId.get(parent.get(id))?.callFrame.functionName === "check2" ? "check <- " : ""}${c[0]}`;
      where = c[1];
      layer = layerOf(c[0], c[1], "");
    }
  }
  const key = `${name} ${where}`;
  const f = fns.get(key) ?? { fn: name, where, us: 0, layer };
  f.us += us;
  fns.set(key, f);
  layers.set(f.layer, (layers.get(f.layer) ?? 0) + us);
}
const pct = (us) => Math.round((1000 * us) / total) / 10;
const sortedFns = [...fns.values()].sort((a, b) => b.us - a.us);
const sortedLayers = [...layers].sort((a, b) => b[1] - a[1]);
if (args.includes("--json")) {
  console.log(JSON.stringify({ total_s: total / 1e6, layers: Object.fromEntries(sortedLayers.map(([l, us]) => [l, { s: us / 1e6, pct: pct(us) }])), functions: sortedFns.slice(0, TOP).map((f) => ({ ...f, s: f.us / 1e6, pct: pct(f.us) })) }, null, 1));
} else {
  console.log(`profile total ${(total / 1e6).toFixed(2)} s`);
  console.log("by layer (self):");
  for (const [l, us] of sortedLayers) console.log(`  ${l.padEnd(26)} ${(us / 1e6).toFixed(3)} s  ${pct(us).toFixed(1)} %`);
  console.log(`top ${TOP} functions (self):`);
  for (const f of sortedFns.slice(0, TOP)) console.log(`  ${pct(f.us).toFixed(1).padStart(5)} %  ${(f.us / 1e6).toFixed(3)} s  ${f.layer.padEnd(8)} ${f.fn}  ${f.where}`);
}
