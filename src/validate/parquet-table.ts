import { relative } from "node:path";
import { z } from "zod";
import type { Finding } from "../core/finding.js";
import { parquetTableFiles, readParquetFileBatches } from "../parse/parquet-read.js";
import { OUTPUT_SCHEMA_VERSION, TABLES, tableColumnsAt, type TableName } from "../schema/tables.js";
import { checkHeader } from "./columns.js";
import type { Findings } from "./collector.js";
import type { InvariantChecker } from "./invariants.js";
import type { ManifestFacts } from "./manifest.js";

const slash = (p: string) => p.replace(/\\/g, "/");

/**
 * Validates a table written as Parquet (one file or hive partitions): every row against its
 * zod row schema and the cross-table invariants, as for a CSV. Findings name the file and
 * the 1-based row within it (a Parquet file has no lines). Column types are the file's own,
 * so there are no quoting checks; the columns are checked by name against the directory's own
 * minor, as a CSV header is (not by position: a hive partition's column lives in its path),
 * and the row count against the manifest.
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
  // a logs directory of an older minor has only that minor's columns (later ones are appended)
  const version = manifest?.supported ? manifest.schemaVersion : OUTPUT_SCHEMA_VERSION;
  const wanted = tableColumnsAt(table, version);
  const shape = (TABLES[table] as z.ZodObject).shape as Record<string, z.ZodType>;
  let rows = 0;
  let first = "";
  for (const part of parts) {
    const file = slash(`${display.replace(/\/+$/, "")}/${relative(dir, part.file)}`);
    first ||= file;
    let schema = z.object({});
    const judgeColumns = (columns: string[]) => {
      for (const issue of checkHeader(columns, wanted, manifest?.newerMinor ?? false)) {
        if (issue.code !== "CSV_COLUMN_ORDER") findings.add(issue.code, "error", file, undefined, { ...issue.args, schema: version });
      }
      schema = z.object(Object.fromEntries(columns.filter((c) => wanted.includes(c)).map((c) => [c, shape[c]])));
    };
    let n = 0;
    for await (const batch of readParquetFileBatches(part, table, judgeColumns)) {
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
