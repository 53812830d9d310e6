// What the bench scripts share: the command-line option reader, the generated bench trace, the floor,
// convert as a measured child process, and the tables' digests.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Where convert's measured runs write their tables and rusage: bench/out, or VSCHED_BENCH_TMP (a
 * default convert of the 200 MB trace writes 1.6 GB; a tmpfs when the disk is short of room: both
 * builds of a comparison write to the same place, so the comparison holds).
 */
export const scratch = process.env.VSCHED_BENCH_TMP ? path.resolve(process.env.VSCHED_BENCH_TMP) : path.join(root, "bench", "out");

/** `opt("mb", 200)`: the value after `--mb`, or the default. */
export function options(argv = process.argv.slice(2)) {
  return (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? def : argv[i + 1];
  };
}

/** bench/out/trace-<mb>mb.jsonl, made by bench/gen-trace.mjs when missing. */
export function benchTrace(mb, log = (...a) => console.error(...a)) {
  const file = path.join(root, "bench", "out", `trace-${mb}mb.jsonl`);
  if (!existsSync(file)) {
    log(`generating ${file} …`);
    const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), "--mb", String(mb), "--out", file], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (g.status !== 0) throw new Error("gen-trace failed");
    log(g.stdout.trim());
  }
  return file;
}

/**
 * A generated trace written line by line in 1 MiB pieces, awaiting 'drain' (the bench
 * generators' output). `size` counts what was emitted, flushed or not.
 */
export class LineFile {
  constructor(file) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.out = createWriteStream(file, { highWaterMark: 1 << 22 });
    this.buf = "";
    this.bytes = 0;
    this.records = 0;
  }

  get size() {
    return this.bytes + this.buf.length;
  }

  async emit(line) {
    this.buf += line + "\n";
    this.records++;
    if (this.buf.length > 1 << 20) {
      this.bytes += Buffer.byteLength(this.buf);
      const ok = this.out.write(this.buf);
      this.buf = "";
      if (!ok) await once(this.out, "drain");
    }
  }

  async end() {
    this.bytes += Buffer.byteLength(this.buf);
    this.out.end(this.buf);
    this.buf = "";
    await once(this.out, "finish");
  }
}

/** The floor convert is measured against: Node reading `file` in 1 MiB chunks and JSON.parse of every line, one core. */
export async function readFloor(file) {
  const t0 = performance.now();
  let carry = null;
  let lines = 0;
  for await (let c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    if (carry) c = Buffer.concat([carry, c]);
    let start = 0;
    let i;
    while ((i = c.indexOf(10, start)) !== -1) {
      JSON.parse(c.toString("utf8", start, i));
      lines++;
      start = i + 1;
    }
    carry = start < c.length ? c.subarray(start) : null;
  }
  return { seconds: (performance.now() - t0) / 1000, lines };
}

/**
 * `vsched convert TRACE -o OUT --quiet ARGS…` by the CLI at `cli`, as a child process with its
 * peak RSS and CPU recorded at exit (bench/convert-rss.mjs): wall s, the rusage, the manifest.
 */
export function convertChild(cli, trace, out, args) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const rusage = path.join(scratch, `rusage-${process.pid}.json`);
  rmSync(`${rusage}.threads`, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), cli, "convert", trace, "-o", out, "--quiet", ...args], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const wall_s = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`convert exited ${r.status}`);
  const usage = JSON.parse(readFileSync(rusage, "utf8"));
  rmSync(rusage, { force: true });
  rmSync(`${rusage}.threads`, { force: true });
  return { wall_s, usage, manifest: JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")) };
}

/** convert's two settings the speed targets name: lean (no per_iteration_requests rows, no scheduled events) and all (the defaults). */
export const MODE_ARGS = { lean: ["--iteration-requests", "none", "--no-scheduled-events"], all: [] };

export const r2 = (x) => Math.round(x * 100) / 100;
export const loadAvg = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

/** readFloor() with this process's CPU seconds: the floor by wall and by CPU. */
export async function floorUsage(trace) {
  const c0 = process.cpuUsage();
  const f = await readFloor(trace);
  const c = process.cpuUsage(c0);
  return { wall_s: r2(f.seconds), cpu_s: r2((c.user + c.system) / 1e6) };
}

// streamed: reading a GB of CSV into this process would grow it, and a child forked from a big
// process reports the parent's size as its own peak RSS (ru_maxrss survives exec)
export async function sha256File(file) {
  const h = createHash("sha256");
  for await (const c of createReadStream(file)) h.update(c);
  return h.digest("hex");
}

/** sha256 of every CSV in a logs directory, by file name: two converts' tables compared byte for byte. */
export async function csvDigests(dir) {
  const out = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".csv")).sort()) out[f] = await sha256File(path.join(dir, f));
  return out;
}

