/**
 * `vsched validate`: passes on good output, and on corrupted copies fails with the right
 * code at the right place. Tests assert codes and locations, never wording.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Finding } from "../src/core/finding.js";
import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, tableColumns, tableColumnsAt } from "../src/schema/tables.js";
import { validateInputs } from "../src/validate/index.js";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { REAL_FIXTURES, realLogsDir, REUSED_ID_FIXTURES, simulate, writeLogsDir } from "./helpers/logs-fixture.js";

let tmp: string;
let good: string;
const real = new Map<string, string>();
let n = 0;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));
  good = writeLogsDir(path.join(tmp, "good"), simulate({ seed: 7 }));
  for (const name of [...REAL_FIXTURES, ...REUSED_ID_FIXTURES]) real.set(name, await realLogsDir(path.join(tmp, name), name));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a fresh copy of the good directory */
function copy(): string {
  const d = path.join(tmp, `case-${++n}`);
  cpSync(good, d, { recursive: true });
  return d;
}
const file = (dir: string, t: string) => path.join(dir, `${t}.csv`);
/** CSV as a grid of strings (header first) */
const grid = (p: string) => Papa.parse<string[]>(readFileSync(p, "utf8"), { skipEmptyLines: true }).data;
const writeGrid = (p: string, g: string[][]) => writeFileSync(p, Papa.unparse(g, { newline: "\n" }) + "\n");
/** set a cell of the data row `row` (0-based, header excluded): file line = row + 2 */
function setCell(dir: string, table: string, row: number, column: string, value: string): void {
  const g = grid(file(dir, table));
  g[row + 1][g[0].indexOf(column)] = value;
  writeGrid(file(dir, table), g);
}
const codes = (fs: Finding[]) => [...new Set(fs.map((f) => f.code))].sort();
const only = (fs: Finding[], code: string) => fs.filter((f) => f.code === code);
const rel = (dir: string, name: string) => `${path.relative(tmp, dir)}/${name}`;
const validate = (dir: string) => validateInputs([path.relative(tmp, dir)], { cwd: tmp });

describe("a good logs directory", () => {
  test("has no findings", async () => {
    const r = await validate(good);
    expect(r.findings).toEqual([]);
    expect(r.kind).toBe("logs");
    expect(r.files).toBe(6);
  });
  test.each([...REAL_FIXTURES, ...REUSED_ID_FIXTURES])("fixture %s, converted from vLLM's real scheduler, has no findings", async (name) => {
    const r = await validateInputs([real.get(name)!]);
    expect(r.findings).toEqual([]);
  });
});

describe("a logs directory of an older minor schema", () => {
  /** what the previous minor wrote: the same rows without the columns this minor appended */
  function asMinor(dir: string, version: string): void {
    const m = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    m.output_schema_version = version;
    for (const t of m.tables) {
      const keep = new Set(tableColumnsAt(t.name, version));
      t.columns = t.columns.filter((c: { name: string }) => keep.has(c.name));
      const g = grid(file(dir, t.name));
      const idx = g[0].map((c, j) => (keep.has(c) ? j : -1)).filter((j) => j >= 0);
      writeGrid(file(dir, t.name), g.map((r) => idx.map((j) => r[j])));
    }
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m, null, 2) + "\n");
  }

  test("each minor only appends: a table's columns at minor m are a prefix of those at m+1", () => {
    const ours = Number(OUTPUT_SCHEMA_VERSION.split(".")[1]);
    for (const t of TABLE_NAMES) {
      for (let m = 0; m < ours; m++) {
        const now = tableColumnsAt(t, `1.${m}`);
        expect(tableColumnsAt(t, `1.${m + 1}`).slice(0, now.length), `${t} 1.${m}`).toEqual(now);
      }
      expect(tableColumnsAt(t, OUTPUT_SCHEMA_VERSION)).toEqual(tableColumns(t));
    }
    expect(tableColumnsAt("per_request", "1.2")).not.toContain("input_chunks");
    expect(tableColumnsAt("per_request", "1.0")).not.toContain("request_instance");
  });

  test("the previous minor's directory validates clean; a column that minor had is still required", async () => {
    const prev = `1.${Number(OUTPUT_SCHEMA_VERSION.split(".")[1]) - 1}`;
    const d = copy();
    asMinor(d, prev);
    // a table the current minor appended columns to
    const name = TABLE_NAMES.find((n) => tableColumnsAt(n, prev).length < tableColumns(n).length)!;
    expect(grid(file(d, name))[0].length).toBeLessThan(tableColumns(name).length);
    expect((await validate(d)).findings).toEqual([]);
    const g = grid(file(d, name));
    const i = g[0].indexOf("dp_rank");
    expect(i).toBeGreaterThan(0);
    writeGrid(file(d, name), g.map((r) => r.filter((_, j) => j !== i)));
    expect(codes((await validate(d)).findings)).toContain("CSV_COLUMN_MISSING");
  });
});

describe("corrupted copies", () => {
  test("a dropped column: CSV_COLUMN_MISSING with its name and position, rows still checked", async () => {
    const d = copy();
    const g = grid(file(d, "per_request"));
    const i = g[0].indexOf("ttft");
    writeGrid(file(d, "per_request"), g.map((r) => r.filter((_, j) => j !== i)));
    const r = await validate(d);
    const miss = only(r.findings, "CSV_COLUMN_MISSING");
    expect(miss).toEqual([{ code: "CSV_COLUMN_MISSING", severity: "error", file: rel(d, "per_request.csv"), line: 1, args: { column: "ttft", position: i + 1, schema: OUTPUT_SCHEMA_VERSION } }]);
    expect(codes(r.findings)).toEqual(["CSV_COLUMN_MISSING", "MANIFEST_COLUMNS_MISMATCH"]);
  });

  test("a reordered column: CSV_COLUMN_ORDER with its position and the expected one", async () => {
    const d = copy();
    const g = grid(file(d, "per_iteration"));
    const a = g[0].indexOf("prefill_tokens");
    const b = g[0].indexOf("kv_cache_used");
    for (const row of g) [row[a], row[b]] = [row[b], row[a]];
    writeGrid(file(d, "per_iteration"), g);
    const r = await validate(d);
    const order = only(r.findings, "CSV_COLUMN_ORDER");
    expect(order.length).toBeGreaterThanOrEqual(1);
    const moved = order.map((f) => f.args.column);
    expect(moved.some((c) => c === "prefill_tokens" || c === "kv_cache_used")).toBe(true);
    for (const f of order) {
      expect(f.file).toBe(rel(d, "per_iteration.csv"));
      expect(f.line).toBe(1);
      expect(g[0][(f.args.position as number) - 1]).toBe(f.args.column);
      expect(tableColumns("per_iteration")[(f.args.expected_position as number) - 1]).toBe(f.args.column);
    }
    expect(codes(r.findings)).toEqual(["CSV_COLUMN_ORDER", "MANIFEST_COLUMNS_MISMATCH"]);
  });

  test("an extra and a duplicated column", async () => {
    const d = copy();
    const g = grid(file(d, "events"));
    writeGrid(file(d, "events"), g.map((r, i) => [...r, i === 0 ? "gpu_util" : "0.5", i === 0 ? "dp_rank" : r[g[0].indexOf("dp_rank")]]));
    const r = await validate(d);
    expect(only(r.findings, "CSV_COLUMN_UNEXPECTED")[0].args).toMatchObject({ column: "gpu_util", position: g[0].length + 1 });
    expect(only(r.findings, "CSV_COLUMN_DUPLICATE")[0].args).toMatchObject({ column: "dp_rank", position: g[0].length + 2 });
  });

  test("a broken join: JOIN_UNKNOWN_REQUEST in each referring table, with file and line", async () => {
    const d = copy();
    setCell(d, "events", 4, "request_id", "ghost-1");
    setCell(d, "per_iteration_requests", 9, "request_id", "ghost-2");
    setCell(d, "state_transitions", 0, "request_id", "ghost-3");
    const r = await validate(d);
    expect(only(r.findings, "JOIN_UNKNOWN_REQUEST").map((f) => [f.file, f.line, f.args.request_id])).toEqual([
      [rel(d, "per_iteration_requests.csv"), 11, "ghost-2"],
      [rel(d, "events.csv"), 6, "ghost-1"],
      [rel(d, "state_transitions.csv"), 2, "ghost-3"],
    ]);
    // the changed per_iteration_requests row also changes that iteration's count only if it was scheduled
    expect(codes(r.findings).filter((c) => c !== "BATCH_SIZE_MISMATCH")).toEqual(["JOIN_UNKNOWN_REQUEST"]);
  });

  test("a negative duration: NEGATIVE_DURATION with column and line", async () => {
    const d = copy();
    setCell(d, "per_iteration", 2, "scheduling_overhead", "-5");
    const r = await validate(d);
    expect(r.findings).toEqual([
      { code: "NEGATIVE_DURATION", severity: "error", file: rel(d, "per_iteration.csv"), line: 4, args: { column: "scheduling_overhead", value: -5, iteration_id: 2 } },
    ]);
  });

  test("a mismatched schema version: MANIFEST_SCHEMA_MISMATCH", async () => {
    const d = copy();
    const m = JSON.parse(readFileSync(path.join(d, "manifest.json"), "utf8"));
    m.output_schema_version = "2.0";
    writeFileSync(path.join(d, "manifest.json"), JSON.stringify(m));
    const r = await validate(d);
    expect(r.findings).toEqual([
      { code: "MANIFEST_SCHEMA_MISMATCH", severity: "error", file: rel(d, "manifest.json"), args: { found: "2.0", supported: OUTPUT_SCHEMA_VERSION, supported_major: 1 } },
    ]);
  });

  test("a newer minor schema: a warning, and its appended columns are accepted", async () => {
    const d = copy();
    const m = JSON.parse(readFileSync(path.join(d, "manifest.json"), "utf8"));
    m.output_schema_version = "1.9";
    // a newer writer lists its appended column in the manifest too
    const events = m.tables.find((t: { name: string }) => t.name === "events");
    events.columns.push({ name: "new_column", kind: "string", unit: "", nullable: true, description: "appended by a newer minor" });
    writeFileSync(path.join(d, "manifest.json"), JSON.stringify(m));
    writeGrid(file(d, "events"), grid(file(d, "events")).map((r, i) => [...r, i === 0 ? "new_column" : "x"]));
    const r = await validate(d);
    expect(codes(r.findings)).toEqual(["MANIFEST_SCHEMA_NEWER"]);
    expect(r.counts.error).toBe(0);
  });

  test("a truncated file: CSV_TRUNCATED only (the cut row and the joins it breaks are not reported)", async () => {
    for (const t of ["per_request", "per_iteration_requests", "events"]) {
      const d = copy();
      const text = readFileSync(file(d, t), "utf8");
      const cut = text.slice(0, Math.floor(text.length * 0.6));
      writeFileSync(file(d, t), cut);
      const r = await validate(d);
      expect(codes(r.findings), t).toEqual(["CSV_TRUNCATED"]);
      const f = r.findings[0];
      expect(f.file).toBe(rel(d, `${t}.csv`));
      expect(f.line).toBe(cut.split("\n").length);
      expect(f.args.unterminated).toBe(true);
      expect(f.args.rows).toBe(cut.split("\n").length - 2);
    }
  });

  test("a file cut at a line boundary: CSV_TRUNCATED against the manifest's row count", async () => {
    const d = copy();
    const lines = readFileSync(file(d, "state_transitions"), "utf8").split("\n");
    writeFileSync(file(d, "state_transitions"), lines.slice(0, 11).join("\n") + "\n");
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.args.rows, f.args.expected])).toEqual([["CSV_TRUNCATED", 10, lines.length - 2]]);
  });

  test("more rows than the manifest says: MANIFEST_ROW_COUNT_MISMATCH", async () => {
    const d = copy();
    const m = JSON.parse(readFileSync(path.join(d, "manifest.json"), "utf8"));
    m.tables[0].rows -= 1;
    writeFileSync(path.join(d, "manifest.json"), JSON.stringify(m));
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.args.table, f.args.manifest, f.args.actual])).toEqual([["MANIFEST_ROW_COUNT_MISMATCH", "per_request", m.tables[0].rows, m.tables[0].rows + 1]]);
  });

  test("per-cause waits that do not add up: WAIT_SUM_MISMATCH", async () => {
    const d = copy();
    const g = grid(file(d, "per_request"));
    const row = g.findIndex((r, i) => i > 0 && Number(r[g[0].indexOf("waiting_time")]) > 0) - 1;
    const c = g[0].indexOf("wait_max_num_seqs_ns");
    setCell(d, "per_request", row, "wait_max_num_seqs_ns", String(Number(g[row + 1][c]) + 7));
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line, f.args.request_id])).toEqual([["WAIT_SUM_MISMATCH", row + 2, g[row + 1][0]]]);
  });

  test("waiting + execution ≠ e2e, and e2e ≠ completion − arrival", async () => {
    const d = copy();
    const g = grid(file(d, "per_request"));
    const e = g[0].indexOf("execution_time");
    setCell(d, "per_request", 2, "execution_time", String(Number(g[3][e]) + 1));
    const a = g[0].indexOf("arrival_time");
    const w = g[0].indexOf("wait_arrived_after_decision_ns");
    void w;
    setCell(d, "per_request", 4, "arrival_time", String(Number(g[5][a]) - 3));
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line])).toEqual([
      ["LATENCY_SUM_MISMATCH", 4],
      ["E2E_MISMATCH", 6],
    ]);
  });

  test("KV used above total, tokens that do not add up, iterations out of order, batch size", async () => {
    const d = copy();
    const g = grid(file(d, "per_iteration"));
    const h = g[0];
    g[3][h.indexOf("kv_cache_used")] = String(Number(g[3][h.indexOf("kv_cache_total")]) + 1);
    g[4][h.indexOf("total_tokens")] = String(Number(g[4][h.indexOf("total_tokens")]) + 1);
    const busy = g.findIndex((r, i) => i > 5 && Number(r[h.indexOf("batch_size")]) > 1);
    g[busy][h.indexOf("batch_size")] = String(Number(g[busy][h.indexOf("batch_size")]) - 1);
    [g[8], g[9]] = [g[9], g[8]];
    writeGrid(file(d, "per_iteration"), g);
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line])).toEqual([
      ["KV_USED_EXCEEDS_TOTAL", 4],
      ["TOKEN_SUM_MISMATCH", 5],
      ["ITERATION_ORDER", 10],
      ["BATCH_SIZE_MISMATCH", busy + 1],
    ]);
    expect(only(r.findings, "BATCH_SIZE_MISMATCH")[0].file).toBe(rel(d, "per_iteration.csv"));
  });

  test("events out of time order: EVENT_TIME_ORDER", async () => {
    const d = copy();
    const g = grid(file(d, "events"));
    const t = g[0].indexOf("timestamp");
    const i = g.findIndex((r, k) => k > 1 && Number(r[t]) > Number(g[k - 1][t]));
    [g[i], g[i - 1]] = [g[i - 1], g[i]];
    writeGrid(file(d, "events"), g);
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line])).toEqual([["EVENT_TIME_ORDER", i + 1]]);
  });

  test("rows that break the row schema: CSV_ROW_INVALID with column and line; short rows: CSV_FIELD_COUNT", async () => {
    const d = copy();
    setCell(d, "per_request", 3, "finish_reason", "banana");
    setCell(d, "per_iteration", 1, "batch_size", "1.5");
    setCell(d, "events", 2, "details", "{not json");
    const g = grid(file(d, "state_transitions"));
    g[5] = g[5].slice(0, 3);
    writeGrid(file(d, "state_transitions"), g);
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.file?.split("/").pop(), f.line, f.args.column])).toEqual([
      ["CSV_ROW_INVALID", "per_request.csv", 5, "finish_reason"],
      ["CSV_ROW_INVALID", "per_iteration.csv", 3, "batch_size"],
      ["CSV_ROW_INVALID", "events.csv", 4, "details"],
      ["CSV_FIELD_COUNT", "state_transitions.csv", 6, undefined],
    ]);
  });

  test("a duplicated request: DUPLICATE_REQUEST naming the first line", async () => {
    const d = copy();
    const g = grid(file(d, "per_request"));
    g.push(g[2]);
    writeGrid(file(d, "per_request"), g);
    const m = JSON.parse(readFileSync(path.join(d, "manifest.json"), "utf8"));
    m.tables[0].rows += 1;
    writeFileSync(path.join(d, "manifest.json"), JSON.stringify(m));
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line, f.args.first_line])).toEqual([["DUPLICATE_REQUEST", g.length, 3]]);
  });

  describe("request ids reused after finishing (fixture reused-ids, from vLLM's real scheduler)", () => {
    const reused = () => {
      const d = path.join(tmp, `case-${++n}`);
      cpSync(real.get("reused-ids")!, d, { recursive: true });
      const g = grid(file(d, "per_request"));
      const col = (c: string) => g[0].indexOf(c);
      const second = g.findIndex((r, i) => i > 0 && r[col("request_instance")] === "1");
      const first = g.findIndex((r, i) => i > 0 && r[col("request_id")] === g[second][col("request_id")] && r[col("request_instance")] === "0");
      return { d, g, col, first, second };
    };

    test("each lifetime has its own row and every table joins on request_instance", async () => {
      const { d, g, col, first, second } = reused();
      expect(first).toBeGreaterThan(0);
      expect(g.filter((r) => r[col("request_instance")] === "1")).toHaveLength(12);
      const id = g[second][col("request_id")];
      for (const t of ["per_iteration_requests", "events", "state_transitions"]) {
        const tg = grid(file(d, t));
        const inst = new Set(tg.filter((r) => r[tg[0].indexOf("request_id")] === id).map((r) => r[tg[0].indexOf("request_instance")]));
        expect([...inst].sort(), `${t} ${id}`).toEqual(["0", "1"]);
      }
    });

    test("a second lifetime that starts before the first ended: REQUEST_LIFETIMES_OVERLAP", async () => {
      const { d, g, col, first, second } = reused();
      g[second][col("arrival_time")] = String(Number(g[first][col("completion_time")]) - 1);
      // keep the row's own sums consistent, so the overlap is the only contradiction
      g[second][col("e2e_latency")] = String(Number(g[second][col("completion_time")]) - Number(g[second][col("arrival_time")]));
      g[second][col("execution_time")] = String(Number(g[second][col("e2e_latency")]) - Number(g[second][col("waiting_time")]));
      writeGrid(file(d, "per_request"), g);
      const r = await validate(d);
      expect(r.findings.map((f) => [f.code, f.line, f.args.request_id, f.args.request_instance])).toEqual([
        ["REQUEST_LIFETIMES_OVERLAP", second + 1, g[second][col("request_id")], 1],
      ]);
    });

    test("two rows claiming the same lifetime: DUPLICATE_REQUEST", async () => {
      const { d, g, col, first, second } = reused();
      g[second][col("request_instance")] = "0";
      writeGrid(file(d, "per_request"), g);
      const r = await validate(d);
      expect(only(r.findings, "DUPLICATE_REQUEST").map((f) => [f.line, f.args.first_line])).toEqual([[second + 1, first + 1]]);
    });
  });

  test("missing manifest and missing table", async () => {
    const d = copy();
    unlinkSync(path.join(d, "manifest.json"));
    unlinkSync(file(d, "state_transitions"));
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.file])).toEqual([
      ["MANIFEST_MISSING", rel(d, "manifest.json")],
      ["CSV_FILE_MISSING", rel(d, "state_transitions.csv")],
    ]);
  });

  test("a manifest that is not JSON", async () => {
    const d = copy();
    writeFileSync(path.join(d, "manifest.json"), "{ nope");
    expect(codes((await validate(d)).findings)).toEqual(["MANIFEST_INVALID"]);
  });

  test("a systematic problem is capped per file and code, with the rest counted", async () => {
    const d = copy();
    const g = grid(file(d, "per_iteration_requests"));
    const t = g[0].indexOf("time_in_state");
    for (let i = 1; i < g.length; i++) g[i][t] = "-1";
    writeGrid(file(d, "per_iteration_requests"), g);
    const r = await validateInputs([d], { maxPerCode: 10 });
    expect(only(r.findings, "NEGATIVE_DURATION")).toHaveLength(10);
    expect(only(r.findings, "FINDINGS_CAPPED")[0].args).toEqual({ of: "NEGATIVE_DURATION", more: g.length - 1 - 10 });
  });

  test("a version line before the header is allowed and counted in line numbers", async () => {
    const d = copy();
    setCell(d, "per_iteration", 2, "scheduling_overhead", "-5");
    for (const t of ["per_request", "per_iteration", "per_iteration_requests", "events", "state_transitions"]) {
      writeFileSync(file(d, t), `# vsched 0.1.0 schema 1.0 table ${t}\n${readFileSync(file(d, t), "utf8")}`);
    }
    const r = await validate(d);
    expect(r.findings.map((f) => [f.code, f.line])).toEqual([["NEGATIVE_DURATION", 5]]);
  });
});

describe("raw traces", () => {
  const data = (n: string) => path.join(ROOT, "test/data/convert", n);
  const lines = () => readFileSync(data("small.jsonl"), "utf8").trimEnd().split("\n");
  const trace = (ls: string[], name = `t${++n}.jsonl`) => {
    const p = path.join(tmp, name);
    writeFileSync(p, ls.join("\n") + "\n");
    return p;
  };
  const edit = (ls: string[], i: number, f: (o: Record<string, unknown>) => void) => {
    const o = JSON.parse(ls[i]);
    f(o);
    ls[i] = JSON.stringify(o);
    return ls;
  };
  const at = (r: Awaited<ReturnType<typeof validateInputs>>) => r.findings.map((f) => [f.code, f.line]);

  test("a good trace has no findings", async () => {
    const r = await validateInputs([data("small.jsonl")]);
    expect(r.kind).toBe("raw");
    expect(r.findings).toEqual([]);
  });

  test("recorded broken traces", async () => {
    // the same reader and engine as convert: the line convert stops at, then the engine's contradictions
    expect(at(await validateInputs([data("malformed.jsonl")]))).toEqual([
      ["RAW_MALFORMED_LINE", 7],
      ["ENGINE_UPDATE_UNKNOWN_STEP", 8],
      ["ENGINE_RUNNING_COUNT_MISMATCH", 9],
      ["ENGINE_TOKEN_COUNT_MISMATCH", 10],
      ["ENGINE_UNFINISHED_REQUESTS", undefined],
      ["ENGINE_REPEATED", undefined],
    ]);
    expect(at(await validateInputs([data("truncated.jsonl")]))).toEqual([
      ["RAW_TRUNCATED_TAIL", 12],
      ["ENGINE_UNFINISHED_REQUESTS", undefined],
      ["RAW_END_MISSING", undefined],
    ]);
    expect(at(await validateInputs([data("schema-v2.jsonl")]))).toEqual([["RAW_UNSUPPORTED_SCHEMA", 1]]);
    const u = await validateInputs([data("unknown-types.jsonl")]);
    expect(u.findings.map((f) => [f.code, f.severity, f.args.types])).toEqual([["RAW_UNKNOWN_TYPE", "warning", "'kv_event' ×2, 'spec_decode' ×1"]]);
  });

  test("an invalid record: RAW_INVALID_RECORD with the field path, the same code convert stops with", async () => {
    const r = await validateInputs([trace(edit(lines(), 4, (o) => (o.free_blocks = -1)))]);
    // the skipped step then leaves its update without a step: the engine says so too
    expect(r.findings.slice(0, 2).map((f) => [f.code, f.line, f.args.type ?? null, f.args.path ?? null])).toEqual([
      ["RAW_INVALID_RECORD", 5, "step", "free_blocks"],
      ["ENGINE_UPDATE_UNKNOWN_STEP", 6, null, null],
    ]);
  });

  test("no header first, a second header, a line that is not a record, an empty file", async () => {
    const ls = lines();
    expect(at(await validateInputs([trace(ls.slice(1))]))).toEqual([["RAW_MISSING_HEADER", 1]]);
    expect(at(await validateInputs([trace([...ls.slice(0, 3), ls[0], ...ls.slice(3)])]))).toEqual([["RAW_DUPLICATE_HEADER", 4]]);
    expect(at(await validateInputs([trace([...ls.slice(0, 2), "[1,2]", ...ls.slice(2)])]))).toEqual([["RAW_NOT_A_RECORD", 3]]);
    expect(at(await validateInputs([trace([])]))).toEqual([["RAW_MISSING_HEADER", 1]]);
  });

  test("steps out of order, an update for an unknown step, an unknown request, a second arrival", async () => {
    const ls = lines();
    edit(ls, 6, (o) => (o.step = 0)); // step 1 → 0
    edit(ls, 9, (o) => (o.step = 7)); // update of step 2 → 7
    edit(ls, 10, (o) => ((o.sched as [string, number, number][])[0][0] = "nobody"));
    ls.splice(4, 0, ls[1]); // r1 arrives again while live
    const r = await validateInputs([trace(ls)]);
    expect(r.findings.filter((f) => f.severity !== "info").map((f) => [f.code, f.line, f.args.request_id ?? f.args.step])).toEqual([
      ["ENGINE_DUPLICATE_ARRIVAL", 5, "r1"],
      ["RAW_TIME_ORDER", 5, undefined], // the copied arrival line goes back in time too
      ["RAW_STEP_ORDER", 8, 0],
      ["ENGINE_UPDATE_UNKNOWN_STEP", 9, 1], // step 1 was renumbered away (engine findings: the first of each code)
      ["ENGINE_RUNNING_COUNT_MISMATCH", 10, 2],
      ["ENGINE_UNKNOWN_REQUEST", 12, "nobody"],
      ["ENGINE_TOKEN_COUNT_MISMATCH", 13, "r3"],
    ]);
  });

  test("an end record that disagrees with the file", async () => {
    const r = await validateInputs([trace(edit(lines(), 12, (o) => (o.steps = 9)))]);
    expect(r.findings.map((f) => [f.code, f.severity, f.line, f.args.end, f.args.actual])).toEqual([["RAW_END_MISMATCH", "warning", 13, 9, 4]]);
  });

  test("gzip traces are read", async () => {
    const { gzipSync } = await import("node:zlib");
    const p = path.join(tmp, "g.jsonl.gz");
    writeFileSync(p, gzipSync(readFileSync(data("small.jsonl"))));
    expect((await validateInputs([p])).findings).toEqual([]);
  });

  test("unreadable input throws InputError (exit 2), not findings", async () => {
    await expect(validateInputs([path.join(tmp, "nope.jsonl")])).rejects.toMatchObject({ code: "RAW_NOT_FOUND", exitCode: 2 });
    await expect(validateInputs([good, data("small.jsonl")])).rejects.toMatchObject({ code: "VALIDATE_MIXED_INPUTS", exitCode: 2 });
  });
});

describe("validate goldens (built CLI)", () => {
  let bad: string;
  beforeAll(() => {
    bad = path.join(tmp, "bad");
    cpSync(good, bad, { recursive: true });
    const g = grid(file(bad, "per_request"));
    const i = g[0].indexOf("tpot");
    writeGrid(file(bad, "per_request"), g.map((r) => r.filter((_, j) => j !== i)));
    setCell(bad, "events", 4, "request_id", "ghost-1");
    setCell(bad, "per_iteration", 2, "forward_duration", "-12");
    const m = JSON.parse(readFileSync(path.join(bad, "manifest.json"), "utf8"));
    // the manifest describes the edited file, so the dropped column is reported once, as CSV_COLUMN_MISSING
    m.tables = m.tables.map((t: { name: string; columns: { name: string }[] }) => (t.name === "per_request" ? { ...t, columns: t.columns.filter((c) => c.name !== "tpot") } : t));
    writeFileSync(path.join(bad, "manifest.json"), JSON.stringify(m));
    for (const name of ["small.jsonl", "malformed.jsonl", "truncated.jsonl"]) cpSync(path.join(ROOT, "test/data/convert", name), path.join(tmp, "traces", name));
  });
  for (const format of ["text", "json", "github"]) {
    test(`findings as ${format}`, async () => {
      const r = await runCli(["validate", "bad", "--format", format], { cwd: tmp });
      expect(r.exitCode).toBe(1);
      expectGolden(`test/golden/validate-logs-${format}.md`, r);
    });
  }
  test("raw traces, a directory of them", async () => {
    const r = await runCli(["validate", "traces"], { cwd: tmp });
    expect(r.exitCode).toBe(1);
    expectGolden("test/golden/validate-raw-text.md", r);
  });
  test("raw traces as github annotations", async () => {
    const r = await runCli(["validate", "traces/malformed.jsonl", "traces/truncated.jsonl", "--format", "github"], { cwd: tmp });
    expectGolden("test/golden/validate-raw-github.md", r);
  });
});

describe("docs/validate.md", () => {
  test("documents every code validate can report, each with wording", async () => {
    const { VALIDATE_CODES, hasWording } = await import("../src/render/findings-text.js");
    const doc = readFileSync(path.join(ROOT, "docs/validate.md"), "utf8");
    for (const code of [...VALIDATE_CODES, "FINDINGS_CAPPED"]) {
      expect(doc, code).toContain(`\`${code}\``);
      expect(hasWording(code), code).toBe(true);
    }
  });
});

describe("input dispatch", () => {
  test("a table file given alone points to its directory (exit 2)", async () => {
    await expect(validateInputs([path.join(good, "per_request.csv")])).rejects.toMatchObject({ code: "VALIDATE_NOT_A_TRACE", exitCode: 2 });
  });
  test("a directory with neither tables nor traces (exit 2)", async () => {
    const d = path.join(tmp, "empty-dir");
    (await import("node:fs")).mkdirSync(d, { recursive: true });
    await expect(validateInputs([d])).rejects.toMatchObject({ code: "RAW_NO_TRACES", exitCode: 2 });
  });
});
