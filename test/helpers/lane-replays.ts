import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path, { join } from "node:path";
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import type { CellGuard } from "../../src/logs/csv-format.js";
import type { RawRecord } from "../../src/schema/raw.js";
import type { TableName } from "../../src/schema/tables.js";
import { CsvTableWriter } from "../../src/sinks/csv-writer.js";
import { FIXTURES, readTrace, traceFiles } from "./fixtures.js";

/** What a lanes-against-objects replay gives: both sides' rows and CSV bytes, formula counts, the lane batches made. */
export interface BothSides {
  objects: Record<string, unknown>[];
  lanes: Record<string, unknown>[];
  objectCsv: Buffer;
  laneCsv: Buffer;
  formulas: [number, number];
  batches: number;
}

/** A CsvTableWriter of one table into memory (a small buffer: many flushes); bytes() once closed. */
export function memoryWriter(table: TableName, spreadsheetSafe: boolean) {
  const parts: Buffer[] = [];
  const out = new Writable({ write: (c, _e, cb) => (parts.push(Buffer.from(c)), cb()) });
  const guard: CellGuard = { spreadsheetSafe, formulaCells: 0 };
  const w = new CsvTableWriter(table, out, { guard, bufferBytes: 1 << 10 });
  return { w, guard, bytes: async () => (await w.close(), Buffer.concat(parts)) };
}

const sameRow = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => Object.keys(b).every((k) => Object.is(a[k], b[k])) && Object.keys(a).length === Object.keys(b).length;

/** Every row value identical (Object.is), the CSV bytes identical, the formula counts equal. */
export function expectSame(s: Omit<BothSides, "batches">): void {
  expect(s.lanes.length).toBe(s.objects.length);
  for (let i = 0; i < s.objects.length; i++) if (!sameRow(s.lanes[i], s.objects[i])) expect(s.lanes[i], `row ${i}`).toStrictEqual(s.objects[i]);
  expect(s.laneCsv.equals(s.objectCsv)).toBe(true);
  expect(s.formulas[1]).toBe(s.formulas[0]);
}

const root = path.resolve(import.meta.dirname, "..", "..");

/** A trace from bench/gen-trace.mjs, written under `tmp` and read back. */
export function generatedTrace(tmp: string, name: string, args: readonly string[]): RawRecord[] {
  const file = path.join(tmp, `${name}.jsonl`);
  const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), ...args, "--out", file], { encoding: "utf8" });
  expect(g.status, g.stderr).toBe(0);
  return readTrace(file);
}

/**
 * The whole-replay cases both lane tests share (call inside a describe): two generated traces,
 * with batches small enough that ids are released and reused across batch ends and with the
 * default, and every recorded fixture.
 */
export function wholeReplayCases(tmp: string, replayBoth: (records: RawRecord[], laneRows: number, spreadsheetSafe?: boolean) => Promise<BothSides>): void {
  for (const [name, args] of [
    ["bench-shape", ["--steps", "60", "--seed", "11"]],
    ["small", ["--steps", "800", "--running", "6", "--waiting", "20", "--seed", "12"]],
  ] as const) {
    it(`generated trace ${name}: every row and byte identical, batches of 7 and the default`, async () => {
      const records = generatedTrace(tmp, name, args);
      const small = await replayBoth(records, 7);
      expect(small.objects.length).toBeGreaterThan(1000);
      expect(small.batches).toBeGreaterThan(100);
      expectSame(small);
      expectSame(await replayBoth(records, 8192, false));
    });
  }

  const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, "recipe.json"))).sort() : [];
  it("covers the recorded fixtures", () => expect(fixtures.length).toBeGreaterThan(10));
  for (const name of fixtures) {
    const files = traceFiles(name).filter((f) => /vsched-[^/]*\.jsonl(\.gz)?$/.test(f));
    if (files.length === 0) continue;
    it(`fixture ${name}: every row and byte identical`, async () => {
      for (const file of files) expectSame(await replayBoth(readTrace(file), 5));
    });
  }
}
