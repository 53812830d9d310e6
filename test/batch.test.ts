import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./helpers/golden.js";

/**
 * dist/batch.js (src/cli/batch.ts) runs many vsched commands in one process for harnesses
 * (emitter/vllm_suite/run.py checks ~600 traces with it). Whatever a harness concludes from it
 * must be what it would conclude from separate `node bin/vsched.js` runs: per command the same
 * exit code, stdout and stderr, and the same files written. Each job runs here both ways, from
 * two directories so relative output paths read the same.
 */
const BIN = path.join(ROOT, "bin", "vsched.js");
const BATCH = path.join(ROOT, "dist", "batch.js");
const data = (f: string) => path.join(ROOT, "test", "data", "convert", f);
const fixture = (f: string) => path.join(ROOT, "fixtures", f);
const env = { ...process.env, NO_COLOR: "1" };

const JOBS: string[][] = [
  ["convert", data("small.jsonl"), "-o", "logs"], // the summary line
  ["convert", "-q", data("unknown-types.jsonl"), "-o", "warned"], // warnings only
  ["convert", "-q", data("malformed.jsonl"), "-o", "refused"], // exit 2, one line naming file and line
  ["convert", "-q", fixture("kv-pressure-preempt/vsched-1-dp0.jsonl"), fixture("dp-rank-1/vsched-1-dp1.jsonl"), "-o", "ranks", "--threads", "2"], // worker threads beside batch.js
  ["validate", "--format", "json", "logs"],
  ["validate", "logs"],
  ["validate", data("unknown-types.jsonl"), "--strict"], // exit 1
  ["validate", "missing-dir"], // exit 2
  ["summary", "logs"],
  ["convert", data("small.jsonl")], // commander's usage error: no -o
  ["--version"],
];

interface Result { exit: number; stdout: string; stderr: string }

function viaCli(args: string[], cwd: string, extraEnv: Record<string, string> = {}): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...env, ...extraEnv }, timeout: 60_000 });
  return { exit: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function viaBatch(jobs: string[][], cwd: string, extraEnv: Record<string, string> = {}): Result[] {
  const input = jobs.map((argv) => JSON.stringify({ argv }) + "\n").join("");
  const r = spawnSync(process.execPath, [BATCH], { cwd, input, encoding: "utf8", env: { ...env, ...extraEnv }, timeout: 120_000 });
  expect(r.status, `batch.js: ${r.stderr}`).toBe(0);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Result);
}

/** every file under dir (recursively) → its bytes, as text */
function tree(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = path.join(rel, name);
    if (statSync(path.join(dir, r)).isDirectory()) Object.assign(out, tree(dir, r));
    else out[r] = readFileSync(path.join(dir, r)).toString("base64");
  }
  return out;
}

describe("dist/batch.js gives what separate CLI runs give", () => {
  ensureBuilt();

  it("per command: exit code, stdout, stderr; and the same files", () => {
    const [a, b] = [mkdtempSync(path.join(os.tmpdir(), "vsched-batch-cli-")), mkdtempSync(path.join(os.tmpdir(), "vsched-batch-batch-"))];
    const cli = JOBS.map((j) => viaCli(j, a));
    const batch = viaBatch(JOBS, b);
    expect(batch).toHaveLength(JOBS.length);
    JOBS.forEach((j, i) => expect(batch[i], `vsched ${j.join(" ")}`).toEqual(cli[i]));
    // the jobs cover each exit code and both streams, or the comparison proves little
    expect(new Set(cli.map((r) => r.exit))).toEqual(new Set([0, 1, 2]));
    expect(cli[0].stderr).toMatch(/^vsched: converted 1 file/);
    expect(cli[2].stderr).toMatch(/malformed\.jsonl:\d+: .*\[[A-Z_]+\]\n$/);
    expect(JSON.parse(cli[4].stdout).ok).toBe(true);
    expect(tree(b)).toEqual(tree(a));
    expect(Object.keys(tree(a))).toEqual(expect.arrayContaining(["logs/manifest.json", "ranks/per_request.csv", "warned/events.csv"]));
  });

  it("an internal error: exit 3 and the same message", () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), "vsched-batch-"));
    const job = ["validate", data("small.jsonl")];
    const cli = viaCli(job, cwd, { VSCHED_TEST_INTERNAL_ERROR: "1" });
    expect(cli.exit).toBe(3);
    expect(viaBatch([job, job], cwd, { VSCHED_TEST_INTERNAL_ERROR: "1" })).toEqual([cli, cli]);
  });
});
