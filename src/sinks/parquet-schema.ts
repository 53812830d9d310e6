import type { ColumnSource, ParquetWriter } from "hyparquet-writer";
import type { writeIndexes } from "hyparquet-writer/src/indexes.js";
import type { writeMetadata } from "hyparquet-writer/src/metadata.js";
import type { z } from "zod";
import { columnMeta, type ColumnKind } from "../schema/columns.js";
import { OUTPUT_SCHEMA_VERSION, TABLES, tableColumns, type TableName } from "../schema/tables.js";
import { UsageError } from "../core/errors.js";

/**
 * The Parquet form of every output table, derived from the same zod declarations as the
 * CSV (src/schema/tables.ts, column kinds in src/schema/columns.ts), in the same column order:
 *   - int       → INT64 (relative ns, counts): never a float, nullable as zod says;
 *   - epoch_ns  → INT64 (the decimal strings of the rows, through BigInt: they exceed 2^53);
 *                 both DELTA_BINARY_PACKED: times rise step by step and counts stay small, so
 *                 deltas pack into a few bits (half the size of PLAIN + snappy here), and the
 *                 writer then takes plain numbers for relative ns (no BigInt per cell);
 *   - float     → DOUBLE; NaN and ±Infinity become null, as the CSV writes them empty;
 *   - string    → UTF8, dictionary-encoded (ids, states, reasons, actions repeat row after
 *                 row); per_request.request_id is the one unique key and is PLAIN (a
 *                 dictionary of unique values only adds indexes);
 *   - json      → UTF8 text, exactly the CSV's text (no JSON logical type: pandas, Polars
 *                 and DuckDB read it as a plain string everywhere, as they read the CSV);
 *                 dictionary-encoded in a row group where that halves its bytes.
 * Key-value metadata carries the schema version, the table and every column's unit.
 */

// hyparquet-writer's own copy of hyparquet's types (it may pin another version than ours)
type WriterOptions = ConstructorParameters<typeof ParquetWriter>[0];
export type SchemaElement = WriterOptions["schema"][number];
export type KeyValue = NonNullable<WriterOptions["kvMetadata"]>[number];
type Encoding = NonNullable<ColumnSource["encoding"]>;
/** the footer and its parts, as hyparquet-writer's writeMetadata and writeIndexes take them */
export type FileMetaData = Parameters<typeof writeMetadata>[1];
export type RowGroup = FileMetaData["row_groups"][number];
export type ChunkIndexes = Parameters<typeof writeIndexes>[1][number];
export type ColumnChunk = ChunkIndexes["chunk"];
export type OffsetIndex = NonNullable<ChunkIndexes["offsetIndex"]>;

/**
 * Rows per row group: ~100k, what pandas, Polars and DuckDB read well (a row group is their
 * unit of work and of skipping). Memory does not depend on it (each column encodes a page at
 * a time, parquet-chunk.ts), so it is a file-layout choice; VSCHED_PARQUET_ROW_GROUP_ROWS in the
 * environment overrides it (bench/parquet-writer-rss.mjs measures other sizes with it).
 */
export const PARQUET_ROW_GROUP_ROWS = 100_000;

/** The row-group size in effect: PARQUET_ROW_GROUP_ROWS unless the environment sets another. */
export function parquetRowGroupRows(): number {
  return positiveIntFromEnv("VSCHED_PARQUET_ROW_GROUP_ROWS") ?? PARQUET_ROW_GROUP_ROWS;
}

/**
 * Data pages: each column holds one page of raw values (8 bytes a value, +1 for a nullable
 * column's definition level) before it encodes and compresses it, so a writer holds about
 * PARQUET_PAGE_BYTES raw, whatever its row-group size. The page rows follow from the
 * table's width, and the group is cut into pages of equal length: per_iteration_requests
 * (16 columns) gets 3 pages of 33,334 rows a group, per_request (~70) about 10. Fewer,
 * longer pages compress better (snappy and the delta encoding restart at every page: on
 * the bench trace 16k-row pages made per_iteration_requests 34% larger than one page per
 * group, 33k-row pages 12%). VSCHED_PARQUET_PAGE_ROWS in the environment fixes the rows instead
 * (tests write many pages per chunk from small fixtures with it).
 */
export const PARQUET_PAGE_BYTES = 6 << 20;

/** The page rows the environment fixes, if it does. */
const fixedPageRows = (): number | undefined => positiveIntFromEnv("VSCHED_PARQUET_PAGE_ROWS");

/** Rows per page for these columns in groups of `groupRows` (`fixed`: what the caller asked for). */
export function parquetPageRows(columns: readonly ParquetColumn[], groupRows: number, fixed?: number): number {
  const rowBytes = columns.reduce((a, c) => a + 8 + (c.nullable ? 1 : 0), 0);
  const most = Math.max(1, Math.min(groupRows, fixed ?? fixedPageRows() ?? Math.max(1024, Math.floor(PARQUET_PAGE_BYTES / rowBytes))));
  return Math.ceil(groupRows / Math.ceil(groupRows / most));
}

/** Read when a writer starts, not at import, so a bad value is a usage error (exit 2) and not a crash. */
function positiveIntFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name}=${raw}: expected a positive integer (rows)`);
  return n;
}

export interface ParquetColumn {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
  element: SchemaElement;
  /** forced encoding; undefined (json) decides per chunk: dictionary when its first page shows it halves the size */
  encoding?: Encoding;
}

/** Columns unique per row: a forced dictionary would only add one index per value. */
const UNIQUE_KEYS: Partial<Record<TableName, readonly string[]>> = { per_request: ["request_id"] };

export function parquetColumns(table: TableName, omit: readonly string[] = []): ParquetColumn[] {
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  return tableColumns(table)
    .filter((name) => !omit.includes(name))
    .map((name) => {
      const schema = shape[name];
      const kind = columnMeta(schema).kind;
      const nullable = schema.safeParse(null).success;
      const repetition_type = nullable ? "OPTIONAL" : "REQUIRED";
      const element: SchemaElement =
        kind === "int" || kind === "epoch_ns"
          ? // plain INT64 is a signed 64-bit integer; no INTEGER logical type (hyparquet-writer 0.17
            // serialises its bitWidth with the wrong thrift type and pyarrow rejects the footer)
            { name, type: "INT64", repetition_type }
          : kind === "float"
            ? { name, type: "DOUBLE", repetition_type: "OPTIONAL" }
            : { name, type: "BYTE_ARRAY", repetition_type, converted_type: "UTF8", logical_type: { type: "STRING" } };
      const dictionary = kind === "string" && !UNIQUE_KEYS[table]?.includes(name);
      const unique = kind === "string" && !dictionary;
      const encoding = dictionary ? "RLE_DICTIONARY" : unique ? "PLAIN" : kind === "int" || kind === "epoch_ns" ? "DELTA_BINARY_PACKED" : undefined;
      return { name, kind, nullable: kind === "float" || nullable, element, encoding } satisfies ParquetColumn;
    });
}

export function parquetSchemaElements(columns: readonly ParquetColumn[]): SchemaElement[] {
  return [{ name: "root", num_children: columns.length }, ...columns.map((c) => c.element)];
}

/** Key-value metadata of every file: what the file is, without opening manifest.json. */
export function parquetKeyValues(table: TableName, vschedVersion: string, extra: Record<string, string> = {}): KeyValue[] {
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  const units = Object.fromEntries(tableColumns(table).map((c) => [c, columnMeta(shape[c]).unit]));
  const kv: Record<string, string> = {
    "vsched.output_schema_version": OUTPUT_SCHEMA_VERSION,
    "vsched.version": vschedVersion,
    "vsched.table": table,
    "vsched.column_units": JSON.stringify(units),
    ...extra,
  };
  return Object.entries(kv).map(([key, value]) => ({ key, value }));
}

/** manifest.json's description of the Parquet files (beside "csv"). */
export function parquetFormat(partitionBy: string | null) {
  return {
    types: { int: "INT64", epoch_ns: "INT64", float: "DOUBLE (NaN and infinities as null)", string: "UTF8, dictionary-encoded", json: "UTF8 text" },
    row_group_rows: parquetRowGroupRows(),
    page_bytes: fixedPageRows() ? undefined : PARQUET_PAGE_BYTES,
    page_rows: fixedPageRows(),
    compression: "SNAPPY",
    key_value_metadata: ["vsched.output_schema_version", "vsched.version", "vsched.table", "vsched.column_units"],
    partition_by: partitionBy,
    ...(partitionBy ? { layout: `hive: <table>/${partitionBy}=<value>/part-<n>.parquet; the ${partitionBy} column is in the path, not in the files` } : {}),
  };
}
