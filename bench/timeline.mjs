#!/usr/bin/env node
// `vsched timeline` at scale: 100k requests and 1 M steps (bench/timeline-gen.mjs), both
// output forms, against a baseline measured in the same run on the same trace: `convert
// --iteration-requests none --no-scheduled-events`, the cheapest full replay of the trace
// (the timeline needs the same replay, plus every per_iteration_requests row).
//
//   npm run build
//   node bench/timeline.mjs [--steps 1000000] [--requests 100000] [--json] [--logs] [--base DIR]
//     --json: also the Chrome JSON form; --logs: also from a logs directory (convert with every
//     per_iteration_requests row first, untimed), where requests wait for the last table;
//     --base DIR: also the protobuf timeline by another build (DIR/bin/vsched.js, e.g. main's),
//     run between this checkout's two, and whether its file is byte-identical
//
// Targets (issue 12): ≤ 30 s, ≤ 400 MB peak RSS, file ≤ 150 MB for the protobuf form.
// This machine is shared: wall times swing with the load; CPU seconds and the ratio to
// the baseline are the numbers to compare between runs.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { options } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = options(args);
const STEPS = Number(opt("steps", 1_000_000));
const REQUESTS = Number(opt("requests", 100_000));
const OUTDIR = path.join("bench", "out");
const trace = path.join(OUTDIR, `timeline-${STEPS}-${REQUESTS}.jsonl`);

if (!existsSync(trace)) {
  process.stderr.write(`generating ${trace} …\n`);
  execFileSync(process.execPath, ["bench/timeline-gen.mjs", "--steps", String(STEPS), "--requests", String(REQUESTS), "--out", trace], { stdio: ["ignore", "inherit", "inherit"] });
}

function measure(label, cliArgs, output, cli = "bin/vsched.js") {
  const usage = path.join(os.tmpdir(), `vsched-bench-${process.pid}-${label}.json`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", "./bench/convert-rss.mjs", cli, ...cliArgs], {
    env: { ...process.env, VSCHED_BENCH_RUSAGE: usage },
    encoding: "utf8",
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const u = JSON.parse(readFileSync(usage, "utf8"));
  rmSync(usage, { force: true });
  const size = output && existsSync(output) ? (statSync(output).isFile() ? statSync(output).size : null) : null;
  return { label, wall_s: +wall.toFixed(2), cpu_s: +(u.user_s + u.sys_s).toFixed(2), peak_rss_mb: +(u.max_rss_kb / 1024).toFixed(1), file_mb: size === null ? null : +(size / 1e6).toFixed(1), stderr: r.stderr.trim() };
}

const traceMb = statSync(trace).size / 1e6;
const lean = path.join(OUTDIR, "timeline-baseline-logs");
const rows = [measure("baseline: convert lean", ["convert", trace, "-o", lean, "-q", "--iteration-requests", "none", "--no-scheduled-events"], null)];
const proto = path.join(OUTDIR, "timeline.perfetto-trace");
rows.push(measure("timeline proto", ["timeline", trace, "-o", proto, "-q"], proto));
const BASE = opt("base", null);
if (BASE) {
  const baseProto = path.join(OUTDIR, "timeline-base.perfetto-trace");
  rows.push(measure("timeline proto, --base build", ["timeline", trace, "-o", baseProto, "-q"], baseProto, path.join(path.resolve(BASE), "bin", "vsched.js")));
  rows.push(measure("timeline proto (again, after the base)", ["timeline", trace, "-o", proto, "-q"], proto));
  const same = spawnSync("cmp", ["-s", baseProto, proto]).status === 0; // not read in here: a big parent inflates its children's ru_maxrss
  process.stderr.write(`--base build's timeline ${same ? "byte-identical" : "DIFFERS"}\n`);
  rmSync(baseProto, { force: true });
}
if (args.includes("--json")) {
  const json = path.join(OUTDIR, "timeline.json");
  rows.push(measure("timeline json", ["timeline", trace, "-o", json, "--format", "json", "-q"], json));
}
rmSync(lean, { recursive: true, force: true });
if (args.includes("--logs")) {
  const logs = path.join(OUTDIR, "timeline-full-logs");
  if (!existsSync(path.join(logs, "manifest.json"))) execFileSync(process.execPath, ["bin/vsched.js", "convert", trace, "-o", logs, "-q", "--no-scheduled-events"], { stdio: "inherit" });
  const fromLogs = path.join(OUTDIR, "timeline-from-logs.perfetto-trace");
  rows.push(measure("timeline proto, from the logs directory", ["timeline", logs, "-o", fromLogs, "-q"], fromLogs));
}

const base = rows[0];
console.log(`trace: ${trace} (${traceMb.toFixed(0)} MB, ${STEPS} steps, ~${REQUESTS} requests); load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
console.log("| run | wall s | CPU s | CPU vs baseline | peak RSS MB | file MB |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.label} | ${r.wall_s} | ${r.cpu_s} | ${(r.cpu_s / base.cpu_s).toFixed(2)}× | ${r.peak_rss_mb} | ${r.file_mb ?? "—"} |`);
}
const p = rows[1];
console.log(`targets (protobuf): time ≤ 30 s: ${p.wall_s <= 30 ? "met" : "MISSED"} (wall ${p.wall_s} s, CPU ${p.cpu_s} s); RSS ≤ 400 MB: ${p.peak_rss_mb <= 400 ? "met" : "MISSED"}; file ≤ 150 MB: ${p.file_mb <= 150 ? "met" : "MISSED"}`);
