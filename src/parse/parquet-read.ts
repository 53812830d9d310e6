import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from "hyparquet";
import type { z } from "zod";
import { columnMeta, type ColumnKind } from "../schema/columns.js";
import { TABLES, tableColumns, type TableName } from "../schema/tables.js";
import { InputError } from "../core/errors.js";
import { parquetFileName } from "../logs/layout.js";
import type { CsvRecord } from "../logs/csv-read.js";

/**
 * Typed rows of vsched's Parquet tables, streamed one row group at a time (memory holds
 * one row group, never the table). The rows are the objects the CSV reader yields
 * (logs/csv-read.ts coerceRow): integers as numbers, epoch ns as decimal strings, floats as
 * numbers, and null for what the CSV writes as an empty field (an empty string too: the
 * CSV reader cannot tell the two apart). Floats carry full precision here; the CSV
 * rounds them to 6 decimals.
 *
 * A table is `<dir>/<table>.parquet`, or a hive-style directory `<dir>/<table>/` of
 * `<column>=<value>/part-<n>.parquet` files (convert --partition-by): the partition
 * column comes from the path, in its schema position, ordered by value then part.
 */

export interface ParquetTablePart {
  file: string;
  /** columns taken from the path (hive partitions), as typed values */
  fromPath: Record<string, number | string>;
}

/** The files of a table in a logs directory, in reading order; null when it has no Parquet form. */
export function parquetTableFiles(dir: string, table: TableName): ParquetTablePart[] | null {
  const single = path.join(dir, parquetFileName(table));
  if (existsSync(single)) return [{ file: single, fromPath: {} }];
  const root = path.join(dir, table);
  if (!existsSync(root) || !statSync(root).isDirectory()) return null;
  const parts: (ParquetTablePart & { key: (number | string)[] })[] = [];
  const walk = (d: string, fromPath: Record<string, number | string>, key: (number | string)[]) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const m = /^([^=]+)=(.*)$/.exec(name);
      if (m && statSync(p).isDirectory()) {
        const value = /^-?\d+$/.test(m[2]) ? Number(m[2]) : decodeURIComponent(m[2]);
        walk(p, { ...fromPath, [m[1]]: value }, [...key, value]);
      } else if (name.endsWith(".parquet")) {
        const part = /^part-(\d+)\.parquet$/.exec(name);
        parts.push({ file: p, fromPath, key: [...key, part ? Number(part[1]) : name] });
      }
    }
  };
  walk(root, {}, []);
  parts.sort((a, b) => compareKeys(a.key, b.key));
  return parts.map(({ file, fromPath }) => ({ file, fromPath }));
}

function compareKeys(a: (number | string)[], b: (number | string)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (typeof a[i] === "number" && typeof b[i] === "number") return (a[i] as number) - (b[i] as number);
    return String(a[i]) < String(b[i]) ? -1 : 1;
  }
  return a.length - b.length;
}

function toRowValue(v: unknown, kind: ColumnKind): unknown {
  if (v === null || v === undefined) return null;
  switch (kind) {
    case "int":
      return typeof v === "bigint" ? Number(v) : v;
    case "epoch_ns":
      return typeof v === "bigint" ? v.toString() : String(v);
    case "float":
      return v;
    default:
      return v === "" ? null : v;
  }
}

/**
 * Yields the rows of one Parquet file, one batch per row group. Columns the file lacks
 * are taken from `fromPath` when given there (partition columns); unknown columns in
 * the file are passed through as strings would be (the row schema reports them).
 */
/**
 * One part's rows, a row group a batch. `onColumns` hears the part's columns (those its file
 * holds, then those its path gives) before the first batch: validate judges them.
 */
export async function* readParquetFileBatches(part: ParquetTablePart, table: TableName, onColumns?: (columns: string[]) => void): AsyncGenerator<CsvRecord[]> {
  const file = await unreadable(part.file, () => asyncBufferFromFile(part.file));
  const metadata = await unreadable(part.file, () => parquetMetadataAsync(file));
  const fileColumns = parquetSchema(metadata).children.map((c) => c.element.name);
  onColumns?.([...fileColumns, ...Object.keys(part.fromPath)]);
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  const kinds = fileColumns.map((c) => (Object.hasOwn(shape, c) ? columnMeta(shape[c]).kind : "string"));
  // output key order: the table's columns first (the CSV header order), then extras
  const order = [...tableColumns(table).filter((c) => fileColumns.includes(c) || c in part.fromPath), ...fileColumns.filter((c) => !Object.hasOwn(shape, c))];
  const index = new Map(fileColumns.map((c, i) => [c, i]));
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    let rows: unknown[][] = [];
    await unreadable(part.file, () => parquetRead({ file, metadata, rowStart: start, rowEnd: end, columns: fileColumns, onComplete: (r) => (rows = r) }));
    const out: CsvRecord[] = new Array(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const src = rows[k];
      const rec: CsvRecord = {};
      for (const c of order) {
        const i = index.get(c);
        rec[c] = i === undefined ? part.fromPath[c] : toRowValue(src[i], kinds[i]);
      }
      out[k] = rec;
    }
    start = end;
    if (out.length) yield out;
  }
}

/** A file that cannot be opened or decoded is bad input (exit 2) naming the file, not a crash. */
async function unreadable<T>(file: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const why = (e as Error).message.replace(/^[A-Z]+: /, "");
    throw new InputError(`not a readable Parquet file: ${why}`, "PARQUET_UNREADABLE", file);
  }
}

/** Every row of a table in a logs directory, in order, in row-group batches (null table: no Parquet files). */
export async function* readParquetTable(dir: string, table: TableName): AsyncGenerator<CsvRecord[]> {
  const parts = parquetTableFiles(dir, table);
  if (!parts) throw new InputError(`no ${table}.parquet nor ${table}/ partitions in this directory`, "PARQUET_TABLE_MISSING", dir);
  for (const part of parts) yield* readParquetFileBatches(part, table);
}
