import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InternedDecoder } from "../src/parse/interned.js";
import { TraceRecordParser } from "../src/parse/records.js";
import type { RawRecord, WireRecord } from "../src/schema/raw.js";
import { arrival, header, jsonl, tmpDir } from "./helpers/trace.js";
import { inputError } from "./helpers/input-error.js";

const root = path.join(import.meta.dirname, "..");
const h13 = () => header({ schema_version: "1.3" });
const withH = (req: string, t: number, h: number) => ({ ...arrival(req, t), h });
const step = (n: number, t: number, sched: unknown, over: Record<string, unknown> = {}) => ({
  type: "step",
  step: n,
  t_start: t,
  t_end: t + 1,
  sched_t: null,
  sched,
  new: [],
  resumed: [],
  preempted: [],
  kv_fail: [],
  free_blocks: 60,
  running: 2,
  waiting: 0,
  budget_left: 10,
  ...over,
});
const update = (n: number, t: number, tokens: unknown, finished: unknown[] = []) => ({
  type: "update",
  step: n,
  t_start: t,
  t_end: t + 1,
  out_t: null,
  tokens,
  finished,
  free_blocks: 60,
  running: 2,
  waiting: 0,
});

function parse(text: string, lenient = false) {
  const got: RawRecord[] = [];
  const p = new TraceRecordParser("t.jsonl", { lenient }, (r) => got.push(r));
  text.split("\n").forEach((l, i) => l && p.line(l, i + 1));
  p.end(null, text.split("\n").length);
  return got;
}

describe("schema 1.3 handles", () => {
  it("resolves handles to the ids their arrivals bound and drops `h`", () => {
    const got = parse(jsonl(h13(), withH("cmpl-a", 1, 0), withH("cmpl-b", 2, 1), step(0, 3, [[0, 4, 0], [1, 4, 0]], { new: [[0, 0], [1, 0]], stop: { cause: "empty", req: null }, blocks: [[1, 1]] })));
    expect(got[0]).toEqual(arrival("cmpl-a", 1));
    expect(got[2]).toMatchObject({ sched: [["cmpl-a", 4, 0], ["cmpl-b", 4, 0]], new: [["cmpl-a", 0], ["cmpl-b", 0]], blocks: [["cmpl-b", 1]] });
  });

  it("an unbound handle is one error naming file, line and field (RAW_UNKNOWN_HANDLE)", () => {
    const e = inputError(() => parse(jsonl(h13(), withH("a", 1, 0), step(0, 3, [[0, 4, 0], [7, 4, 0]]))));
    expect([e.code, e.file, e.line]).toEqual(["RAW_UNKNOWN_HANDLE", "t.jsonl", 3]);
    expect(e.message).toContain("sched.1.0");
    expect(e.message).toContain("handle 7");
  });

  it("the finishing record frees its handle; a later arrival may bind it again (ids reused)", () => {
    const text = jsonl(
      h13(),
      withH("a", 1, 0),
      step(0, 2, [[0, 8, 0]]),
      update(0, 3, [[0, 1]], [[0, "stop", 1]]),
      withH("a", 4, 0),
      { type: "finish", t: 5, req: 0, reason: "abort", output_tokens: 0, from: "waiting" },
      { type: "score", t: 6, req: 0, score: null, predicted_remaining: null },
    );
    const e = inputError(() => parse(text));
    expect([e.code, e.line]).toEqual(["RAW_UNKNOWN_HANDLE", 7]);
    const got = parse(text.split("\n").slice(0, 6).join("\n") + "\n");
    expect(got.map((r) => ("req" in r ? r.req : null))).toEqual(["a", null, null, "a", "a"]);
    expect((got[2] as { finished: unknown }).finished).toEqual([["a", "stop", 1]]);
  });

  it("an id written as itself stays as it is (a request with no live handle)", () => {
    const got = parse(jsonl(h13(), withH("a", 1, 0), { type: "finish", t: 2, req: "never-seen", reason: "abort", output_tokens: 0, from: "waiting" }));
    expect((got[1] as { req: string }).req).toBe("never-seen");
  });

  it("before 1.3 a number where an id belongs is an invalid record, as it always was", () => {
    const e = inputError(() => parse(jsonl(header({ schema_version: "1.1" }), arrival("a", 1), step(0, 3, [[0, 4, 0]]))));
    expect([e.code, e.line]).toEqual(["RAW_INVALID_RECORD", 3]);
  });
});

describe("schema 1.3 delta lists", () => {
  const base = () => [h13(), withH("a", 1, 0), withH("b", 2, 1), withH("c", 3, 2), step(0, 4, [[0, 8, 0], [1, 8, 0]])];

  it("drop, add and fix apply to the previous list; kept entries advance computed by their count", () => {
    const got = parse(jsonl(...base(), step(1, 6, { n: 2, drop: [0], add: [[1, 2, 5, 0]] }), step(2, 8, { n: 2, fix: [[0, 1, 17]] })));
    expect(got.slice(-2).map((r) => (r as { sched: unknown }).sched)).toEqual([
      [["b", 8, 8], ["c", 5, 0]],
      [["b", 1, 17], ["c", 5, 5]],
    ]);
  });

  it("a token delta keeps counts (no computed)", () => {
    const got = parse(jsonl(...base(), update(0, 5, [[0, 1], [1, 1]]), update(1, 7, { n: 3, add: [[0, 2, 2]], fix: [[2, 3]] })));
    expect((got.at(-1) as { tokens: unknown }).tokens).toEqual([["c", 2], ["a", 1], ["b", 3]]);
  });

  it("a delta with nothing to apply to, or that does not fit, is RAW_BAD_DELTA", () => {
    let e = inputError(() => parse(jsonl(h13(), withH("a", 1, 0), step(0, 4, { n: 0, drop: [] }))));
    expect([e.code, e.line]).toEqual(["RAW_BAD_DELTA", 3]);
    e = inputError(() => parse(jsonl(...base(), step(1, 6, { n: 5 }))));
    expect([e.code, e.line]).toEqual(["RAW_BAD_DELTA", 6]);
    expect(e.message).toContain("sched.n");
    e = inputError(() => parse(jsonl(...base(), step(1, 6, { n: 1, drop: [3] }))));
    expect(e.message).toContain("sched.drop.0");
  });

  it("--lenient: after a skipped line no delta applies until the next full list", () => {
    const got = parse(jsonl(...base(), "{not json", step(1, 6, { n: 2 }), step(2, 8, [[1, 1, 9]]), step(3, 9, { n: 1 })), true);
    expect(got.filter((r) => r.type === "step").map((r) => (r as { sched: unknown }).sched)).toEqual([
      [["a", 8, 0], ["b", 8, 0]],
      [["b", 1, 9]],
      [["b", 1, 10]],
    ]);
  });
});

describe("the reader's id table", () => {
  it("holds the live requests only (a generated trace: ~130 live, hundreds finished)", () => {
    const dir = tmpDir();
    const file = path.join(dir, "t.jsonl");
    const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), "--steps", "400", "--running", "32", "--waiting", "100", "--format", "interned", "--out", file], { encoding: "utf8" });
    expect(g.status).toBe(0);
    const dec = new InternedDecoder();
    let arrivals = 0;
    let finished = 0;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      if (!line) continue;
      const rec = JSON.parse(line) as WireRecord;
      expect(dec.decode(rec)).toBeNull();
      if (rec.type === "arrival") arrivals++;
      if (rec.type === "finish") finished++;
      if (rec.type === "update") finished += rec.finished.length;
    }
    expect(finished).toBeGreaterThan(100);
    expect(dec.liveHandles).toBe(arrivals - finished);
  });
});

describe("one logical trace, two formats", () => {
  it("bench/gen-trace.mjs plain and interned convert to byte-identical tables", () => {
    const dir = tmpDir();
    const cli = path.join(root, "bin", "vsched.js");
    for (const format of ["plain", "interned"]) {
      const trace = path.join(dir, `${format}.jsonl`);
      const gen = ["--steps", "150", "--running", "32", "--waiting", "100", "--format", format, "--out", trace];
      expect(spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), ...gen]).status).toBe(0);
      expect(spawnSync(process.execPath, [cli, "convert", trace, "-o", path.join(dir, format)]).status).toBe(0);
    }
    const tables = readdirSync(path.join(dir, "plain")).filter((f) => f.endsWith(".csv"));
    expect(tables.length).toBe(6);
    for (const t of tables) expect(readFileSync(path.join(dir, "interned", t)).equals(readFileSync(path.join(dir, "plain", t))), t).toBe(true);
    // the step and update records, where the ids repeat, are several times smaller
    const stepBytes = (f: string) =>
      readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l.startsWith('{"type":"step"') || l.startsWith('{"type":"update"'))
        .reduce((a, l) => a + l.length, 0);
    expect(stepBytes("interned.jsonl") * 4).toBeLessThan(stepBytes("plain.jsonl"));
  });
});
