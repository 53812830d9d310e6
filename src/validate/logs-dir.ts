import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Finding } from "../core/finding.js";
import { isFormulaLike } from "../logs/csv-format.js";
import { csvFileName } from "../logs/layout.js";
import { coerceRow, emptyCsvInfo, headerKinds, readCsvBatches } from "../logs/csv-read.js";
import { parquetTableFiles } from "../parse/parquet-read.js";
import { OUTPUT_SCHEMA_VERSION, TABLES, tableColumnsAt, type TableName } from "../schema/tables.js";
import { checkHeader } from "./columns.js";
import { Findings } from "./collector.js";
import { InvariantChecker, TABLE_ORDER } from "./invariants.js";
import { readManifest, type ManifestFacts } from "./manifest.js";
import { validateParquetTable } from "./parquet-table.js";

export interface LogsCheck {
  files: number;
  rows: number;
}

const slash = (p: string) => p.replace(/\\/g, "/");

/**
 * Validates a logs directory written by `vsched convert`: manifest, headers, every row
 * against its zod row schema, and the cross-file invariants. `display` is the directory
 * as the user typed it; findings name files under it.
 */
export async function validateLogsDir(dir: string, display: string, findings: Findings): Promise<LogsCheck> {
  const manifest = await readManifest(dir, display, findings);
  const checker = new InvariantChecker(manifest?.iterationRequestsComplete ?? false);
  const check: LogsCheck = { files: manifest ? 1 : 0, rows: 0 };
  const fileOf = new Map<TableName, string>();

  for (const table of TABLE_ORDER) {
    const name = manifest?.tables.get(table)?.file ?? csvFileName(table);
    const file = slash(join(display, name));
    fileOf.set(table, file);
    const path = join(dir, name);
    if (!existsSync(path) && parquetTableFiles(dir, table)) {
      // convert --format parquet: the same rows, through the same schema and invariants
      const t = await validateParquetTable(table, dir, display, manifest, checker, findings);
      fileOf.set(table, t.file);
      check.files++;
      check.rows += t.rows;
      if (table === "per_request") checker.requestsDone(true);
      continue;
    }
    if (!existsSync(path)) {
      // a table added by a later minor (predictions, 1.1) is absent from older logs: their manifest does not list it
      if (manifest && !manifest.tables.has(table)) continue;
      findings.add("CSV_FILE_MISSING", "error", file, undefined, { table });
      if (table === "per_request") checker.requestsDone(false);
      if (table === "per_iteration_requests") checker.skipBatchSizes();
      continue;
    }
    check.files++;
    const t = await validateTable(table, path, file, manifest, checker, findings);
    check.rows += t.rows;
    // a cut-off table cannot anchor cross-file checks: its missing rows would only echo the cut
    if (table === "per_request") checker.requestsDone(!t.truncated);
    if (table === "per_iteration_requests" && t.truncated) checker.skipBatchSizes();
  }
  checker.end((table, code, line, args) => findings.add(code, "error", fileOf.get(table), line, args));
  return check;
}

async function validateTable(table: TableName, path: string, file: string, manifest: ManifestFacts | null, checker: InvariantChecker, findings: Findings): Promise<{ rows: number; truncated: boolean }> {
  // a logs directory of an older minor has only that minor's columns (later ones are appended)
  const expected = tableColumnsAt(table, manifest?.supported ? manifest.schemaVersion : OUTPUT_SCHEMA_VERSION);
  const info = emptyCsvInfo();
  let schema: z.ZodObject | null = null;
  let kinds: ReturnType<typeof headerKinds> = [];
  // findings of the latest row are held back: if the file turns out to be cut off, the
  // partial last row is reported as CSV_TRUNCATED, not as a broken row
  let pending: [string, number, Finding["args"]][] = [];
  let lastRowLine: number | undefined;
  const flush = () => {
    for (const [code, line, args] of pending) findings.add(code, "error", file, line, args);
    pending = [];
  };

  const start = () => {
    for (const issue of checkHeader(info.header, expected, manifest?.newerMinor ?? false)) {
      findings.add(issue.code, "error", file, info.headerLine, { ...issue.args, schema: manifest?.schemaVersion ?? OUTPUT_SCHEMA_VERSION });
    }
    const listed = manifest?.tables.get(table)?.columns;
    if (listed) {
      const i = firstDifference(listed, info.header);
      if (i >= 0) findings.add("MANIFEST_COLUMNS_MISMATCH", "error", file, info.headerLine, { table, column: listed[i] ?? null, position: i + 1, expected: info.header[i] ?? null });
    }
    const full = TABLES[table] as z.ZodObject;
    const shape = full.shape as Record<string, z.ZodType>;
    schema = z.object(Object.fromEntries(info.header.filter((c) => expected.includes(c)).map((c) => [c, shape[c]])));
    kinds = headerKinds(table, info.header);
  };

  for await (const batch of readCsvBatches(path, info)) {
    if (!schema) start();
    for (const { line, fields } of batch) {
      flush();
      lastRowLine = line;
      const emit = (code: string, l: number | undefined, args: Finding["args"]) => pending.push([code, l ?? line, args]);
      if (fields.length !== info.header.length) {
        emit("CSV_FIELD_COUNT", line, { expected: info.header.length, actual: fields.length });
        continue;
      }
      const row = coerceRow(fields, info.header, kinds);
      if (!manifest?.spreadsheetSafe) {
        for (let i = 0; i < kinds.length; i++) {
          if (kinds[i] === "string" && isFormulaLike(fields[i])) findings.add("CSV_FORMULA_CELL", "warning", file, line, { column: info.header[i], value: fields[i].slice(0, 80) });
        }
      }
      const parsed = schema!.safeParse(row);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const column = String(issue.path[0] ?? "");
        const raw = fields[info.header.indexOf(column)];
        emit("CSV_ROW_INVALID", line, { column, value: raw ?? null, reason: issue.message });
        checker.invalidRow(table, row);
        continue;
      }
      if (table === "events" && typeof row.details === "string" && !isJsonObject(row.details)) {
        emit("CSV_ROW_INVALID", line, { column: "details", value: row.details, reason: "not a JSON object" });
      }
      checker.row(table, row, line, emit);
    }
  }
  if (!schema) {
    if (info.header.length === 0) findings.add("CSV_EMPTY", "error", file, 1, {});
    else start();
  }
  const expectedRows = manifest?.tables.get(table)?.rows;
  const truncated = !info.endsWithNewline || (expectedRows !== undefined && info.rows < expectedRows);
  if (truncated) {
    // the cut-off last row is not judged on its own
    if (!info.endsWithNewline) pending = [];
    findings.add("CSV_TRUNCATED", "error", file, info.endsWithNewline ? undefined : lastRowLine, {
      rows: info.endsWithNewline ? info.rows : Math.max(0, info.rows - 1),
      expected: expectedRows ?? null,
      unterminated: !info.endsWithNewline,
    });
  } else if (expectedRows !== undefined && info.rows !== expectedRows) {
    findings.add("MANIFEST_ROW_COUNT_MISMATCH", "error", file, undefined, { table, manifest: expectedRows, actual: info.rows });
  }
  flush();
  // a quote left open by the cut is part of the truncation
  const parseErrors = truncated && !info.endsWithNewline ? info.parseErrors.filter((e) => lastRowLine === undefined || e.line < lastRowLine) : info.parseErrors;
  for (const e of parseErrors) findings.add("CSV_MALFORMED", "error", file, e.line, { reason: e.message });
  return { rows: info.rows, truncated };
}

function firstDifference(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
