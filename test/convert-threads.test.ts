import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runConvert, type ConvertOptions } from "../src/cli/commands/convert.js";
import { FIXTURES, traceFiles } from "./helpers/fixtures.js";

/**
 * convert --threads N writes the same bytes as --threads 1, every output file (manifest
 * included) and the same stderr and exit code: over every recorded fixture, over several
 * ranks' files converted together (each on its own worker, merged in input order), and
 * under the options that change what is written. Errors too: the same one line, from the
 * first failing input in input order, nothing left in the output directory.
 */
const ROOT = path.join(import.meta.dirname, "..");
const CLI = path.join(ROOT, "bin", "vsched.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-threads-"));

const fixtureTraces = readdirSync(FIXTURES)
  .filter((d) => d !== "data" && statSync(path.join(FIXTURES, d)).isDirectory())
  .sort()
  .map((d) => ({ name: d, files: traceFiles(d).filter((f) => !/(oracle|counterfactual)\.jsonl/.test(path.basename(f))) }))
  .filter((f) => f.files.length > 0);

/** every file under `dir` (recursively, Parquet partitions too) → its bytes */
function files(dir: string, rel = ""): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) for (const [k, v] of files(dir, r)) out.set(k, v);
    else out.set(r, readFileSync(path.join(dir, r)));
  }
  return out;
}

function expectSameFiles(a: string, b: string): void {
  expect(existsSync(b)).toBe(existsSync(a));
  if (!existsSync(a)) return;
  const fa = files(a);
  const fb = files(b);
  expect([...fb.keys()].sort()).toEqual([...fa.keys()].sort());
  for (const [name, bytes] of fa) expect(fb.get(name)!.equals(bytes), `${path.basename(b)}/${name} differs from ${path.basename(a)}/${name}`).toBe(true);
}

/** stderr collected as one string */
function capture() {
  let text = "";
  return { stream: { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WritableStream, text: () => text };
}

type Extra = Partial<ConvertOptions>;
const defaults = { lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: false } as const;

/** runConvert with cwd = FIXTURES/.. (so the manifest's relative paths are the same), into tmp/<out>/o */
async function convert(inputs: string[], out: string, threads: number, extra: Extra = {}) {
  const err = capture();
  const dir = path.join(tmp, out);
  let code: number | string;
  try {
    code = await runConvert({ ...defaults, ...extra, inputs, out: path.join(dir, "o"), cwd: ROOT, stderr: err.stream, threads });
  } catch (e) {
    code = `${(e as Error).constructor.name}: ${(e as Error).message} ${JSON.stringify(e)}`;
  }
  // the summary line names the output directory, which is the same relative name in each
  return { code, stderr: err.text().replaceAll(path.join(dir, "o"), "<out>"), dir: path.join(dir, "o") };
}

/** A copy of a trace whose header says dp_rank `rank` (a .gz is written plain). */
function withRank(file: string, rank: number): string {
  const raw = readFileSync(file);
  const text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  const nl = text.indexOf("\n");
  const header = JSON.parse(text.slice(0, nl)) as { dp_rank: number };
  header.dp_rank = rank;
  const out = path.join(tmp, `rank${rank}-${path.basename(file).replace(/\.gz$/, "")}`);
  writeFileSync(out, JSON.stringify(header) + text.slice(nl));
  return out;
}

/** The three outputs of a comparison that passed, removed: together they were 1.3 GB kept to the end of the run (in memory where TMPDIR is a tmpfs). */
function dropOutputs(name: string): void {
  for (const t of [1, 2, 3]) rmSync(path.join(tmp, `${name}-t${t}`), { recursive: true, force: true });
}

async function expectSameAcrossThreads(name: string, inputs: string[], extra: Extra = {}): Promise<void> {
  const one = await convert(inputs, `${name}-t1`, 1, extra);
  expect([0, 1], `${name}: converts (a refusal would be compared with a refusal)`).toContain(one.code);
  for (const t of [2, 3]) {
    const r = await convert(inputs, `${name}-t${t}`, t, extra);
    expect(r.code, `${name} --threads ${t}`).toEqual(one.code);
    expect(r.stderr, `${name} --threads ${t}`).toBe(one.stderr);
    expectSameFiles(one.dir, r.dir);
  }
}

describe("convert --threads 2 and 3 write the bytes --threads 1 writes", () => {
  it("finds the fixtures", () => {
    expect(fixtureTraces.length).toBeGreaterThanOrEqual(30);
    expect(fixtureTraces.map((f) => f.name)).toEqual(expect.arrayContaining(["reused-ids", "dp-rank-1", "priority-policy", "async-scheduling", "aborts", "e2e-vllm-cpu", "ab-isrtf-learned"]));
  });

  for (const f of fixtureTraces) {
    it(`fixture ${f.name}`, { timeout: 120_000 }, async () => {
      await expectSameAcrossThreads(f.name, f.files);
      expect(readdirSync(path.join(tmp, `${f.name}-t1`, "o"))).toContain("manifest.json");
      dropOutputs(f.name);
    });
  }

  // two DP ranks' traces and two more files: each converts on its own worker and the
  // tables hold input 0's rows, then input 1's, … (rows grouped by source, as today)
  // (one trace per dp_rank: the last two are relabelled ranks 2 and 3)
  const ranks = [
    path.join(FIXTURES, "kv-pressure-preempt", "vsched-1-dp0.jsonl"),
    path.join(FIXTURES, "dp-rank-1", "vsched-1-dp1.jsonl"),
    withRank(path.join(FIXTURES, "reused-ids-priority", "vsched-1-dp0.jsonl"), 2),
    withRank(path.join(FIXTURES, "hostile-ids", "vsched-1-dp0.jsonl.gz"), 3),
  ];
  const variants: [string, Extra][] = [
    ["defaults", {}],
    ["both formats", { format: "both" }],
    ["parquet partitioned", { format: "parquet", partitionBy: "dp_rank" }],
    ["spreadsheet-safe, version header", { spreadsheetSafe: true, versionHeader: true }],
    ["running only, every 3rd, no scheduled events", { iterationRequests: "running", iterationRequestsEvery: 3, scheduledEvents: false }],
    ["formula cells counted", { spreadsheetSafe: false }],
  ];
  for (const [label, extra] of variants) {
    it(`several ranks' files: ${label}`, { timeout: 120_000 }, async () => {
      const name = `ranks-${label.replace(/\W+/g, "-")}`;
      await expectSameAcrossThreads(name, ranks, extra);
      dropOutputs(name);
    });
  }

  it("the rows of several inputs are grouped by input, in input order", async () => {
    const r = await convert(ranks.slice(0, 2), "ranks-order", 3, { quiet: true });
    expect(r.code).toBe(0);
    const ranksColumn = readFileSync(path.join(r.dir, "per_iteration.csv"), "utf8").trim().split("\n");
    const col = ranksColumn[0].split(",").indexOf("dp_rank");
    const seq = ranksColumn.slice(1).map((l) => l.split(",")[col]);
    // dp0's iterations, then dp1's: one change of rank
    expect(seq[0]).toBe("0");
    expect(seq.at(-1)).toBe("1");
    expect(seq.filter((v, k) => k > 0 && v !== seq[k - 1]).length).toBe(1);
  });
});

describe("errors are the same on any number of threads", () => {
  const good = path.join(FIXTURES, "lora-slots", "vsched-1-dp0.jsonl");
  const lines = readFileSync(good, "utf8").split("\n");
  const broken = (name: string, at: number, rank: number) => {
    const f = path.join(tmp, name);
    const header = JSON.parse(lines[0]) as { dp_rank: number };
    header.dp_rank = rank;
    writeFileSync(f, [JSON.stringify(header), ...lines.slice(1, at), '{"type": "step", "step": "not a number"}', ...lines.slice(at)].join("\n"));
    return f;
  };
  // input 0 breaks late, input 1 early: the error is input 0's, as when they run one after another
  const late = broken("late.jsonl", lines.length - 5, 2);
  const early = broken("early.jsonl", 3, 1);

  it("a malformed line: one error naming file and line, nothing written", async () => {
    for (const inputs of [[late], [good, early], [late, early]]) {
      const one = await convert(inputs, "err-t1", 1);
      expect(String(one.code)).toMatch(/^InputError: .*"file":".*(late|early)\.jsonl","line":\d+/);
      for (const t of [2, 3]) {
        const r = await convert(inputs, `err-t${t}`, t);
        expect(r.code).toBe(one.code);
        expect(r.stderr).toBe(one.stderr);
        // nothing written: not even the directories convert created for its output
        expect(existsSync(path.dirname(r.dir))).toBe(false);
      }
    }
  });

  it("a worker that dies is an internal error (exit 3) naming the thread, not a hang, and leaves no tables", () => {
    for (const which of ["replay", "encode"]) {
      const out = path.join(tmp, `crash-${which}`);
      // 3 threads: a replay worker, the main thread and one encoder worker
      const r = spawnSync(process.execPath, [CLI, "convert", good, "-o", out, "--threads", "3"], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, VSCHED_TEST_WORKER_EXIT: which },
      });
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr.split("\n")[0]).toMatch(which === "replay" ? /^vsched: internal error: the thread converting .*lora-slots.* exited \(code 70\) before it finished$/ : /^vsched: internal error: a CSV encoder thread exited \(code 70\) before it finished$/);
      expect(existsSync(out), "the directory convert created is gone with the run").toBe(false);
    }
  });
});
