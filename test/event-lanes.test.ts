import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { epochFormatter } from "../src/engine/epoch.js";
import { EventLanes } from "../src/engine/event-lanes.js";
import { DETAIL_PAIRS, EventObjects, type EventRows } from "../src/engine/event-rows.js";
import { createEngine } from "../src/engine/index.js";
import type { RequestState } from "../src/engine/request-state.js";
import { DEFAULT_ENGINE_OPTIONS, type RowSink } from "../src/engine/types.js";
import type { CellGuard } from "../src/logs/csv-format.js";
import { layout, NULL, PAIR, pairText, TEXT, UNDEFINED, type TableLanes } from "../src/schema/lanes.js";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { EventType } from "../src/schema/tables.js";
import { CsvTableWriter } from "../src/sinks/csv-writer.js";
import { CsvBatchEncoder } from "../src/threads/csv-batch.js";
import { LaneBatcher } from "../src/threads/lane-batch.js";
import { batchBuffers, decodeRows, Dictionaries, lanesOf, type RowBatch } from "../src/threads/row-batch.js";
import { expectSame, generatedTrace, memoryWriter, wholeReplayCases, type BothSides } from "./helpers/lane-replays.js";
import { rng } from "./helpers/rng.js";

/**
 * The engine writes events into lanes itself where the sink takes them (convert's CSV:
 * src/engine/event-lanes.ts, EventLanes), and builds row objects everywhere else (EventObjects:
 * Parquet, the collectors). Both must give the same rows: decoded from the lanes, every value
 * identical to the object's, and the CSV writer's bytes and formula count from lanes (writeLanes)
 * identical to those from the objects (write). Over whole replays (every fixture, generated traces)
 * with batches small enough that request ids are released and reused across batch ends, over random
 * events with the odd values (client-chosen request ids, details and epoch text with separators,
 * quotes, newlines, non-Latin-1 and lone surrogates; numbers the engine only passes through), and
 * through convert --threads' LaneBatcher.
 */

const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-event-lanes-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An events lanes batch as row objects, cell by cell from the layout (no code shared with the encoders). */
function decodeLanes(l: TableLanes): Record<string, unknown>[] {
  const lay = layout(l.table);
  const out: Record<string, unknown>[] = [];
  for (let r = 0; r < l.rows; r++) {
    const row: Record<string, unknown> = {};
    lay.cols.forEach((c, k) => {
      const lane = lay.lane[k];
      const tag = l.tags[r * lay.cols.length + k];
      const id = lane.numeric ? -1 : l.str[r * lay.nStr + lane.index];
      if (tag === NULL) row[c] = null;
      else if (tag === UNDEFINED) row[c] = undefined;
      else if (tag === TEXT) row[c] = l.texts[id];
      else if (tag === PAIR) row[c] = pairText(l.pairKeys![id], l.pairs![2 * r], l.pairs![2 * r + 1]);
      else if (tag !== 0) throw new Error(`tag ${tag} in the engine's lanes`);
      else if (lane.numeric) row[c] = l.num[r * lay.nNum + lane.index];
      else row[c] = id < 0 ? lane.options![-1 - id] : l.strings[id];
      if (row[c] === undefined && tag !== UNDEFINED) throw new Error(`cell ${c} of row ${r}: no value (id ${id})`);
    });
    out.push(row);
  }
  return out;
}

const nop = () => {};
const base = { perRequest: nop, perIteration: nop, perIterationRequest: nop, stateTransition: nop, prediction: nop, finding: nop };
const noObjects = () => {
  throw new Error("a sink with event lanes gets no event objects");
};

function replay(records: RawRecord[], sink: RowSink, opts: object = {}): void {
  const [header, ...rest] = records;
  const engine = createEngine(header as HeaderRecord, sink, { ...DEFAULT_ENGINE_OPTIONS, ...opts });
  rest.forEach((rec, i) => engine.push(rec, i + 2));
  engine.end();
}

/** One replay with event objects, one with lanes of `laneRows` rows; the rows and the CSV of both. */
async function replayBoth(records: RawRecord[], laneRows: number, spreadsheetSafe = true): Promise<BothSides> {
  const a = memoryWriter("events", spreadsheetSafe);
  const b = memoryWriter("events", spreadsheetSafe);
  const objects: Record<string, unknown>[] = [];
  const lanes: Record<string, unknown>[] = [];
  let batches = 0;
  replay(records, { ...base, event: (row) => (objects.push({ ...row }), a.w.write(row)) });
  const eventLanes = (l: TableLanes) => {
    batches++;
    expect(l.rows).toBeLessThanOrEqual(laneRows);
    lanes.push(...decodeLanes(l));
    b.w.writeLanes(l);
  };
  replay(records, { ...base, event: noObjects, eventLanes }, { eventLaneRows: laneRows });
  return { objects, lanes, objectCsv: await a.bytes(), laneCsv: await b.bytes(), formulas: [a.guard.formulaCells, b.guard.formulaCells], batches };
}

describe("events from lanes: the rows and bytes of the row objects", () => {
  wholeReplayCases(tmp, replayBoth);
});

/** Odd request ids: a client picks them (X-Request-Id). */
const IDS = ["cmpl-0123456789abcdef0123456789abcdef-0", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "=1+1", "+x", "-3", "@a", "\tt", "'q", "é", "日本語", "\ud800lone", "x".repeat(3000), "short", ""];
/** Details as the engine writes them, and text it never writes (the writers must pass any through). */
const DETAILS = ['{"tokens":1,"computed_before":345}', '{"blocks":3,"delta":-1}', '{"cause":"a,b"}', "{}", "", "plain", 'q"uote', "new\nline", "é", '{"id":"日本"}', "\udc00", "=cmd", "y".repeat(5000)];
const NUMBERS = [0, 1, 9, 10, 12345, 2 ** 32 + 7, 2 ** 53 - 1, 2 ** 60, -1, -0, 0.5, 1e21, NaN, Infinity];
const epochOf = epochFormatter(1_765_000_000_123_456_789n);
/** epoch text: the engine's digits, and strings a writer must pass through all the same */
const EPOCHS = [(t: number) => epochOf(t), () => "", () => "12,3", () => "é", () => "9".repeat(40)];

/** One step's event calls, as [method, arguments]: made once, played to both writers. */
function randomStep(r: () => number, pick: <T>(xs: readonly T[]) => T, live: RequestState[]): [keyof EventRows, unknown[]][] {
  const calls: [keyof EventRows, unknown[]][] = [];
  const t = r() < 0.1 ? pick(NUMBERS) : Math.floor(r() * 1e12);
  const step = r() < 0.2 ? null : pick(NUMBERS);
  for (const q of live) {
    const k = r();
    const details = r() < 0.7 ? pick(DETAILS.slice(0, 2)) : pick(DETAILS);
    // details of two integers (request_scheduled, block counts): safe integers as PAIR cells, any other as text
    if (k < 0.35) calls.push(["requestPair", [t, pick(EventType), q, Math.floor(r() * DETAIL_PAIRS.length), r() < 0.8 ? Math.floor(r() * 1e6) - 5 : pick(NUMBERS), pick(NUMBERS), step]]);
    else if (k < 0.7) calls.push(["request", [t, pick(EventType), q, details, step]]);
    else if (k < 0.85) calls.push(["named", [t, pick(EventType), r() < 0.3 ? null : r() < 0.5 ? q.id : pick(IDS), r() < 0.3 ? null : pick(NUMBERS), details, step]]);
    else calls.push(["request", [t, "request_completed", q, details, step]], ["forget", [q]]);
  }
  return calls;
}

describe("EventLanes against EventObjects, random events", () => {
  for (const [seed, capacity, safe] of [
    [1, 3, true],
    [2, 16, false],
    [3, 64, true],
  ] as const) {
    it(`seed ${seed}, batches of ${capacity}: equal rows, bytes and formula counts`, async () => {
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      // epoch text as a function of t (the engine's is; EventLanes asks once per run of equal times), odd for some t
      const epochs = new Map<number, string>();
      const epochText = (t: number) => {
        if (!epochs.has(t)) epochs.set(t, r() < 0.8 ? epochOf(t) : pick(EPOCHS)(t));
        return epochs.get(t)!;
      };
      const a = memoryWriter("events", safe);
      const b = memoryWriter("events", safe);
      const objects: Record<string, unknown>[] = [];
      const lanes: Record<string, unknown>[] = [];
      const objectRows = new EventObjects({ event: (row) => (objects.push({ ...row }), a.w.write(row)) }, epochText, 3);
      const laneRows = new EventLanes({ eventLanes: (l) => (lanes.push(...decodeLanes(l)), b.w.writeLanes(l)) }, epochText, 3, capacity);
      let live: RequestState[] = [];
      let n = 0;
      for (let s = 0; s < 300; s++) {
        while (live.length < 12) live.push({ id: r() < 0.25 ? pick(IDS) : `cmpl-${n++}-0`, instance: pick([0, 0, 1, 7]), eventLaneId: -1 } as unknown as RequestState);
        const calls = randomStep(r, pick, live);
        // the same calls, in the same order, to both writers
        for (const w of [objectRows, laneRows] as EventRows[]) for (const [m, args] of calls) (w[m] as (...x: unknown[]) => void).apply(w, args);
        const gone = new Set(calls.filter(([m]) => m === "forget").map(([, args]) => args[0]));
        live = live.filter((q) => !gone.has(q));
      }
      objectRows.flush();
      laneRows.flush();
      const s: Omit<BothSides, "batches"> = { objects, lanes, objectCsv: await a.bytes(), laneCsv: await b.bytes(), formulas: [a.guard.formulaCells, b.guard.formulaCells] };
      expect(objects.length).toBeGreaterThan(3000);
      expect(s.formulas[0]).toBeGreaterThan(0);
      expectSame(s);
    });
  }
});

describe("convert --threads: the engine's event lanes posted as batches (LaneBatcher)", () => {
  for (const slots of [1, 2, 3]) {
    it(`${slots} slot(s): the batches' CSV bytes, formula counts and decoded rows are the row objects'`, async () => {
      const records = generatedTrace(tmp, `threads-${slots}`, ["--steps", "300", "--running", "6", "--waiting", "20", "--seed", String(20 + slots)]);
      const a = memoryWriter("events", true);
      const objects: Record<string, unknown>[] = [];
      replay(records, { ...base, event: (row) => (objects.push({ ...row }), a.w.write(row)) });
      // batches as the replay worker posts them: transferred (the lanes' arrays leave the engine), then returned
      const batcher = new LaneBatcher("events", slots);
      const batches: RowBatch[] = [];
      const eventLanes = (l: TableLanes) => {
        const b = batcher.take(l);
        batches.push(structuredClone(b, { transfer: batchBuffers(b) }));
        if (batches.length % 3 === 0) batcher.recycle(lanesOf(structuredClone(batches[batches.length - 2])));
      };
      replay(records, { ...base, event: noObjects, eventLanes }, { eventLaneRows: 6 });
      expect(batches.length).toBeGreaterThan(50);
      expect(batches.some((b) => b.dictIds.length > 0)).toBe(true);
      const guards = Array.from({ length: slots }, () => ({ spreadsheetSafe: true, formulaCells: 0 }));
      const encoders = guards.map((g) => new CsvBatchEncoder(g));
      const dicts = new Dictionaries();
      const bytes: Buffer[] = [];
      const decoded: Record<string, unknown>[] = [];
      for (const b of batches) {
        decodeRows(b, dicts.absorb(0, b).strings, (row: Record<string, unknown>) => decoded.push(row));
        bytes.push(Buffer.from(encoders[b.slot].encode(b, 0)));
      }
      const header0 = (await memoryWriter("events", true).bytes()).length;
      expectSame({ objects, lanes: decoded, objectCsv: (await a.bytes()).subarray(header0), laneCsv: Buffer.concat(bytes), formulas: [a.guard.formulaCells, guards.reduce((x, g) => x + g.formulaCells, 0)] });
    });
  }
});
