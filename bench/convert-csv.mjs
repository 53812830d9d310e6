#!/usr/bin/env node
// CSV writer throughput on per_iteration_requests rows (13 columns), independent of the
// engine: rows shaped like the engine's (1,000 waiting + 256 running per iteration,
// cmpl-<32 hex>-0 ids) go through CsvTableWriter into a file.
//
//   node bench/convert-csv.mjs [--rows 5000000] [--out bench/out/csv-bench.csv]
//
// Prints rows/s for formatting alone and for formatting + writing to disk.
import { build } from "esbuild";
import { mkdirSync, createWriteStream, statSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const ROWS = Number(opt("rows", 5_000_000));
const OUT = path.resolve(root, opt("out", "bench/out/csv-bench.csv"));
mkdirSync(path.join(root, "bench", "out"), { recursive: true });

// bundle the writer from source (the CLI bundle does not export it)
const mod = path.join(root, "bench", "out", "csv-writer.bundle.mjs");
await build({ entryPoints: [path.join(root, "src/sinks/csv-writer.ts")], bundle: true, format: "esm", platform: "node", outfile: mod, logLevel: "warning" });
const { CsvTableWriter } = await import(pathToFileURL(mod).href);
const { compileRowEncoder } = await import(pathToFileURL(mod).href).then(async () => {
  const m2 = path.join(root, "bench", "out", "csv-format.bundle.mjs");
  await build({ entryPoints: [path.join(root, "src/logs/csv-format.ts")], bundle: true, format: "esm", platform: "node", outfile: m2, logLevel: "warning" });
  return import(pathToFileURL(m2).href);
});

const ids = Array.from({ length: 1256 }, (_, i) => `cmpl-${(i * 2654435761 >>> 0).toString(16).padStart(8, "0")}a1b2c3d4e5f6a7b8c9d0e1f2a3b4-0`);
function* rows(n) {
  for (let i = 0; i < n; i++) {
    const it = Math.floor(i / 1256);
    const k = i % 1256;
    const id = ids[k];
    yield k < 256
      ? { iteration_id: it, request_id: id, state: "running", queue_position: null, waiting_reason: null, tokens_generated: 40 + k, kv_cache_blocks: 50 + (k % 40), time_in_state: 123456789 + k * 1000, scheduled_tokens: 1, running_reason: k % 50 === 0 ? "chunked_prefill" : null, waiting_phase: null, computed_tokens: 900 + k, dp_rank: 0 }
      : { iteration_id: it, request_id: id, state: "waiting", queue_position: k - 256, waiting_reason: "max_num_seqs", tokens_generated: 0, kv_cache_blocks: 0, time_in_state: 1390389789 + k, scheduled_tokens: 0, running_reason: null, waiting_phase: "initial", computed_tokens: 0, dp_rank: 0 };
  }
}
// materialise a pool once so the measurement is the writer, not the row generator
const pool = [...rows(1256 * 8)];

const encode = compileRowEncoder("per_iteration_requests");
const scratch = Buffer.allocUnsafe((1 << 16) + 8192);
let c0 = process.cpuUsage();
let t0 = performance.now();
let chars = 0;
for (let i = 0, off = 0; i < ROWS; i++) {
  off = encode(pool[i % pool.length], scratch, off);
  if (off >= 1 << 16) {
    chars += off;
    off = 0;
  }
}
const fmtSec = (performance.now() - t0) / 1000;
const fmtCpu = process.cpuUsage(c0);

const out = createWriteStream(OUT, { highWaterMark: 1 << 20 });
const w = new CsvTableWriter("per_iteration_requests", out);
c0 = process.cpuUsage();
t0 = performance.now();
for (let i = 0; i < ROWS; i++) {
  w.write(pool[i % pool.length]);
  if ((i & 0x3fff) === 0 && w.needsDrain) await w.drain();
}
await w.close();
const writeSec = (performance.now() - t0) / 1000;
const writeCpu = process.cpuUsage(c0);
const cpu = (c) => ({ user_s: +(c.user / 1e6).toFixed(2), sys_s: +(c.system / 1e6).toFixed(2) });
const size = statSync(OUT).size;
rmSync(OUT);
console.log(
  JSON.stringify({
    table: "per_iteration_requests",
    rows: ROWS,
    encode_only_rows_per_s: Math.round(ROWS / fmtSec),
    encode_and_write_rows_per_s: Math.round(ROWS / writeSec),
    mb_per_s: +(size / 1e6 / writeSec).toFixed(1),
    bytes_per_row: +(size / ROWS).toFixed(1),
    target_rows_per_s: 1_500_000,
    encode_only_cpu: cpu(fmtCpu),
    encode_and_write_cpu: cpu(writeCpu),
    encode_and_write_rows_per_cpu_s: Math.round(ROWS / ((writeCpu.user + writeCpu.system) / 1e6)),
  }),
);
