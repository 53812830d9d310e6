#!/usr/bin/env node
// Peak RSS, CPU and file size of the Parquet writer alone, independent of the engine (whose
// replay of the bench trace costs ~5 CPU s per MB, most of it binding limits):
//   synthetic   per_iteration_requests rows shaped like the engine's (1,000 waiting + 256
//               running per iteration, cmpl-<32 hex>-0 ids, a fresh string per row as the
//               engine's rows carry) through ParquetTableSet; RSS must not grow with --rows
//   --from-csv  every table of a CSV logs directory (`vsched convert --format csv`), real
//               rows, through one ParquetTableSet, table after table
//
//   node bench/parquet-writer-rss.mjs [--rows 3000000 | --from-csv LOGS_DIR] [--out bench/out/pq-writer-bench]
//
// VSCHED_PARQUET_ROW_GROUP_ROWS=<n> in the environment sets the row-group size (src/sinks/parquet-schema.ts).
import { build } from "esbuild";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { options, root } from "./lib.mjs";

const opt = options();
const ROWS = Number(opt("rows", 3_000_000));
const OUT = path.resolve(root, opt("out", "bench/out/pq-writer-bench"));
mkdirSync(path.join(root, "bench", "out"), { recursive: true });

// bundle the writer from source (the CLI bundle does not export it)
const mod = path.join(root, "bench", "out", "parquet-tables.bundle.mjs");
const entry = ["sinks/parquet-tables.ts", "logs/csv-read.ts", "schema/tables.ts"].map((f) => `export * from "./src/${f}";`).join("\n");
await build({ stdin: { contents: entry, resolveDir: root, loader: "ts" }, bundle: true, format: "esm", platform: "node", outfile: mod, logLevel: "warning" });
const { ParquetTableSet, forEachCsvRow, TABLE_NAMES } = await import(pathToFileURL(mod).href);
const FROM_CSV = opt("from-csv", null);

const hex = (i) => (i * 2654435761 >>> 0).toString(16).padStart(8, "0");
function row(i) {
  const it = Math.floor(i / 1256);
  const k = i % 1256;
  // a new string per row, as the engine's rows carry (ids come from parsed JSON lines)
  const id = `cmpl-${hex(k + Math.floor(it / 50) * 7)}a1b2c3d4e5f6a7b8c9d0e1f2a3b4-0`;
  return k < 256
    ? { iteration_id: it, request_id: id, state: "running", queue_position: null, waiting_reason: null, tokens_generated: 40 + k, kv_cache_blocks: 50 + (k % 40), time_in_state: 123456789 + k * 1000 + it, scheduled_tokens: 1, running_reason: k % 50 === 0 ? "chunked_prefill" : null, waiting_phase: null, computed_tokens: 900 + k, dp_rank: 0, request_instance: 0, binding_limits: null }
    : { iteration_id: it, request_id: id, state: "waiting", queue_position: k - 256, waiting_reason: "max_num_seqs", tokens_generated: 0, kv_cache_blocks: null, time_in_state: 1390389789 + k + it * 1000, scheduled_tokens: 0, running_reason: null, waiting_phase: k % 7 ? "initial" : "after_preemption", computed_tokens: 0, dp_rank: 0, request_instance: 0, binding_limits: ["max_num_seqs", "max_num_seqs+token_budget", "max_num_seqs|kv_blocks"][k % 3] + "" };
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
};
const timer = setInterval(sample, 20);
const t0 = performance.now();
const set = new ParquetTableSet(OUT, { vschedVersion: "bench" });
let rows = 0;
if (FROM_CSV) {
  const put = { per_request: "perRequest", per_iteration: "perIteration", per_iteration_requests: "perIterationRequest", events: "event", state_transitions: "stateTransition", predictions: "prediction" };
  for (const table of TABLE_NAMES) {
    const sink = set.sink[put[table]];
    await forEachCsvRow(path.join(FROM_CSV, `${table}.csv`), table, (r) => {
      sink(r);
      if ((++rows & 1023) === 0) sample();
    });
    if (set.needsDrain) await set.drain();
  }
} else {
  for (let i = 0; i < ROWS; i++) {
    set.sink.perIterationRequest(row(i));
    rows++;
    if ((i & 1023) === 0) {
      sample();
      if (set.needsDrain) await set.drain();
    }
  }
}
await set.close();
const wall = (performance.now() - t0) / 1000;
clearInterval(timer);
sample();
const bytes = readdirSync(OUT).filter((f) => f.endsWith(".parquet")).reduce((a, f) => a + statSync(path.join(OUT, f)).size, 0);
const u = process.resourceUsage();
console.log(JSON.stringify({
  source: FROM_CSV ? path.relative(process.cwd(), FROM_CSV) : "synthetic per_iteration_requests",
  rows,
  row_group_rows: process.env.VSCHED_PARQUET_ROW_GROUP_ROWS ?? "default",
  wall_s: Math.round(wall * 100) / 100,
  cpu_s: Math.round((u.userCPUTime + u.systemCPUTime) / 1e4) / 100,
  rows_per_s: Math.round(rows / wall),
  page_rows: process.env.VSCHED_PARQUET_PAGE_ROWS ?? "default",
  peak_rss_mb: Math.round(u.maxRSS / 1024),
  peak_rss_sampled_mb: Math.round(peakRss / 2 ** 20),
  peak_heap_mb: Math.round(peakHeap / 2 ** 20),
  file_mb: Math.round(bytes / 1e4) / 100,
}));
