import { describe, expect, it } from "vitest";
import { compileRowEncoder, ENCODER_HEADROOM, RowOverflow, type CellGuard } from "../src/logs/csv-format.js";
import { TABLE_NAMES, type TableName } from "../src/schema/tables.js";
import { CsvBatchEncoder } from "../src/threads/csv-batch.js";
import { Dictionaries, decodeRows, layout, RowBatchBuilder, type RowBatch } from "../src/threads/row-batch.js";
import { rng } from "./helpers/rng.js";

/**
 * convert --threads hands rows over as columnar batches (src/threads/row-batch.ts) and encodes
 * CSV from the lanes (src/threads/csv-batch.ts), with repeated strings sent once per encoder
 * slot. Whatever the rows hold, the bytes and the formula count must be what the row encoder
 * (compileRowEncoder, the --threads 1 path) writes for the same rows, and decodeRows must give
 * back the same values: here over random rows of every table, with the odd values a trace can
 * lead to (null, undefined, bigint epochs, strings in numeric columns, values outside an enum, quotes,
 * commas, newlines, formula-like and quote-led text, non-Latin-1 text and lone surrogates,
 * strings long enough to overflow a buffer), several slots and small dictionaries that reset.
 */

function values(r: () => number, pool: string[]) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const text = () =>
    pick([
      "plain",
      "a,b",
      'say "hi"',
      "two\nlines",
      "cr\rhere",
      "=1+1",
      "+x",
      "-3",
      "@a",
      "\tt",
      "'quoted",
      "",
      "é",
      "日本語",
      "\ud800lone",
      "x".repeat(5000),
      "y,".repeat(3000),
      '{"k":"v","n":[1,2]}',
      '{"s":"a,b"}',
      "ascii_id_0123456789",
    ]);
  return {
    num: (): unknown =>
      pick([() => Math.floor(r() * 10), () => Math.floor(r() * 1e6), () => 2 ** 33 + Math.floor(r() * 1e9), () => -Math.floor(r() * 100), () => r() * 1000, () => 2 ** 60, () => -0, () => NaN, () => Infinity, () => null, () => undefined, () => "17"])(),
    str: (options: readonly string[] | null): unknown => {
      const k = r();
      if (options && k < 0.5) return pick(options);
      if (k < 0.75) return pick(pool);
      if (k < 0.8) return null;
      if (k < 0.83) return undefined;
      return text();
    },
    epoch: (): unknown => pick([() => String(1_700_000_000_000_000_000n + BigInt(Math.floor(r() * 1e12))), () => null, () => 1_700_000_000_000_000_000n, () => "-12", () => "x".repeat(40), () => "١٢٣"])(),
    json: (): unknown => (r() < 0.1 ? null : r() < 0.2 ? text() : `{"a":${Math.floor(r() * 100)},"b":"c${r() < 0.3 ? "," : ""}"}`),
  };
}

function randomRows(table: TableName, n: number, seed: number): Record<string, unknown>[] {
  const r = rng(seed);
  const pool = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? `=id-${i}` : i % 11 === 0 ? `ïd-${i}` : `cmpl-${(i * 2654435761) % 1e9}-0`));
  const v = values(r, pool);
  const lay = layout(table);
  return Array.from({ length: n }, () => {
    const row: Record<string, unknown> = {};
    lay.cols.forEach((c, k) => {
      const l = lay.lane[k];
      row[c] = l.numeric ? v.num() : l.kind === "epoch_ns" ? v.epoch() : l.kind === "json" ? v.json() : v.str(l.options);
    });
    return row;
  });
}

/** the --threads 1 encoder: compileRowEncoder row by row, growing the buffer as CsvTableWriter does */
function rowBytes(table: TableName, rows: Record<string, unknown>[], guard: CellGuard): Buffer {
  const enc = compileRowEncoder(table, guard) as (r: unknown, b: Buffer, o: number) => number;
  const parts: Buffer[] = [];
  for (const row of rows) {
    for (let size = 256; ; size *= 4) {
      const b = Buffer.alloc(size + ENCODER_HEADROOM);
      const count = guard.formulaCells;
      try {
        parts.push(b.subarray(0, enc(row, b, 0)));
        break;
      } catch (e) {
        if (!(e instanceof RowOverflow)) throw e;
        guard.formulaCells = count;
      }
    }
  }
  return Buffer.concat(parts);
}

/** batches as the replay worker sends them: a structured clone with the buffers transferred, as postMessage does */
function batchesOf(table: TableName, rows: Record<string, unknown>[], capacity: number, slots: number, dictMax: number): RowBatch[] {
  const b = new RowBatchBuilder(table, capacity, slots, dictMax);
  const out: RowBatch[] = [];
  const send = () => {
    if (b.rows === 0) return;
    const batch = b.take();
    out.push(structuredClone(batch, { transfer: [batch.tags.buffer, batch.num.buffer, batch.str.buffer, batch.heap.buffer, batch.starts.buffer, batch.wide.buffer, batch.dictNew.buffer] as ArrayBuffer[] }));
  };
  for (const row of rows) {
    b.push(row);
    if (b.full) send();
  }
  send();
  return out;
}

/**
 * per_iteration_requests as a replay writes it: the same requests step after step, in the same
 * order, a few finishing and arriving each step, runs of equal binding_limits (the fill's
 * last-string shortcut), dictionaries that fill up and start afresh mid-run.
 */
function stepRows(seed: number, steps: number): Record<string, unknown>[] {
  const r = rng(seed);
  const base = randomRows("per_iteration_requests", 1, seed)[0];
  let live = Array.from({ length: 60 }, (_, i) => `cmpl-${i}-0`);
  let next = 60;
  const rows: Record<string, unknown>[] = [];
  for (let step = 0; step < steps; step++) {
    live = live.filter(() => r() > 0.05);
    if (r() < 0.3) live.splice(Math.floor(r() * live.length), 0, `cmpl-${next++}-0`);
    while (live.length < 60) live.push(r() < 0.1 ? "=formula-" + next++ : `cmpl-${next++}-0`);
    if (r() < 0.1) live.reverse();
    let label = "max_num_seqs";
    live.forEach((id, pos) => {
      if (r() < 0.1) label = ["max_num_seqs", "kv_blocks|token_budget", "none", "unresolved", 'a,"b"'][Math.floor(r() * 5)];
      rows.push({ ...base, iteration_id: step, request_id: r() < 0.02 ? id.slice(0) + "" : id, queue_position: pos, binding_limits: pos % 7 === 0 ? null : label });
    });
  }
  return rows;
}

describe("row batches", () => {
  for (const [slots, dictMax] of [
    [1, 1 << 16],
    [2, 50],
    [3, 7],
  ] as const) {
    it(`per_iteration_requests step after step, ${slots} slot(s), dictionaries of ${dictMax}: the same CSV bytes and values`, () => {
      const rows = stepRows(slots * 100 + dictMax, 400);
      const ref: CellGuard = { spreadsheetSafe: true, formulaCells: 0 };
      const want = rowBytes("per_iteration_requests", rows, ref);
      const encoders = Array.from({ length: slots }, () => new CsvBatchEncoder({ spreadsheetSafe: true, formulaCells: 0 }));
      const dicts = new Dictionaries();
      const got: Buffer[] = [];
      const decoded: Record<string, unknown>[] = [];
      for (const batch of batchesOf("per_iteration_requests", rows, 173, slots, dictMax)) {
        decodeRows(batch, dicts.absorb(0, batch).strings, (row: Record<string, unknown>) => decoded.push(row));
        got.push(Buffer.from(encoders[batch.slot].encode(batch, 0)));
      }
      expect(Buffer.concat(got).equals(want)).toBe(true);
      expect(encoders.reduce((a, e) => a + e.guard.formulaCells, 0)).toBe(ref.formulaCells);
      expect(decoded.map((d) => [d.request_id, d.binding_limits])).toEqual(rows.map((d) => [d.request_id, d.binding_limits]));
    });
  }

  for (const table of TABLE_NAMES) {
    for (const [capacity, slots, dictMax] of [
      [64, 1, 1 << 16],
      [37, 3, 8],
      [500, 2, 5],
    ] as const) {
      it(`${table}: batches of ${capacity}, ${slots} slot(s), dictionaries of ${dictMax}: the same CSV bytes, formula count and values`, () => {
        const rows = randomRows(table, 1500, capacity * 31 + slots * 7 + dictMax);
        for (const spreadsheetSafe of [false, true]) {
          const ref: CellGuard = { spreadsheetSafe, formulaCells: 0 };
          const want = rowBytes(table, rows, ref);
          const encoders = Array.from({ length: slots }, () => new CsvBatchEncoder({ spreadsheetSafe, formulaCells: 0 }));
          const dicts = new Dictionaries();
          const got: Buffer[] = [];
          const decoded: Record<string, unknown>[] = [];
          for (const batch of batchesOf(table, rows, capacity, slots, dictMax)) {
            // the rows sink decodes every batch, then the slot's encoder takes it
            decodeRows(batch, dicts.absorb(0, batch).strings, (row: Record<string, unknown>) => decoded.push(row));
            got.push(Buffer.from(encoders[batch.slot].encode(batch, 0)));
          }
          const bytes = Buffer.concat(got);
          expect(bytes.equals(want), `${table} spreadsheetSafe=${spreadsheetSafe}: first difference at byte ${[...want].findIndex((x, i) => bytes[i] !== x)}`).toBe(true);
          expect(encoders.reduce((a, e) => a + e.guard.formulaCells, 0)).toBe(ref.formulaCells);
          expect(decoded.length).toBe(rows.length);
          for (let i = 0; i < rows.length; i++) for (const c of layout(table).cols) expect(Object.is(decoded[i][c], rows[i][c]) || decoded[i][c] === rows[i][c], `${table} row ${i} ${c}`).toBe(true);
        }
      });
    }
  }
});
