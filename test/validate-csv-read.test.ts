/** The streaming CSV reader (src/logs/csv-read.ts) that validate and summary share. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { coerceField, emptyCsvInfo, forEachCsvRow, readCsvBatches, type CsvRawRow } from "../src/logs/csv-read.js";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(text: string) {
  const p = path.join(tmp, `f${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(p, text);
  const info = emptyCsvInfo();
  const rows: CsvRawRow[] = [];
  for await (const b of readCsvBatches(p, info)) rows.push(...b);
  return { info, rows };
}

describe("readCsvBatches", () => {
  test("rows with their 1-based lines, counting quoted newlines and the version line", async () => {
    const { info, rows } = await readAll('# vsched 0.1.0 schema 1.0 table events\na,b\n1,"x\ny"\n2,"q,""r"""\n\n3,z\n');
    expect(info.versionLine).toBe("# vsched 0.1.0 schema 1.0 table events");
    expect(info.header).toEqual(["a", "b"]);
    expect(info.headerLine).toBe(2);
    expect(rows).toEqual([
      { line: 3, fields: ["1", "x\ny"] },
      { line: 5, fields: ["2", 'q,"r"'] },
      { line: 7, fields: ["3", "z"] },
    ]);
    expect(info.rows).toBe(3);
    expect(info.endsWithNewline).toBe(true);
  });

  test("CRLF line ends", async () => {
    const { info, rows } = await readAll("a,b\r\n1,2\r\n3,4\r\n");
    expect(info.header).toEqual(["a", "b"]);
    expect(rows).toEqual([
      { line: 2, fields: ["1", "2"] },
      { line: 3, fields: ["3", "4"] },
    ]);
  });

  test("a file without its final newline is reported as cut off", async () => {
    const { info, rows } = await readAll("a,b\n1,2\n3");
    expect(info.endsWithNewline).toBe(false);
    expect(rows.at(-1)).toEqual({ line: 3, fields: ["3"] });
  });

  test("an empty file has no header", async () => {
    const { info, rows } = await readAll("");
    expect(info.header).toEqual([]);
    expect(rows).toEqual([]);
  });

  test("large input across many stream chunks equals a one-shot parse (quotes and UTF-8 straddling chunks)", async () => {
    let s = 1;
    const r = () => ((s = (s * 48271) % 2147483647), s / 2147483647);
    const lines = ["id,text,n"];
    for (let i = 0; i < 15000; i++) {
      const text = r() < 0.3 ? `"multi\nline, ""quoted"" é ${i}"` : r() < 0.5 ? `plain-✓-${i}` : "";
      lines.push(`${i},${text},${Math.floor(r() * 1e6)}`);
    }
    const text = lines.join("\n") + "\n";
    expect(text.length).toBeGreaterThan(3 * 65536);
    const { rows } = await readAll(text);
    const want = Papa.parse<string[]>(text, { skipEmptyLines: true }).data.slice(1);
    expect(rows.map((x) => x.fields)).toEqual(want);
    // line numbers: recount from the text
    let line = 2;
    for (let i = 0; i < want.length; i++) {
      expect(rows[i].line).toBe(line);
      line += 1 + want[i].join(",").split("\n").length - 1;
    }
  });
});

describe("coercion by column kind", () => {
  test("empty is null; ints, floats, strings, epoch ns, json", () => {
    expect(coerceField("", "int")).toBeNull();
    expect(coerceField("", "string")).toBeNull();
    expect(coerceField("42", "int")).toBe(42);
    expect(coerceField("-7", "int")).toBe(-7);
    expect(coerceField("1.5", "int")).toBe(1.5); // the row schema rejects it
    expect(coerceField("abc", "int")).toBe("abc");
    expect(coerceField("0.250000", "float")).toBe(0.25);
    expect(coerceField("inf", "float")).toBe(Infinity);
    expect(coerceField("1760000000000000123", "epoch_ns")).toBe("1760000000000000123");
    expect(coerceField('{"a":1}', "json")).toBe('{"a":1}');
    expect(coerceField("007", "string")).toBe("007");
  });

  test("forEachCsvRow coerces by the table's columns", async () => {
    const p = path.join(tmp, "events.csv");
    writeFileSync(p, 'timestamp,event_type,request_id,details,timestamp_epoch_ns,iteration_id,dp_rank\n100,request_arrived,r1,"{""a"":1}",1760000000000000100,,0\n');
    const got: unknown[] = [];
    const info = await forEachCsvRow(p, "events", (row, line) => got.push([row, line]));
    expect(info.rows).toBe(1);
    expect(got).toEqual([
      [{ timestamp: 100, event_type: "request_arrived", request_id: "r1", details: '{"a":1}', timestamp_epoch_ns: "1760000000000000100", iteration_id: null, dp_rank: 0 }, 2],
    ]);
  });
});
