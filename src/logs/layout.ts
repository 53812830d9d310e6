import { existsSync } from "node:fs";
import path from "node:path";
import { TABLE_NAMES, type TableName } from "../schema/tables.js";

/**
 * What a logs directory (convert's output) holds and what each file is called: convert
 * writes by these names, and every reader (the TableSources, validate, the commands that
 * take "a logs directory or raw traces") finds the files and recognises the directory by
 * them.
 */
export const MANIFEST_FILE = "manifest.json";

/** a table as CSV: `per_request.csv` */
export const csvFileName = (table: TableName): string => `${table}.csv`;

/** a table as one Parquet file: `per_request.parquet` */
export const parquetFileName = (table: TableName): string => `${table}.parquet`;

/** The column a hive-style Parquet layout splits by; every table has it. */
export type PartitionColumn = "dp_rank";

/** What each table is called in an output directory: one Parquet file, or a directory of partitions. */
export const parquetEntryName = (table: TableName, partitionBy: PartitionColumn | null): string =>
  partitionBy ? table : parquetFileName(table);

/** `per_iteration_requests/dp_rank=3/part-0.parquet`, relative to the output directory */
export const partitionFile = (table: TableName, column: PartitionColumn, value: number, part: number): string =>
  path.join(table, `${column}=${value}`, `part-${part}.parquet`);

/**
 * The one rule that tells convert's output from a directory of traces: it holds
 * manifest.json or a table's CSV. (Parquet output always has its manifest.)
 */
export function isLogsDir(dir: string): boolean {
  return existsSync(path.join(dir, MANIFEST_FILE)) || TABLE_NAMES.some((t) => existsSync(path.join(dir, csvFileName(t))));
}
