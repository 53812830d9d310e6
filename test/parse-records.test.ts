import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { resolveInputs } from "../src/parse/inputs.js";
import { LineSplitter } from "../src/parse/lines.js";
import { readTraceFile, readTraceHeader } from "../src/parse/node.js";
import { TraceRecordParser } from "../src/parse/records.js";
import { arrival, header, jsonl, tmpDir } from "./helpers/trace.js";
import { inputError } from "./helpers/input-error.js";

/** Runs the push-style core over `text` in chunks of `chunk` bytes. */
function parse(text: string, { lenient = false, chunk = 7 } = {}) {
  const got: [string, number][] = [];
  const p = new TraceRecordParser("t.jsonl", { lenient }, (r, line) => got.push([r.type, line]));
  const s = new LineSplitter();
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += chunk) s.push(b.subarray(i, i + chunk), p.line);
  const stats = p.end(s.end(), s.lines);
  return { got, stats, warnings: p.warnings, header: p.header };
}

describe("TraceRecordParser", () => {
  it("delivers records after the header with their line numbers and counts them by type", () => {
    const r = parse(jsonl(header(), arrival("a", 1), "", arrival("b", 2), { type: "end", t: 3, steps: 0, records: 4, dropped: 0 }));
    expect(r.header?.pid).toBe(100);
    expect(r.got).toEqual([
      ["arrival", 2],
      ["arrival", 4],
      ["end", 5],
    ]);
    expect(r.stats.records).toMatchObject({ header: 1, arrival: 2, end: 1, step: 0 });
    expect(r.warnings).toEqual([]);
  });

  it("keeps epoch ns as strings (never through a JS number)", () => {
    const r = parse(jsonl(header({ clock: { epoch_ns: "1760000000123456789", monotonic_ns: "1" } })));
    expect(BigInt(r.header!.clock.epoch_ns)).toBe(1760000000123456789n);
  });

  it("drops a truncated last line with a RAW_TRUNCATED_TAIL warning, not an error", () => {
    const text = jsonl(header(), arrival("a", 1)) + '{"type":"arrival","t":2,"re';
    const r = parse(text);
    expect(r.got).toEqual([["arrival", 2]]);
    expect(r.stats.truncatedTail).toBe(3);
    expect(r.warnings.map((w) => [w.code, w.file, w.line])).toEqual([["RAW_TRUNCATED_TAIL", "t.jsonl", 3]]);
  });

  it("accepts a complete last record without its newline", () => {
    const r = parse(jsonl(header()) + JSON.stringify(arrival("a", 1)));
    expect(r.got).toEqual([["arrival", 2]]);
    expect(r.warnings).toEqual([]);
  });

  it("names file and line of a malformed line, with a stable message", () => {
    const e = inputError(() => parse(jsonl(header(), arrival("a", 1), '{"type":"arrival",,}', arrival("b", 2))));
    expect([e.code, e.file, e.line]).toEqual(["RAW_MALFORMED_LINE", "t.jsonl", 3]);
    expect(e.message).toBe("malformed line: not valid JSON (at column 19); use --lenient to skip such lines");
  });

  it("rejects JSON that is not a record (no string type)", () => {
    const e = inputError(() => parse(jsonl(header(), "[1,2]")));
    expect([e.code, e.line]).toEqual(["RAW_NOT_A_RECORD", 2]);
  });

  it("--lenient skips and counts malformed lines", () => {
    const r = parse(jsonl(header(), "garbage", arrival("a", 1), "{", '"str"', arrival("b", 2)), { lenient: true });
    expect(r.got.map((g) => g[1])).toEqual([3, 6]);
    expect(r.stats.skippedLines).toBe(3);
    expect(r.stats.skippedLineNumbers).toEqual([2, 4, 5]);
    expect(r.warnings.map((w) => [w.code, w.line, w.args.count])).toEqual([["RAW_SKIPPED_LINES", 2, 3]]);
  });

  it("skips unknown record types, counting them per type, and warns once", () => {
    const r = parse(jsonl(header({ schema_version: "1.4" }), { type: "zeta" }, arrival("a", 1), { type: "alpha" }, { type: "zeta" }));
    expect(r.got).toEqual([["arrival", 3]]);
    expect(r.stats.unknownTypes).toEqual({ alpha: 1, zeta: 2 });
    expect(Object.keys(r.stats.unknownTypes)).toEqual(["alpha", "zeta"]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatchObject({ code: "RAW_UNKNOWN_TYPE", args: { count: 3, types: "'alpha' ×1, 'zeta' ×2", schema_version: "1.4" } });
  });

  it("refuses a different schema major, naming both versions", () => {
    const e = inputError(() => parse(jsonl(header({ schema_version: "2.1", renamed: true }))));
    expect([e.code, e.line]).toEqual(["RAW_UNSUPPORTED_SCHEMA", 1]);
    expect(e.message).toContain("2.1");
    expect(e.message).toContain("1.x");
  });

  it("requires a header first", () => {
    const e = inputError(() => parse(jsonl(arrival("a", 1))));
    expect([e.code, e.file, e.line]).toEqual(["RAW_MISSING_HEADER", "t.jsonl", 1]);
    expect(inputError(() => parse("")).code).toBe("RAW_MISSING_HEADER");
    expect(inputError(() => parse("\n\n")).code).toBe("RAW_MISSING_HEADER");
  });

  it("validates the header fully", () => {
    const e = inputError(() => parse(jsonl(header({ clock: { epoch_ns: 17, monotonic_ns: "1" } }))));
    expect(e.code).toBe("RAW_BAD_HEADER");
    expect(e.message).toContain("clock.epoch_ns");
  });

  it("refuses a second header unless --lenient", () => {
    expect(inputError(() => parse(jsonl(header(), header()))).code).toBe("RAW_DUPLICATE_HEADER");
    expect(parse(jsonl(header(), header()), { lenient: true }).stats.skippedLines).toBe(1);
  });
});

describe("readTraceFile (Node adapter)", () => {
  const text = jsonl(header(), arrival("a", 1), arrival("b", 2)) + '{"type":"arr';

  it("reads plain and gzip files alike, detecting gzip by its magic bytes, and hashes the bytes on disk", async () => {
    const dir = tmpDir();
    const plain = path.join(dir, "a.jsonl");
    const gz = path.join(dir, "a.log"); // gzip without a .gz name
    writeFileSync(plain, text);
    const gzBytes = gzipSync(text);
    writeFileSync(gz, gzBytes);
    for (const [file, bytes, isGz] of [
      [plain, Buffer.from(text), false],
      [gz, gzBytes, true],
    ] as const) {
      const got: number[] = [];
      const r = await readTraceFile({ path: file, display: "x", relative: "x", size: bytes.length }, { lenient: false }, (_r, line) => got.push(line));
      expect(got).toEqual([2, 3]);
      expect(r.gzip).toBe(isGz);
      expect(r.bytes).toBe(bytes.length);
      expect(r.sha256).toBe((await import("node:crypto")).createHash("sha256").update(bytes).digest("hex"));
      expect(r.truncatedTail).toBe(4);
    }
  });

  it("treats a gzip cut off mid-stream like a truncated tail", async () => {
    const dir = tmpDir();
    const many = jsonl(header(), ...Array.from({ length: 2000 }, (_, i) => arrival(`r${i}`, i)));
    const gz = gzipSync(many);
    const file = path.join(dir, "cut.jsonl.gz");
    writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.6)));
    let n = 0;
    const r = await readTraceFile({ path: file, display: "cut.jsonl.gz", relative: "cut.jsonl.gz", size: 0 }, { lenient: false }, () => n++);
    expect(n).toBeGreaterThan(100);
    expect(r.warnings.map((w) => w.code)).toEqual(["RAW_TRUNCATED_TAIL"]);
  });

  it("reports corrupt gzip data as RAW_BAD_GZIP", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "bad.jsonl.gz");
    const gz = gzipSync(text);
    gz.fill(0x41, 12, 30);
    writeFileSync(file, gz);
    await expect(readTraceFile({ path: file, display: "bad.jsonl.gz", relative: "", size: 0 }, { lenient: false }, () => {})).rejects.toMatchObject({
      code: "RAW_BAD_GZIP",
      file: "bad.jsonl.gz",
    });
  });

  it("waits for the consumer between chunks (backpressure)", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "big.jsonl");
    writeFileSync(file, jsonl(header(), ...Array.from({ length: 40000 }, (_, i) => arrival(`req-${i}`, i))));
    let records = 0;
    let pausedAt: number[] = [];
    await readTraceFile({ path: file, display: "big", relative: "big", size: 0 }, { lenient: false }, () => records++, {
      afterChunk: async () => {
        pausedAt.push(records);
        await new Promise((r) => setTimeout(r, 5));
        expect(records).toBe(pausedAt[pausedAt.length - 1]); // nothing was read while we waited
      },
    });
    expect(records).toBe(40000);
    expect(pausedAt.length).toBeGreaterThan(1);
    pausedAt = [];
  });

  it("readTraceHeader reads only the first record", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "h.jsonl");
    writeFileSync(file, jsonl(header({ pid: 7 })) + "not json at all\n");
    expect((await readTraceHeader({ path: file, display: "h", relative: "h", size: 0 })).pid).toBe(7);
  });

  it("maps a missing file to RAW_NOT_FOUND", async () => {
    await expect(readTraceHeader({ path: "/nonexistent/x.jsonl", display: "x.jsonl", relative: "x.jsonl", size: 0 })).rejects.toMatchObject({
      code: "RAW_NOT_FOUND",
      exitCode: 2,
    });
  });
});

describe("resolveInputs", () => {
  it("expands a directory to its *.jsonl and *.jsonl.gz files, sorted, and keeps files as given", async () => {
    const dir = tmpDir();
    mkdirSync(path.join(dir, "run"));
    for (const n of ["rank1.jsonl.gz", "rank0.jsonl", "notes.txt", "rank10.jsonl"]) writeFileSync(path.join(dir, "run", n), "");
    writeFileSync(path.join(dir, "other.log"), "");
    const got = await resolveInputs(["run", "other.log", "run/rank0.jsonl"], dir);
    expect(got.map((i) => [i.display, i.relative])).toEqual([
      ["run/rank0.jsonl", "run/rank0.jsonl"],
      ["run/rank1.jsonl.gz", "run/rank1.jsonl.gz"],
      ["run/rank10.jsonl", "run/rank10.jsonl"],
      ["other.log", "other.log"],
    ]);
  });

  it("fails on a missing input and on a directory without traces", async () => {
    const dir = tmpDir();
    await expect(resolveInputs(["nope.jsonl"], dir)).rejects.toMatchObject({ code: "RAW_NOT_FOUND", file: "nope.jsonl" });
    await expect(resolveInputs(["."], dir)).rejects.toMatchObject({ code: "RAW_NO_TRACES" });
  });
});

describe("test data", () => {
  it("test/data/convert/small.jsonl is a valid raw trace (every record passes the zod schema)", async () => {
    const { RawRecord } = await import("../src/schema/raw.js");
    const { readFileSync } = await import("node:fs");
    const lines = readFileSync(path.join(__dirname, "data", "convert", "small.jsonl"), "utf8").trim().split("\n");
    for (const [i, l] of lines.entries()) expect(RawRecord.safeParse(JSON.parse(l)).success, `line ${i + 1}`).toBe(true);
  });
});
