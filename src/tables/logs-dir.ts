import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../core/errors.js";
import { unprefixSafeCell } from "../logs/csv-format.js";
import { csvFileName, MANIFEST_FILE } from "../logs/layout.js";
import { forEachCsvRow, readCsvHeader } from "../logs/csv-read.js";
import { readParquetTable } from "../parse/parquet-read.js";
import { Manifest } from "../schema/manifest.js";
import { columnMeta } from "../schema/columns.js";
import { TABLES, TABLE_NAMES, tableColumns, type TableName } from "../schema/tables.js";
import type { RowHandlers, RunInfo, TableRow, TableSource } from "./types.js";
import { readJsonFile } from "../parse/json-file.js";

/** A logs directory as a TableSource: manifest.json through its zod schema, the CSVs streamed and typed. */
export async function openLogsDir(dir: string, display = dir): Promise<TableSource> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError("no such logs directory (run vsched convert first)", "LOGS_DIR_NOT_FOUND", display);
  const manifest = readManifestFile(dir, display);
  // the manifest says what convert wrote: CSVs of an earlier run may sit beside Parquet files
  if (manifest && !manifest.csv && manifest.parquet) return parquetSource(dir, display, manifest);
  const headers = new Map<TableName, string[]>();
  for (const t of TABLE_NAMES) {
    const file = join(dir, csvFileName(t));
    if (existsSync(file)) headers.set(t, await readCsvHeader(file, join(display, csvFileName(t))));
  }
  return {
    info: runInfo(manifest, display),
    columns: (t) => headers.get(t) ?? null,
    async scan(handlers: RowHandlers) {
      for (const t of TABLE_NAMES) {
        const onRow = handlers[t] as ((row: TableRow<TableName>) => void) | undefined;
        if (!onRow || !headers.has(t)) continue;
        const missing = tableColumns(t).filter((c) => !headers.get(t)!.includes(c));
        const typed = typedColumns(t, headers.get(t)!);
        // convert --spreadsheet-safe prefixed text cells with ': strip it, so ids read back exactly
        const quoted = manifest?.options.spreadsheet_safe ? typed.filter((c) => c.text).map((c) => c.name) : [];
        const file = join(display, csvFileName(t));
        await forEachCsvRow(join(dir, csvFileName(t)), t, (rec, line) => {
          checkCells(rec, typed, file, line);
          for (const c of quoted) {
            const v = rec[c];
            if (typeof v === "string") rec[c] = unprefixSafeCell(v);
          }
          for (const c of missing) rec[c] = null;
          onRow(rec as TableRow<TableName>);
        });
      }
    },
  };
}

function readManifestFile(dir: string, display: string): Manifest | null {
  const path = join(dir, MANIFEST_FILE);
  return existsSync(path) ? readJsonFile(Manifest, path, "MANIFEST_INVALID", join(display, MANIFEST_FILE)) : null;
}

function runInfo(m: Manifest | null, display: string): RunInfo {
  return {
    origin: "logs",
    label: display,
    outputSchemaVersion: m?.output_schema_version ?? null,
    epochZeroNs: m?.time.epoch_zero_ns ?? null,
    sources: (m?.sources ?? []).map((s) => ({ path: s.path, header: s.header as RunInfo["sources"][number]["header"], timeOffsetNs: s.time_offset_ns })),
    options: {
      iterationRequests: m?.options.iteration_requests ?? "all",
      iterationRequestsEvery: m?.options.iteration_requests_every ?? 1,
      scheduledEvents: m?.options.scheduled_events ?? true,
    },
  };
}

interface TypedColumn {
  name: string;
  numeric: boolean;
  /** free text (ids), the cells --spreadsheet-safe may prefix */
  text: boolean;
  nullable: boolean;
}

/** The stored columns this vsched declares, with what their cells must hold. */
function typedColumns(table: TableName, header: readonly string[]): TypedColumn[] {
  const shape = TABLES[table].shape as Record<string, import("zod").ZodType>;
  return header
    .filter((c) => Object.hasOwn(shape, c))
    .map((c) => ({ name: c, numeric: ["int", "float"].includes(columnMeta(shape[c]).kind), text: columnMeta(shape[c]).kind === "string", nullable: shape[c].safeParse(null).success }));
}

/**
 * Rows reach analyses typed, so a cell that is not of its column's type stops the command
 * here with file, line and column, instead of turning into NaN figures later. (validate
 * checks every cell against the full row schema; this is the cheap part of it.)
 */
function checkCells(rec: Record<string, unknown>, cols: readonly TypedColumn[], file: string, line: number): void {
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i];
    const v = rec[c.name];
    if (v === null || v === undefined ? !c.nullable : c.numeric && (typeof v !== "number" || Number.isNaN(v))) {
      const shown = v === null || v === undefined ? "an empty cell" : `'${String(v).slice(0, 40)}'`;
      throw new InputError(`column ${c.name}: ${shown} is not ${c.numeric ? "a number" : "a value"}; run vsched validate for every problem`, "LOGS_VALUE_INVALID", file, line);
    }
  }
}

/** convert --format parquet: the same typed rows, read row group by row group. */
function parquetSource(dir: string, display: string, manifest: Manifest): TableSource {
  const present = new Set(manifest.tables.filter((t) => t.parquet_files?.length).map((t) => t.name));
  return {
    info: runInfo(manifest, display),
    columns: (t) => (present.has(t) ? tableColumns(t) : null),
    async scan(handlers: RowHandlers) {
      for (const t of TABLE_NAMES) {
        const onRow = handlers[t] as ((row: TableRow<TableName>) => void) | undefined;
        if (!onRow || !present.has(t)) continue;
        for await (const batch of readParquetTable(dir, t)) for (const rec of batch) onRow(rec as TableRow<TableName>);
      }
    },
  };
}
