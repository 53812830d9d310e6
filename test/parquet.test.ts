import { createWriteStream, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { describe, expect, it } from "vitest";
import { runConvert, type ConvertOptions } from "../src/cli/commands/convert.js";
import { forEachCsvRow, type CsvRecord } from "../src/logs/csv-read.js";
import { readParquetFileBatches, readParquetTable } from "../src/parse/parquet-read.js";
import { formatFloat } from "../src/logs/csv-format.js";
import { columnMeta } from "../src/schema/columns.js";
import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, TABLES, tableColumns, tableColumnsAt, type TableName } from "../src/schema/tables.js";
import { parquetKeyValues } from "../src/sinks/parquet-schema.js";
import { ParquetTableWriter } from "../src/sinks/parquet-writer.js";
import { FIXTURES, traceFiles } from "./helpers/fixtures.js";
import { runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

const sink = () => Object.assign(new PassThrough(), { isTTY: false });

async function convert(inputs: string[], out: string, extra: Partial<ConvertOptions> = {}): Promise<number> {
  return runConvert({
    inputs,
    out,
    lenient: false,
    versionHeader: false,
    iterationRequests: "all",
    iterationRequestsEvery: 1,
    scheduledEvents: true,
    quiet: true,
    stderr: sink(),
    ...extra,
  });
}

async function csvRows(file: string, table: TableName): Promise<CsvRecord[]> {
  const rows: CsvRecord[] = [];
  await forEachCsvRow(file, table, (r) => rows.push(r));
  return rows;
}

async function collect(batches: AsyncGenerator<CsvRecord[]>): Promise<CsvRecord[]> {
  const rows: CsvRecord[] = [];
  for await (const b of batches) rows.push(...b);
  return rows;
}

/** The CSV holds floats to 6 decimals: compare a Parquet row at the CSV's precision. */
function asCsvWould(row: CsvRecord, table: TableName): CsvRecord {
  const shape = TABLES[table].shape as Record<string, import("zod").ZodType>;
  const out: CsvRecord = {};
  for (const [k, v] of Object.entries(row)) {
    const kind = columnMeta(shape[k]).kind;
    out[k] = kind === "float" && typeof v === "number" ? Number(formatFloat(v)) : v;
  }
  return out;
}

const FIXTURE = path.join(FIXTURES, "kv-pressure-preempt", "vsched-1-dp0.jsonl");

describe("Parquet tables", () => {
  it("read back as the same typed rows the CSV reader yields, for every table", async () => {
    const out = path.join(tmpDir(), "logs");
    // an ISRTF run: its trace has predictions, so every table has rows
    expect(await convert(traceFiles("ab-isrtf-oracle"), out, { format: "both" })).toBe(0);
    for (const table of TABLE_NAMES) {
      const fromCsv = await csvRows(path.join(out, `${table}.csv`), table);
      const fromParquet = await collect(readParquetTable(out, table));
      expect(fromCsv.length, table).toBeGreaterThan(0);
      expect(fromParquet.map((r) => asCsvWould(r, table)), table).toEqual(fromCsv);
      expect(Object.keys(fromParquet[0]), table).toEqual(Object.keys(fromCsv[0]));
    }
    const epoch = (await collect(readParquetTable(out, "per_request")))[0].arrival_time_epoch_ns;
    expect(typeof epoch).toBe("string");
    expect(BigInt(epoch as string) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it("--format parquet writes no CSV; the manifest lists the Parquet files", async () => {
    const out = path.join(tmpDir(), "logs");
    await convert([FIXTURE], out, { format: "parquet" });
    expect(existsSync(path.join(out, "per_request.csv"))).toBe(false);
    const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.csv).toBeUndefined();
    expect(manifest.tables.map((t: { parquet_files: string[] }) => t.parquet_files)).toEqual(TABLE_NAMES.map((t) => [`${t}.parquet`]));
  });

  it("streams row groups of the configured size, pages within them, and reads them back group by group", async () => {
    const out = path.join(tmpDir(), "logs");
    await convert([FIXTURE], out);
    const rows = await csvRows(path.join(out, "per_iteration_requests.csv"), "per_iteration_requests");
    const file = path.join(out, "small-groups.parquet");
    const w = new ParquetTableWriter("per_iteration_requests", createWriteStream(file), {
      kvMetadata: parquetKeyValues("per_iteration_requests", "test"),
      rowGroupRows: 1000,
      pageRows: 300,
    });
    for (const r of rows) w.write(r as never);
    await w.close();
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(file));
    expect(rows.length).toBeGreaterThan(2000);
    expect(meta.row_groups.length).toBe(Math.ceil(rows.length / 1000));
    expect(meta.row_groups.every((g) => Number(g.num_rows) <= 1000)).toBe(true);
    // at most 300 rows a page: a full group is four pages of 250 in every column
    for (const c of meta.row_groups[0].columns) {
      const pages = c.meta_data!.encoding_stats!.filter((s) => s.page_type === "DATA_PAGE_V2");
      expect(pages.map((s) => s.count), c.meta_data!.path_in_schema.join(".")).toEqual([4]);
    }
    const ids = meta.row_groups[0].columns.find((c) => c.meta_data!.path_in_schema[0] === "request_id")!.meta_data!;
    expect(ids.encodings).toContain("RLE_DICTIONARY");
    expect(ids.dictionary_page_offset).toBeDefined();
    const batches: number[] = [];
    const back: CsvRecord[] = [];
    for await (const b of readParquetFileBatches({ file, fromPath: {} }, "per_iteration_requests")) {
      batches.push(b.length);
      back.push(...b);
    }
    expect(batches.length).toBe(meta.row_groups.length);
    expect(back).toEqual(rows);
    const kv = Object.fromEntries((meta.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    expect(kv["vsched.output_schema_version"]).toBe(OUTPUT_SCHEMA_VERSION);
  });

  it("--partition-by dp_rank: hive directories read back as the CSV's rows, rank by rank", async () => {
    const out = path.join(tmpDir(), "logs");
    // two ranks recorded from the real scheduler (dp-rank-1 is rank 1)
    await convert([...traceFiles("kv-pressure-preempt"), ...traceFiles("dp-rank-1")], out, { format: "both", partitionBy: "dp_rank" });
    expect(existsSync(path.join(out, "per_iteration_requests", "dp_rank=1", "part-0.parquet"))).toBe(true);
    // no prediction in these runs: that table has no partition to read
    expect(await csvRows(path.join(out, "predictions.csv"), "predictions")).toEqual([]);
    for (const table of TABLE_NAMES.filter((t) => t !== "predictions")) {
      const fromCsv = (await csvRows(path.join(out, `${table}.csv`), table)).sort((a, b) => (a.dp_rank as number) - (b.dp_rank as number));
      const fromParquet = await collect(readParquetTable(out, table));
      expect(new Set(fromCsv.map((r) => r.dp_rank)), table).toEqual(new Set([0, 1]));
      expect(fromParquet.map((r) => asCsvWould(r, table)), table).toEqual(fromCsv);
    }
  });

  it("a converted directory is replaced whole, partitions included", async () => {
    const out = path.join(tmpDir(), "logs");
    await convert([FIXTURE], out, { format: "parquet", partitionBy: "dp_rank" });
    await convert([FIXTURE], out, { format: "parquet", partitionBy: "dp_rank" });
    expect((await collect(readParquetTable(out, "per_request"))).length).toBeGreaterThan(0);
  });

  it("--partition-by without Parquet output is a usage error; a corrupt file is bad input naming it", async () => {
    await expect(convert([FIXTURE], path.join(tmpDir(), "x"), { partitionBy: "dp_rank" })).rejects.toMatchObject({ exitCode: 2 });
    const dir = tmpDir();
    writeFileSync(path.join(dir, "per_request.parquet"), "PAR1 not really");
    await expect(collect(readParquetTable(dir, "per_request"))).rejects.toMatchObject({ code: "PARQUET_UNREADABLE", exitCode: 2 });
  });

  it("vsched validate reads a Parquet-only directory: clean output passes, a broken row is found", async () => {
    const dir = tmpDir();
    const out = path.join(dir, "logs");
    await convert([FIXTURE], out, { format: "parquet", partitionBy: "dp_rank" });
    const ok = await runCli(["validate", out]);
    expect([ok.exitCode, ok.stderr]).toEqual([0, ""]);
    // rewrite one partition with a request whose waiting time is negative
    const file = path.join(out, "per_request", "dp_rank=0", "part-0.parquet");
    const rows = await collect(readParquetFileBatches({ file, fromPath: { dp_rank: 0 } }, "per_request"));
    rows[2] = { ...rows[2], waiting_time: -5 };
    const w = new ParquetTableWriter("per_request", createWriteStream(file), { kvMetadata: parquetKeyValues("per_request", "test"), omit: ["dp_rank"] });
    for (const r of rows) w.write(r as never);
    await w.close();
    const bad = await runCli(["validate", out]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/per_request\/dp_rank=0\/part-0\.parquet:3/);
  });

  it("validate judges a Parquet directory's columns by its own minor: without the columns 1.4 appended it is clean as 1.3 and wrong as 1.4", async () => {
    const out = path.join(tmpDir(), "logs");
    await convert([FIXTURE], out, { format: "parquet" });
    const file = path.join(out, "per_request.parquet");
    const rows = await collect(readParquetFileBatches({ file, fromPath: {} }, "per_request"));
    const older = new Set(tableColumnsAt("per_request", "1.3"));
    const appended = tableColumns("per_request").filter((c) => !older.has(c));
    expect(appended).toEqual(["wait_kv_load_cap_ns", "wait_cache_aware_outranked_ns"]);
    const w = new ParquetTableWriter("per_request", createWriteStream(file), { kvMetadata: parquetKeyValues("per_request", "test"), omit: appended });
    for (const r of rows) w.write(r as never);
    await w.close();

    const asCurrent = await runCli(["validate", "--format", "json", out]);
    expect(asCurrent.exitCode).toBe(1);
    const found = JSON.parse(asCurrent.stdout).findings as { code: string; file: string; args: Record<string, unknown> }[];
    expect(found.filter((f) => f.code === "CSV_COLUMN_MISSING").map((f) => [f.file.endsWith("per_request.parquet"), f.args.column])).toEqual([
      [true, "wait_kv_load_cap_ns"],
      [true, "wait_cache_aware_outranked_ns"],
    ]);
    expect(found.filter((f) => f.code === "CSV_ROW_INVALID")).toEqual([]); // one finding for the file, not one per row

    // the other tables as 1.2 wrote them too: without what later minors appended (1.4: per_iteration's gpu_*)
    for (const name of ["per_iteration", "per_iteration_requests", "events", "state_transitions", "predictions"] as const) {
      const omit = tableColumns(name).filter((c) => !tableColumnsAt(name, "1.2").includes(c));
      if (omit.length === 0) continue;
      const f = path.join(out, `${name}.parquet`);
      const all = await collect(readParquetFileBatches({ file: f, fromPath: {} }, name));
      const tw = new ParquetTableWriter(name, createWriteStream(f), { kvMetadata: parquetKeyValues(name, "test"), omit });
      for (const r of all) tw.write(r as never);
      await tw.close();
    }
    const manifestFile = path.join(out, "manifest.json");
    const m = JSON.parse(readFileSync(manifestFile, "utf8"));
    m.output_schema_version = "1.3";
    for (const t of m.tables) t.columns = t.columns.filter((c: { name: string }) => tableColumnsAt(t.name, "1.3").includes(c.name));
    writeFileSync(manifestFile, JSON.stringify(m, null, 2) + "\n");
    const asOlder = await runCli(["validate", out]);
    expect([asOlder.exitCode, asOlder.stderr]).toEqual([0, ""]);
  });
});
