import { z } from "zod";
import type { Finding } from "../core/finding.js";
import type { FindingTally } from "../pipeline/finding-tally.js";
import type { ReplaySource } from "../pipeline/replay.js";
import { HeaderRecord, TRACE_SCHEMA_VERSION } from "../schema/raw.js";
import type { Manifest } from "../schema/manifest.js";
import { columnMeta } from "../schema/columns.js";
import { OUTPUT_SCHEMA_VERSION, TABLES, TABLE_NAMES, tableColumns, type TableName } from "../schema/tables.js";
import { CSV_FORMAT } from "../logs/csv-format.js";
import { csvFileName } from "../logs/layout.js";
import { parquetFormat } from "../sinks/parquet-schema.js";

/**
 * manifest.json: what a set of CSVs is, where it came from and what was skipped.
 * Deterministic for a given input and options: keys in a fixed order (free-form maps
 * sorted), no wall-clock time, no absolute path (inputs as given, relative to cwd),
 * so it can be diffed and used in golden files.
 */
export type ManifestSource = ReplaySource;

export interface ManifestInput {
  vschedVersion: string;
  options: {
    lenient: boolean;
    versionHeader: boolean;
    iterationRequests: "all" | "running" | "none";
    iterationRequestsEvery: number;
    scheduledEvents: boolean;
    spreadsheetSafe?: boolean;
  };
  epochZeroNs: bigint;
  rows: Record<TableName, number>;
  sources: ManifestSource[];
  /** reader warnings (truncated tail, unknown types, skipped lines), each with its sentence */
  warnings: (Finding & { message: string })[];
  /** engine findings, as collected (bounded) */
  findings: FindingTally;
  /** CSV tables written (default true) */
  csv?: boolean;
  /** Parquet tables written: their files, relative to the directory */
  parquet?: { files: string[]; partitionBy: string | null } | null;
}


const HEADER_KEYS = Object.keys(HeaderRecord.shape);
const CONFIG_KEYS = Object.keys(HeaderRecord.shape.config.shape);

export function buildManifest(m: ManifestInput): Manifest {
  const recordTotals: Record<string, number> = {};
  const unknownTotals: Record<string, number> = {};
  for (const s of m.sources) {
    for (const [k, n] of Object.entries(s.records)) recordTotals[k] = (recordTotals[k] ?? 0) + n;
    for (const [k, n] of Object.entries(s.unknownTypes)) unknownTotals[k] = (unknownTotals[k] ?? 0) + n;
  }
  const sum = (f: (s: ManifestSource) => number) => m.sources.reduce((a, s) => a + f(s), 0);

  return {
    vsched_version: m.vschedVersion,
    output_schema_version: OUTPUT_SCHEMA_VERSION,
    reader_trace_schema_version: TRACE_SCHEMA_VERSION,
    options: {
      lenient: m.options.lenient,
      version_header: m.options.versionHeader,
      iteration_requests: m.options.iterationRequests,
      iteration_requests_every: m.options.iterationRequestsEvery,
      scheduled_events: m.options.scheduledEvents,
      spreadsheet_safe: m.options.spreadsheetSafe === true,
    },
    time: {
      unit: "ns",
      epoch_zero_ns: m.epochZeroNs.toString(),
      t0: "the earliest header.clock.epoch_ns among the sources; *_time columns are relative to it, *_epoch_ns columns absolute",
    },
    row_order: "rows are grouped by source (in the order of 'sources'), then ordered by time within a source",
    ...(m.csv !== false ? { csv: { ...CSV_FORMAT, spreadsheet_safe: m.options.spreadsheetSafe === true } } : {}),
    ...(m.parquet ? { parquet: parquetFormat(m.parquet.partitionBy) } : {}),
    tables: TABLE_NAMES.map((t) => ({
      name: t,
      ...(m.csv !== false ? { file: csvFileName(t) } : {}),
      ...(m.parquet ? { parquet_files: m.parquet.files.filter((f) => f === `${t}.parquet` || f.startsWith(`${t}/`)) } : {}),
      rows: m.rows[t],
      columns: tableColumns(t).map((c) => columnEntry(c, (TABLES[t].shape as Record<string, z.ZodType>)[c])),
    })),
    sources: m.sources.map((s) => ({
      path: s.path,
      bytes: s.bytes,
      sha256: s.sha256,
      gzip: s.gzip,
      time_offset_ns: s.timeOffsetNs,
      header: manifestHeader(s.header),
      records: s.records,
      unknown_types: s.unknownTypes,
      skipped_lines: { count: s.skippedLines, first_lines: s.skippedLineNumbers },
      truncated_tail_line: s.truncatedTail,
      engine: {
        requests: s.engine.requests,
        finished: s.engine.finished,
        unfinished: s.engine.unfinished,
        iterations: s.engine.iterations,
        dropped_by_emitter: s.engine.droppedByEmitter,
        records: sortKeys(s.engine.records),
      },
    })),
    totals: {
      sources: m.sources.length,
      bytes: sum((s) => s.bytes),
      records: sortKeys(recordTotals),
      unknown_types: sortKeys(unknownTotals),
      skipped_lines: sum((s) => s.skippedLines),
      requests: sum((s) => s.engine.requests),
      iterations: sum((s) => s.engine.iterations),
      rows: TABLE_NAMES.reduce((a, t) => a + m.rows[t], 0),
      warnings: m.warnings.length,
      findings: sortKeys(m.findings.byCode),
    },
    warnings: m.warnings.map(findingEntry),
    findings: m.findings.listed.map(findingEntry),
    findings_not_listed: m.findings.total - m.findings.listed.length,
  };
}

export function manifestJson(m: Manifest): string {
  return JSON.stringify(m, null, 2) + "\n";
}

function columnEntry(name: string, schema: z.ZodType) {
  const meta = columnMeta(schema);
  const values = enumValues(schema);
  return { name, kind: meta.kind, unit: meta.unit, nullable: schema.safeParse(null).success, description: meta.description, ...(values ? { values } : {}) };
}

/** The values of an enum column (states, causes, reasons), in declared order: readers make them categoricals. */
function enumValues(schema: z.ZodType): string[] | null {
  const inner = schema instanceof z.ZodNullable || schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
  return inner instanceof z.ZodEnum ? (inner.options as string[]).slice() : null;
}

function findingEntry(f: Finding & { message?: string }) {
  return {
    code: f.code,
    severity: f.severity,
    file: f.file ?? null,
    line: f.line ?? null,
    args: sortKeys(f.args),
    ...(f.message !== undefined ? { message: f.message } : {}),
  };
}

/** The header as written, in schema order; fields a newer minor added follow, sorted. */
function manifestHeader(h: HeaderRecord): Manifest["sources"][number]["header"] {
  const out = orderLike(h as unknown as Record<string, unknown>, HEADER_KEYS);
  delete out.type;
  out.config = orderLike(h.config as unknown as Record<string, unknown>, CONFIG_KEYS);
  out.capabilities = sortKeys(h.capabilities);
  return out as Manifest["sources"][number]["header"];
}

function orderLike(obj: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of known) if (k in obj) out[k] = obj[k];
  for (const k of Object.keys(obj).sort()) if (!(k in out)) out[k] = obj[k];
  return out;
}

function sortKeys<T>(obj: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out;
}
