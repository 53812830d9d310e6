import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { forEachCsvRow, type CsvRecord } from "../parse/csv-read.js";
import type { TableName } from "../schema/tables.js";

/**
 * Where the summary reads its tables from. The core only sees this interface, so a
 * test can feed rows from memory; `dirSource` streams the CSVs of a logs directory.
 */
export interface TableSource {
  /** streams every row in file order; `present` is false when the table does not exist */
  read(table: TableName, onRow: (row: CsvRecord) => void, columns?: readonly string[]): Promise<{ present: boolean; columns: string[] }>;
  /** the schema version manifest.json records, if any */
  schemaVersion(): string | null;
}

export const tableFile = (table: TableName): string => `${table}.csv`;

export function dirSource(dir: string): TableSource {
  return {
    async read(table, onRow, columns) {
      const path = join(dir, tableFile(table));
      if (!existsSync(path)) return { present: false, columns: [] };
      const info = await forEachCsvRow(path, table, (row) => onRow(row), { columns });
      return { present: true, columns: info.header };
    },
    schemaVersion() {
      try {
        const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
        const v = m.output_schema_version ?? m.schema_version;
        return typeof v === "string" ? v : null;
      } catch {
        return null;
      }
    },
  };
}
