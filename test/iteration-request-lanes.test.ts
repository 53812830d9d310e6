import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engine/index.js";
import { LaneRows } from "../src/engine/iteration-request-lanes.js";
import { ObjectRows, type IterationRows } from "../src/engine/iteration-request-row.js";
import type { RequestState } from "../src/engine/request-state.js";
import { DEFAULT_ENGINE_OPTIONS, type RowSink } from "../src/engine/types.js";
import type { CellGuard } from "../src/logs/csv-format.js";
import { layout, NULL, UNDEFINED, type TableLanes } from "../src/schema/lanes.js";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { RunningNote, WAITING_REASONS } from "../src/schema/waiting.js";
import { CsvTableWriter } from "../src/sinks/csv-writer.js";
import { CsvBatchEncoder } from "../src/threads/csv-batch.js";
import { LaneBatcher } from "../src/threads/lane-batch.js";
import { batchBuffers, decodeRows, Dictionaries, lanesOf, type RowBatch } from "../src/threads/row-batch.js";
import { expectSame, generatedTrace, memoryWriter, wholeReplayCases, type BothSides } from "./helpers/lane-replays.js";
import { rng } from "./helpers/rng.js";

/**
 * The engine writes per_iteration_requests into lanes itself where the sink takes them (convert's
 * CSV: src/engine/iteration-request-lanes.ts, LaneRows), and builds row objects everywhere else
 * (ObjectRows: Parquet, summary and the other collectors). Both must give the same rows: decoded
 * from the lanes, every value identical to the object's, and the CSV writer's bytes and formula
 * count from lanes (writeLanes) identical to those from the objects (write). Here over whole
 * replays (every fixture, generated traces of several shapes) with batches small enough that request
 * ids are released and reused across batch ends, and over random rows with the odd values a trace
 * can carry (client-chosen request ids with commas, quotes, formula-like starts, non-Latin-1 text,
 * lone surrogates; numbers the engine only passes through).
 */

const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-lanes-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A lanes batch as row objects, cell by cell from the layout (no code shared with the encoders). */
function decodeLanes(l: TableLanes): Record<string, unknown>[] {
  const lay = layout(l.table);
  const out: Record<string, unknown>[] = [];
  for (let r = 0; r < l.rows; r++) {
    const row: Record<string, unknown> = {};
    lay.cols.forEach((c, k) => {
      const lane = lay.lane[k];
      const tag = l.tags[r * lay.cols.length + k];
      if (tag === NULL) row[c] = null;
      else if (tag === UNDEFINED) row[c] = undefined;
      else if (tag !== 0) throw new Error(`tag ${tag} in the engine's lanes`);
      else if (lane.numeric) row[c] = l.num[r * lay.nNum + lane.index];
      else {
        const id = l.str[r * lay.nStr + lane.index];
        row[c] = id < 0 ? lane.options![-1 - id] : l.strings[id];
        if (row[c] === undefined) throw new Error(`string id ${id} without a string`);
      }
    });
    out.push(row);
  }
  return out;
}

/** One replay with row objects, one with lanes of `laneRows` rows; the rows and the CSV of both. */
async function replayBoth(records: RawRecord[], laneRows: number, spreadsheetSafe = true): Promise<BothSides> {
  const [header, ...rest] = records;
  const nop = () => {};
  const base = { perRequest: nop, perIteration: nop, event: nop, stateTransition: nop, prediction: nop, finding: nop };
  const a = memoryWriter("per_iteration_requests", spreadsheetSafe);
  const b = memoryWriter("per_iteration_requests", spreadsheetSafe);
  const objects: Record<string, unknown>[] = [];
  const lanes: Record<string, unknown>[] = [];
  let batches = 0;
  const objectSink: RowSink = { ...base, perIterationRequest: (row) => (objects.push({ ...row }), a.w.write(row)) };
  const laneSink: RowSink = {
    ...base,
    perIterationRequest: () => {
      throw new Error("a sink with lanes gets no row objects");
    },
    perIterationRequestLanes: (l) => {
      batches++;
      expect(l.rows).toBeLessThanOrEqual(laneRows);
      lanes.push(...decodeLanes(l));
      b.w.writeLanes(l);
    },
  };
  for (const [sink, opts] of [
    [objectSink, {}],
    [laneSink, { iterationRequestLaneRows: laneRows }],
  ] as const) {
    const engine = createEngine(header as HeaderRecord, sink, { ...DEFAULT_ENGINE_OPTIONS, ...opts });
    rest.forEach((rec, i) => engine.push(rec, i + 2));
    engine.end();
  }
  return { objects, lanes, objectCsv: await a.bytes(), laneCsv: await b.bytes(), formulas: [a.guard.formulaCells, b.guard.formulaCells], batches };
}

describe("per_iteration_requests from lanes: the rows and bytes of the row objects", () => {
  wholeReplayCases(tmp, replayBoth);
});

/** Odd request ids: a client picks them (X-Request-Id). */
const IDS = ["cmpl-0123456789abcdef0123456789abcdef-0", "a,b", 'say "hi"', "two\nlines", "=1+1", "+x", "-3", "@a", "\tt", "'q", "é", "日本語", "\ud800lone", "x".repeat(3000), "short", ""];
const LABELS = [null, "token_budget", "max_num_seqs+kv_blocks|token_budget", "none", "unresolved", "=odd", 'a,"b"', "é"];
const NUMBERS = [0, 1, 9, 10, 12345, 2 ** 32 + 7, 2 ** 53 - 1, 2 ** 60, -1, -0, 0.5, 1e21, NaN, Infinity];

/** A request as the row writers read it (RequestState's fields they use). */
function fakeRequest(r: () => number, pick: <T>(xs: readonly T[]) => T, n: number): RequestState {
  return {
    id: r() < 0.2 ? pick(IDS) : `cmpl-${n}-0`,
    instance: pick([0, 0, 1, 7]),
    outputTokens: pick(NUMBERS),
    computed: pick(NUMBERS),
    blocks: pick(NUMBERS),
    state: pick(["waiting", "preempted", "running"]),
    everAdmitted: r() < 0.5,
    laneId: -1,
  } as unknown as RequestState;
}

/** One step's row calls on the live requests, as [method, arguments]: made once, played to both writers. */
function randomStep(r: () => number, pick: <T>(xs: readonly T[]) => T, live: RequestState[], step: number): [keyof IterationRows, unknown[]][] {
  const calls: [keyof IterationRows, unknown[]][] = [];
  for (const q of live) {
    const k = r();
    const time = pick(NUMBERS);
    if (k < 0.4) calls.push(["running", [step, q, time, pick([0, 3, 2 ** 40]), pick([null, ...RunningNote.options])]]);
    else if (k < 0.9) calls.push(["waiting", [step, q, r() < 0.2 ? null : Math.floor(r() * 50), pick(WAITING_REASONS), time]]);
    else calls.push(["completed", [step, q]], ["forget", [q]]);
  }
  return calls;
}

describe("LaneRows against ObjectRows, random rows", () => {
  for (const [seed, full, capacity, safe] of [
    [1, true, 3, true],
    [2, false, 16, false],
    [3, true, 64, true],
  ] as const) {
    it(`seed ${seed}, level ${full ? "full" : "summary"}, batches of ${capacity}: equal rows, bytes and formula counts`, async () => {
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const labels = new Map<string, string | null>();
      const label = (id: string, step: number, pos: number | null) => {
        const k = `${id}\u0000${step}\u0000${pos}`;
        if (!labels.has(k)) labels.set(k, pick(LABELS));
        return labels.get(k)!;
      };
      const a = memoryWriter("per_iteration_requests", safe);
      const b = memoryWriter("per_iteration_requests", safe);
      const objects: Record<string, unknown>[] = [];
      const lanes: Record<string, unknown>[] = [];
      const objectRows = new ObjectRows(
        {
          perIterationRequest: (row) => {
            // as the binding tracker fills it (fillIterationRequest)
            row.binding_limits = row.state === "waiting" || row.state === "preempted" ? label(row.request_id, row.iteration_id, row.queue_position) : null;
            objects.push({ ...row });
            a.w.write(row);
          },
        } as RowSink,
        full,
        3,
      );
      const laneRows = new LaneRows({ perIterationRequestLanes: (l) => (lanes.push(...decodeLanes(l)), b.w.writeLanes(l)), waitingLabel: label }, full, 3, capacity);
      let live: RequestState[] = [];
      let n = 0;
      for (let step = 0; step < 300; step++) {
        while (live.length < 12) live.push(fakeRequest(r, pick, n++));
        const calls = randomStep(r, pick, live, step);
        // the same calls, in the same order, to both writers
        for (const w of [objectRows, laneRows] as IterationRows[]) for (const [m, args] of calls) (w[m] as (...x: unknown[]) => void).apply(w, args);
        const gone = new Set(calls.filter(([m]) => m === "forget").map(([, args]) => args[0]));
        live = live.filter((q) => !gone.has(q));
      }
      objectRows.flush();
      laneRows.flush();
      const s: BothSides = { objects, lanes, objectCsv: await a.bytes(), laneCsv: await b.bytes(), formulas: [a.guard.formulaCells, b.guard.formulaCells], batches: 0 };
      expect(objects.length).toBeGreaterThan(3000);
      expect(s.formulas[0]).toBeGreaterThan(0);
      expectSame(s);
    });
  }
});

describe("convert --threads: the engine's lanes posted as batches (LaneBatcher)", () => {
  for (const slots of [1, 2, 3]) {
    it(`${slots} slot(s): the batches' CSV bytes, formula counts and decoded rows are the row objects'`, async () => {
      const records = generatedTrace(tmp, `threads-${slots}`, ["--steps", "300", "--running", "6", "--waiting", "20", "--seed", String(20 + slots)]);
      const [header, ...rest] = records;
      const nop = () => {};
      const base = { perRequest: nop, perIteration: nop, event: nop, stateTransition: nop, prediction: nop, finding: nop };
      const a = memoryWriter("per_iteration_requests", true);
      const objects: Record<string, unknown>[] = [];
      const objectEngine = createEngine(header as HeaderRecord, { ...base, perIterationRequest: (row) => (objects.push({ ...row }), a.w.write(row)) }, DEFAULT_ENGINE_OPTIONS);
      rest.forEach((rec, i) => objectEngine.push(rec, i + 2));
      objectEngine.end();
      // batches as the replay worker posts them: transferred (the lanes' arrays leave the engine), then returned
      const batcher = new LaneBatcher("per_iteration_requests", slots);
      const batches: RowBatch[] = [];
      const laneSink: RowSink = {
        ...base,
        perIterationRequest: () => {
          throw new Error("a sink with lanes gets no row objects");
        },
        perIterationRequestLanes: (l) => {
          const b = batcher.take(l);
          const moved = structuredClone(b, { transfer: batchBuffers(b) });
          batches.push(moved);
          if (batches.length % 3 === 0) batcher.recycle(lanesOf(structuredClone(batches[batches.length - 2])));
        },
      };
      const laneEngine = createEngine(header as HeaderRecord, laneSink, { ...DEFAULT_ENGINE_OPTIONS, iterationRequestLaneRows: 6 });
      rest.forEach((rec, i) => laneEngine.push(rec, i + 2));
      laneEngine.end();
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
      const header0 = (await memoryWriter("per_iteration_requests", true).bytes()).length;
      const s: BothSides = { objects, lanes: decoded, objectCsv: (await a.bytes()).subarray(header0), laneCsv: Buffer.concat(bytes), formulas: [a.guard.formulaCells, guards.reduce((x, g) => x + g.formulaCells, 0)], batches: batches.length };
      expectSame(s);
    });
  }
});
