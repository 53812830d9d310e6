import { relative } from "node:path";
import type { z } from "zod";
import type { Finding } from "../engine/types.js";
import { parquetTableFiles, readParquetFileBatches } from "../parse/parquet-read.js";
import { TABLES, type TableName } from "../schema/tables.js";
import type { Findings } from "./collector.js";
import type { InvariantChecker } from "./invariants.js";
import type { ManifestFacts } from "./manifest.js";

const slash = (p: string) => p.replace(/\\/g, "/");

/**
 * Validates a table written as Parquet (one file or hive partitions): every row against its
 * zod row schema and the cross-table invariants, as for a CSV. Findings name the file and
 * the 1-based row within it (a Parquet file has no lines). Column types are the file's own,
 * so there are no header or quoting checks; the row count is checked against the manifest.
 */
export async function validateParquetTable(
  table: TableName,
  dir: string,
  display: string,
  manifest: ManifestFacts | null,
  checker: InvariantChecker,
  findings: Findings,
): Promise<{ rows: number; file: string }> {
  const parts = parquetTableFiles(dir, table)!;
  const schema = TABLES[table] as z.ZodObject;
  let rows = 0;
  let first = "";
  for (const part of parts) {
    const file = slash(`${display.replace(/\/+$/, "")}/${relative(dir, part.file)}`);
    first ||= file;
    let n = 0;
    for await (const batch of readParquetFileBatches(part, table)) {
      for (const row of batch) {
        const line = ++n;
        const emit = (code: string, l: number | undefined, args: Finding["args"]) => findings.add(code, "error", file, l ?? line, args);
        const parsed = schema.safeParse(row);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const column = String(issue.path[0] ?? "");
          emit("CSV_ROW_INVALID", line, { column, value: row[column] == null ? null : String(row[column]), reason: issue.message });
          checker.invalidRow(table, row);
          continue;
        }
        checker.row(table, row, line, emit);
      }
    }
    rows += n;
  }
  const expected = manifest?.tables.get(table)?.rows;
  if (expected !== undefined && rows !== expected) {
    findings.add("MANIFEST_ROW_COUNT_MISMATCH", "error", first, undefined, { table, manifest: expected, actual: rows });
  }
  return { rows, file: first };
}
