import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { computeSummary } from "../src/analysis/summary/index.js";
import { runConvert, type ConvertOptions } from "../src/cli/commands/convert.js";
import { InputError, UsageError } from "../src/core/errors.js";
import { openTables } from "../src/tables/index.js";
import { validateInputs } from "../src/validate/index.js";
import { FIXTURES } from "./helpers/fixtures.js";
import { generateCorpus, type Case } from "./malformed/corpus.js";

/**
 * Malformed input never crashes vsched: over a seeded corpus of broken traces derived
 * from real ones, convert, validate and summary exit 0, 1 or 2 (never 3), an exit 2 is
 * one line naming the file, nothing is left half-written and the previous output stays,
 * and an exit 0 writes tables that validate accepts.
 */
const BASES = [
  path.join(FIXTURES, "e2e-vllm-cpu", "offline_trace", "vsched-31400-dp0.jsonl"),
  path.join(FIXTURES, "no-chunk-long-prompt", "vsched-1-dp0.jsonl"),
  path.join(FIXTURES, "lora-slots", "vsched-1-dp0.jsonl"),
];
const CASES = generateCorpus(BASES, 20261202, 1050);
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-corpus-"));
const previous = path.join(tmp, "previous");
const silent = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

const options = (inputs: string[], out: string): ConvertOptions => ({
  inputs, out, lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, stderr: silent,
});

/** exit code and message as the CLI would give them, and the result; a non-input error is a bug (3) */
async function outcome<T>(f: () => Promise<T>): Promise<{ code: number; error?: unknown; value?: T }> {
  try {
    const r = await f();
    return { code: typeof r === "number" ? r : 0, value: r };
  } catch (e) {
    if (e instanceof InputError || e instanceof UsageError) return { code: 2, error: e };
    return { code: 3, error: e };
  }
}

const digest = (dir: string) =>
  readdirSync(dir)
    .sort()
    .map((n) => `${n}:${createHash("sha256").update(readFileSync(path.join(dir, n))).digest("hex")}`)
    .join("\n");

beforeAll(async () => {
  expect(await runConvert(options([BASES[0]], previous))).toBe(0);
});

describe(`a corpus of ${CASES.length} malformed traces (seed 20261202)`, () => {
  it("covers every kind of fault", () => {
    const kinds = new Set(CASES.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(
      ["bad-header", "byte-flip", "contradiction", "duplicate-line", "empty-or-blank", "epoch-field", "huge-value", "missing-field", "not-json", "odd-id", "odd-number", "reorder-lines", "truncate", "wrong-type"].sort(),
    );
    expect(CASES.length).toBeGreaterThanOrEqual(1000);
  });

  // in batches, so a failure names its case and the run stays one vitest file
  const BATCH = 75;
  for (let start = 0; start < CASES.length; start += BATCH) {
    const batch = CASES.slice(start, start + BATCH);
    it(`cases ${start}–${start + batch.length - 1}`, { timeout: 240_000 }, async () => {
      for (const c of batch) await checkCase(c);
    });
  }
});

const stats = { exit0: 0, exit1: 0, exit2: 0 };

async function checkCase(c: Case): Promise<void> {
  const dir = path.join(tmp, c.id.split(":")[0]);
  mkdirSync(dir);
  const trace = path.join(dir, "trace.jsonl");
  writeFileSync(trace, c.bytes);
  const out = path.join(dir, "out");
  cpSync(previous, out, { recursive: true });
  const before = digest(out);

  const conv = await outcome(() => runConvert(options([trace], out)));
  expect(conv.code, `${c.id}: convert crashed: ${String((conv.error as Error)?.stack ?? conv.error).slice(0, 400)}`).not.toBe(3);
  expect(readdirSync(out).filter((n) => n.startsWith(".vsched")), `${c.id}: staging debris`).toEqual([]);
  if (conv.code === 2) {
    const e = conv.error as InputError;
    expect(e.message.includes("\n"), `${c.id}: a one-line error`).toBe(false);
    if (e instanceof InputError && e.file !== undefined) expect(e.file, c.id).toContain("trace.jsonl");
    expect(digest(out), `${c.id}: the previous output changed`).toBe(before);
    stats.exit2++;
  } else {
    stats[conv.code === 0 ? "exit0" : "exit1"]++;
    const v = await outcome(() => validateInputs([out]));
    expect(v.code, `${c.id}: validate of the output crashed`).not.toBe(3);
    if (conv.code === 0) {
      // the validation above, not a second one
      expect(v.error, `${c.id}: convert exited 0 but validate cannot read its output`).toBeUndefined();
      const r = v.value!.findings.filter((f) => f.severity === "error");
      expect(r, `${c.id}: convert exited 0 but validate rejects its output`).toEqual([]);
    }
  }
  const raw = await outcome(() => validateInputs([trace]));
  expect(raw.code, `${c.id}: validate of the trace crashed: ${String((raw.error as Error)?.stack ?? raw.error).slice(0, 400)}`).not.toBe(3);
  // summary replays the trace once more; every fourth case keeps the corpus within CI's budget
  const sum = Number(c.id.split(":")[0]) % 4 === 0 ? await outcome(async () => computeSummary(await openTables([trace]))) : { code: 0 };
  expect(sum.code, `${c.id}: summary of the trace crashed: ${String((sum.error as Error)?.stack ?? sum.error).slice(0, 400)}`).not.toBe(3);
  rmSync(dir, { recursive: true, force: true });
}

describe("through the built CLI: no stack trace, one line, the documented exit code", () => {
  const cli = path.join(import.meta.dirname, "..", "bin", "vsched.js");
  const sample = CASES.filter((_, i) => i % 70 === 3);
  for (const c of sample) {
    it(c.id, () => {
      const dir = mkdtempSync(path.join(tmp, "cli-"));
      const trace = path.join(dir, "trace.jsonl");
      writeFileSync(trace, c.bytes);
      for (const args of [["convert", trace, "-o", path.join(dir, "out")], ["validate", trace], ["summary", trace]]) {
        const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000 });
        expect(r.status, `${args[0]}: ${r.stderr}`).not.toBe(3);
        expect([0, 1, 2]).toContain(r.status);
        expect(r.stderr, args[0]).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
        if (r.status === 2) expect(r.stderr.trim().split("\n").length, `${args[0]}: ${r.stderr}`).toBe(1);
      }
    });
  }

  it("the corpus exercised every outcome", () => {
    expect(stats.exit0).toBeGreaterThan(50);
    expect(stats.exit2).toBeGreaterThan(300);
  });
});
