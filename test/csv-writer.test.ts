import { readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { CsvTableSet } from "../src/sinks/csv-tables.js";
import { compileRowEncoder, ENCODER_HEADROOM, formatFloat, formatRow, formatString, headerLine, type CellGuard } from "../src/logs/csv-format.js";
import { CsvTableWriter, versionHeaderLine } from "../src/sinks/csv-writer.js";
import { tableColumns, type PerIterationRequestRow } from "../src/schema/tables.js";
import { tmpDir } from "./helpers/trace.js";

const pirRow = (over: Partial<PerIterationRequestRow> = {}): PerIterationRequestRow => ({
  iteration_id: 7,
  request_id: "cmpl-1",
  state: "waiting",
  queue_position: 3,
  waiting_reason: "max_num_seqs",
  tokens_generated: 0,
  kv_cache_blocks: null,
  time_in_state: 1234567890123,
  scheduled_tokens: 0,
  running_reason: null,
  waiting_phase: "initial",
  computed_tokens: 0,
  dp_rank: 1,
  request_instance: 0,
  ...over,
});

describe("CSV field format", () => {
  it("writes floats with exactly 6 decimals, no negative zero, non-finite as empty", () => {
    expect([0.5, 1 / 3, 2, -1e-9, 0, 1e6 + 0.25].map(formatFloat)).toEqual(["0.500000", "0.333333", "2.000000", "0.000000", "0.000000", "1000000.250000"]);
    expect([null, undefined, NaN, Infinity, -Infinity].map(formatFloat)).toEqual(["", "", "", "", ""]);
  });

  it("quotes strings only when needed (RFC 4180), and tells an empty string from null", () => {
    expect(formatString("plain id-1")).toBe("plain id-1");
    expect(formatString("a,b")).toBe('"a,b"');
    expect(formatString('say "hi"')).toBe('"say ""hi"""');
    expect(formatString("two\nlines")).toBe('"two\nlines"');
    expect(formatString("cr\r")).toBe('"cr\r"');
    expect(formatString("")).toBe('""');
    expect(formatString(null)).toBe("");
  });

  it("encodes a row in tableColumns() order: ints as is, null empty, strings quoted when needed, UTF-8", () => {
    const f = (over: Partial<PerIterationRequestRow>) => formatRow("per_iteration_requests", pirRow(over));
    expect(f({})).toBe("7,cmpl-1,waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n");
    expect(f({ request_id: 'x,"y"' })).toBe('7,"x,""y""",waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n');
    expect(f({ request_id: "日本-é" })).toBe("7,日本-é,waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n");
    expect(f({ request_id: "" })).toBe('7,"",waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n');
    // long strings go through the field cache: the same bytes every time
    for (let k = 0; k < 2; k++) {
      expect(f({ request_id: 'cmpl-a,b "quoted" 日本 long' })).toBe('7,"cmpl-a,b ""quoted"" 日本 long",waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n');
      expect(f({ request_id: "cmpl-0123456789abcdef-0" })).toBe("7,cmpl-0123456789abcdef-0,waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,\n");
    }
    // integers of every size, negative and beyond 2^32 included
    for (const n of [0, 9, 10, 99, 100, 12345678, 100000000, 4294967295, 4294967296, 945075713180, 100000000000, 2 ** 53 - 1, 2 ** 53, 1e21, -1, -4294967296, 1.5])
      expect(f({ time_in_state: n }).split(",")[7]).toBe(String(n));
  });

  it("writes enum values and small integers inline with the general path's bytes and formula count", () => {
    // the encoder stores plain enum values and integers 0..9 inline; anything else (a value
    // outside the enum, one a spreadsheet would run, a fraction, -0, null) takes putString/putInt
    const f = (over: Partial<PerIterationRequestRow>) => formatRow("per_iteration_requests", pirRow(over)).split(",");
    for (const state of ["waiting", "running", "preempted", "completed"] as const) expect(f({ state })[2]).toBe(state);
    for (const v of ["not_an_enum_value", "short", "=1+1", "a,b", "", "日本"]) expect(f({ state: v as "waiting" }).slice(2, -12).join(",")).toBe(formatString(v));
    expect(f({ state: null as unknown as "waiting" })[2]).toBe("");
    expect(f({ waiting_reason: null, running_reason: "chunked_prefill", waiting_phase: "after_preemption" }).slice(4, 11)).toEqual(["", "0", "", "1234567890123", "0", "chunked_prefill", "after_preemption"]);
    // a string equal to an enum value but not the same object (a parsed or cloned row)
    expect(f({ state: ["run", "ning"].join("") as "running" })[2]).toBe("running");
    for (const n of [0, 1, 9, 10, -0, 0.5, 9.5, -1, 1e-9, 2 ** 31, 2 ** 32 + 3]) expect(f({ queue_position: n })[3]).toBe(n === 0 ? "0" : String(n));
    expect(f({ queue_position: null })[3]).toBe("");
    expect(f({ queue_position: undefined as unknown as null })[3]).toBe("");
    for (const spreadsheetSafe of [false, true]) {
      const guard: CellGuard = { spreadsheetSafe, formulaCells: 0 };
      const enc = compileRowEncoder("per_iteration_requests", guard);
      const b = Buffer.alloc((1 << 12) + ENCODER_HEADROOM);
      const row = pirRow({ request_id: "=HYPERLINK(1)", state: "-running" as "running", waiting_reason: "max_num_seqs" });
      const text = b.toString("utf8", 0, enc(row, b, 0)).split(",");
      expect(guard.formulaCells).toBe(2);
      expect(text.slice(1, 3)).toEqual(spreadsheetSafe ? ["'=HYPERLINK(1)", "'-running"] : ["=HYPERLINK(1)", "-running"]);
    }
  });

  it("encodes float columns with 6 decimals and survives huge values", () => {
    const row = formatRow("per_iteration", {
      ...Object.fromEntries(tableColumns("per_iteration").map((c) => [c, null])),
      iteration_id: 1,
      kv_cache_utilization: 0.125,
      prefill_chunk_mean: 1e20,
      scheduler_action: "admit_new+continue",
    } as never);
    const cols = tableColumns("per_iteration");
    const fields = row.trimEnd().split(",");
    expect(fields[cols.indexOf("kv_cache_utilization")]).toBe("0.125000");
    expect(fields[cols.indexOf("prefill_chunk_mean")]).toBe("100000000000000000000.000000");
    expect(fields[cols.indexOf("scheduler_action")]).toBe("admit_new+continue");
  });

  it("writes epoch ns strings and JSON details as given", () => {
    const line = formatRow("events", {
      timestamp: 5,
      event_type: "request_arrived",
      request_id: "r1",
      details: JSON.stringify({ prompt_tokens: 3, note: "a,b" }),
      timestamp_epoch_ns: "1760000000000000005",
      iteration_id: null,
      dp_rank: 0,
      request_instance: 1,
    });
    expect(line).toBe('5,request_arrived,r1,"{""prompt_tokens"":3,""note"":""a,b""}",1760000000000000005,,0,1\n');
    const details = (d: string) =>
      formatRow("events", { timestamp: 1, event_type: "request_skipped", request_id: null, details: d, timestamp_epoch_ns: null, iteration_id: null, dp_rank: 0, request_instance: null }).split(",").slice(3, -4).join(",");
    expect(details("{}")).toBe("{}");
    expect(details("")).toBe('""');
    expect(details('{"a":1}')).toBe('"{""a"":1}"');
    expect(details('{"why":"日本, é"}')).toBe('"{""why"":""日本, é""}"');
    expect(details("plain,comma")).toBe('"plain,comma"');
  });

  it("has a header line for every table straight from tableColumns()", () => {
    expect(headerLine(tableColumns("state_transitions"))).toBe("request_id,timestamp,from_state,to_state,iteration_id,timestamp_epoch_ns,detail,dp_rank,request_instance\n");
  });
});

/** A writable that accepts `limit` bytes, then holds the rest until release() */
class SlowSink extends Writable {
  chunks: string[] = [];
  pending: (() => void)[] = [];
  constructor() {
    super({ highWaterMark: 1024, decodeStrings: false });
  }
  override _write(chunk: string, _enc: BufferEncoding, cb: () => void) {
    this.chunks.push(String(chunk));
    this.pending.push(cb);
  }
  release() {
    const p = this.pending;
    this.pending = [];
    for (const cb of p) cb();
  }
}

describe("CsvTableWriter", () => {
  it("asks the caller to wait when the stream is full, and close() resolves only once flushed", async () => {
    const sink = new SlowSink();
    const w = new CsvTableWriter("per_iteration_requests", sink, { bufferBytes: 256, versionHeader: versionHeaderLine("9.9.9", "per_iteration_requests") });
    for (let i = 0; i < 100; i++) w.write(pirRow({ iteration_id: i }));
    expect(w.needsDrain).toBe(true);
    let drained = false;
    const d = w.drain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    let pump = setInterval(() => sink.release(), 1);
    await d;
    clearInterval(pump);
    expect(w.needsDrain).toBe(false);
    for (let i = 100; i < 200; i++) w.write(pirRow({ iteration_id: i }));
    let closed = false;
    const c = w.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    pump = setInterval(() => sink.release(), 1);
    await c;
    clearInterval(pump);
    expect(closed).toBe(true);
    const text = sink.chunks.join("");
    const lines = text.split("\n");
    expect(lines[0]).toBe("# vsched 9.9.9 schema 1.6 table per_iteration_requests");
    expect(lines[1]).toBe(tableColumns("per_iteration_requests").join(","));
    expect(lines).toHaveLength(2 + 200 + 1);
    expect(lines[2 + 199]).toMatch(/^199,/);
    expect(w.rows).toBe(200);
  });

  it("does not wait for a 'drain' that already fired while the caller awaited another writer", async () => {
    const sinkA = new SlowSink();
    const sinkB = new SlowSink();
    const a = new CsvTableWriter("per_iteration_requests", sinkA, { bufferBytes: 256 });
    const b = new CsvTableWriter("per_iteration_requests", sinkB, { bufferBytes: 256 });
    for (let i = 0; i < 50; i++) {
      a.write(pirRow());
      b.write(pirRow());
    }
    expect([a.needsDrain, b.needsDrain]).toEqual([true, true]);
    const pumpB = setInterval(() => sinkB.release(), 1);
    await new Promise((r) => sinkB.once("drain", r)); // b drains while we "wait for a"
    clearInterval(pumpB);
    expect(b.needsDrain).toBe(false);
    await b.drain(); // must not hang
    const pumpA = setInterval(() => sinkA.release(), 1);
    await a.drain();
    clearInterval(pumpA);
  });

  it("writes rows larger than its buffer (long JSON details) intact", async () => {
    const sink = new SlowSink();
    const w = new CsvTableWriter("events", sink, { bufferBytes: 1024 });
    const details = JSON.stringify({ note: "x".repeat(50_000), q: 'a"b' });
    const ev = (i: number) => ({ timestamp: i, event_type: "request_skipped" as const, request_id: `r${i}`, details, timestamp_epoch_ns: "1", iteration_id: i, dp_rank: 0, request_instance: 0 });
    for (let i = 0; i < 5; i++) w.write(ev(i));
    const pump = setInterval(() => sink.release(), 1);
    await w.close();
    clearInterval(pump);
    const lines = sink.chunks.join("").split("\n");
    expect(lines).toHaveLength(1 + 5 + 1);
    expect(lines[0]).toBe("timestamp,event_type,request_id,details,timestamp_epoch_ns,iteration_id,dp_rank,request_instance");
    // by hand (RFC 4180: the field quoted, each quote doubled; JSON's \" keeps its backslash)
    const x = "x".repeat(50_000);
    for (let i = 0; i < 5; i++) expect(lines[1 + i]).toBe(`${i},request_skipped,r${i},"{""note"":""${x}"",""q"":""a\\""b""}",1,${i},0,0`);
    // and read back by another parser: the details exact
    const back = Papa.parse<Record<string, string>>(sink.chunks.join(""), { header: true, skipEmptyLines: true });
    expect(back.errors).toEqual([]);
    expect(back.data.map((r) => [r.request_id, r.details])).toEqual([0, 1, 2, 3, 4].map((i) => [`r${i}`, details]));
  });

  it("CsvTableSet writes six files named after the tables, header rows only when empty", async () => {
    const dir = tmpDir();
    const set = new CsvTableSet(dir);
    set.sink.perIterationRequest(pirRow());
    await set.close();
    expect(set.rowCounts()).toEqual({ per_request: 0, per_iteration: 0, per_iteration_requests: 1, events: 0, state_transitions: 0, predictions: 0 });
    expect(readFileSync(path.join(dir, "per_request.csv"), "utf8")).toBe(tableColumns("per_request").join(",") + "\n");
    expect(readFileSync(path.join(dir, "per_iteration_requests.csv"), "utf8").split("\n")[1]).toBe("7,cmpl-1,waiting,3,max_num_seqs,0,,1234567890123,0,,initial,0,1,0,");
  });
});
