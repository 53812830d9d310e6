import { InputError } from "../core/errors.js";
import { createReadStream } from "node:fs";
import Papa from "papaparse";
import { columnMeta, type ColumnKind } from "../schema/columns.js";
import { TABLES, type TableName } from "../schema/tables.js";

/**
 * Streaming reader for vsched's own output tables. The file is read as UTF-8 text in
 * stream chunks; each chunk is cut after its last row boundary (a newline outside
 * quotes) and the complete rows are handed to papaparse, so memory holds one chunk,
 * never the table. Every row carries its 1-based line number in the file, counting
 * the optional `# vsched …` version line and newlines inside quoted fields.
 */

export interface CsvRawRow {
  /** 1-based line of the row's first character */
  line: number;
  fields: string[];
}

export interface CsvFileInfo {
  /** the `# vsched …` line, if the file starts with one */
  versionLine: string | null;
  /** column names as written in the header (empty for an empty file) */
  header: string[];
  headerLine: number;
  /** data rows read (after the header; blank lines not counted) */
  rows: number;
  /** false when the last line has no terminating newline: the file was cut off */
  endsWithNewline: boolean;
  /** papaparse errors (quotes), with line numbers */
  parseErrors: { line: number; message: string }[];
}

const CHUNK_BYTES = 1 << 16;
const NL = 10;
const QUOTE = 34;

/**
 * Yields batches of raw rows (header excluded). `info` is filled as the file is read;
 * header and versionLine are set before the first batch, the rest once iteration ends.
 */
export async function* readCsvBatches(path: string, info: CsvFileInfo): AsyncGenerator<CsvRawRow[]> {
  let inQuotes = false; // quote state at the end of the text read so far
  let nextLine = 1;
  let sawHeader = false;
  let first = true;

  const parseBlock = (text: string): CsvRawRow[] => {
    if (text === "") {
      nextLine++; // a blank line
      return [];
    }
    const parsed = Papa.parse<string[]>(text, { header: false, skipEmptyLines: false, delimiter: "," });
    // without a quote in the block no field can hold a newline
    const quoted = text.indexOf('"') >= 0;
    const out: CsvRawRow[] = [];
    let line = nextLine;
    for (const err of parsed.errors) {
      if (err.code === "UndetectableDelimiter") continue;
      info.parseErrors.push({ line: line + countRowLines(parsed.data, err.row ?? 0), message: err.message });
    }
    for (const fields of parsed.data) {
      const rowLine = line;
      line += quoted ? 1 + embeddedNewlines(fields) : 1;
      if (fields.length === 1 && fields[0] === "") continue; // blank line
      if (!sawHeader) {
        if (first && fields.length >= 1 && fields[0].startsWith("# vsched")) {
          info.versionLine = fields.join(",");
          first = false;
          continue;
        }
        first = false;
        sawHeader = true;
        info.header = fields;
        info.headerLine = rowLine;
        continue;
      }
      out.push({ line: rowLine, fields });
    }
    nextLine = line;
    return out;
  };

  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: CHUNK_BYTES });
  // Text after the last row boundary, kept as pieces: joining only at a boundary keeps a
  // huge quoted cell linear (appending to one string per chunk made it quadratic).
  let pending: string[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const { cut, tailInQuotes } = lastRowBoundary(chunk, 0, inQuotes);
      inQuotes = tailInQuotes;
      if (cut < 0) {
        pending.push(chunk);
        continue;
      }
      const text = pending.join("") + chunk.slice(0, cut);
      pending = [chunk.slice(cut + 1)];
      const rows = parseBlock(stripCr(text));
      info.rows += rows.length;
      if (rows.length) yield rows;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") throw new InputError(`cannot read it: ${code === "EISDIR" ? "it is a directory" : code}`, "LOGS_FILE_UNREADABLE", path);
    throw e;
  }
  const partial = pending.join("");
  info.endsWithNewline = partial.length === 0;
  if (partial.length) {
    const rows = parseBlock(stripCr(partial));
    info.rows += rows.length;
    if (rows.length) yield rows;
  }
}

/** Quotes in text[from, to), counted with indexOf (fast on long quote-free stretches). */
function countQuotes(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('"', from); i >= 0 && i < to; i = text.indexOf('"', i + 1)) n++;
  return n;
}

/**
 * The last newline of `text` outside quotes, scanning only from `from` with the quote state
 * `inQuotes` there; and whether the text after it ends inside quotes.
 */
export function lastRowBoundary(text: string, from: number, inQuotes: boolean): { cut: number; tailInQuotes: boolean } {
  let nl = text.lastIndexOf("\n");
  // usual case: every quote before the last newline is closed
  while (nl >= from) {
    const open = (inQuotes ? 1 : 0) + countQuotes(text, from, nl);
    if (open % 2 === 0) return { cut: nl, tailInQuotes: countQuotes(text, nl + 1, text.length) % 2 === 1 };
    nl = text.lastIndexOf("\n", nl - 1);
  }
  return { cut: -1, tailInQuotes: (inQuotes ? 1 : 0) + (countQuotes(text, from, text.length) % 2) === 1 };
}

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

function embeddedNewlines(fields: string[]): number {
  let n = 0;
  for (const f of fields) {
    if (f.indexOf("\n") < 0) continue;
    for (let i = 0; i < f.length; i++) if (f.charCodeAt(i) === NL) n++;
  }
  return n;
}

function countRowLines(rows: string[][], upTo: number): number {
  let n = 0;
  for (let i = 0; i < Math.min(upTo, rows.length); i++) n += 1 + embeddedNewlines(rows[i]);
  return n;
}

export function emptyCsvInfo(): CsvFileInfo {
  return { versionLine: null, header: [], headerLine: 0, rows: 0, endsWithNewline: true, parseErrors: [] };
}

const INT = /^[+-]?\d+$/;
/** decimal notation only: Number() would also take "0x10", "0b1", "0o7" and surrounding blanks */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Turn one field's text into the value its column kind calls for; empty → null. Unparseable text stays a string, so the row schema reports it. */
export function coerceField(text: string, kind: ColumnKind): unknown {
  if (text === "") return null;
  switch (kind) {
    case "int":
      if (INT.test(text)) return Number(text);
      return numericOrText(text);
    case "float":
      return numericOrText(text);
    case "string":
    case "epoch_ns":
    case "json":
      return text;
  }
}

function numericOrText(text: string): unknown {
  const t = text.trim().toLowerCase();
  if (t === "inf" || t === "+inf" || t === "infinity" || t === "+infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  if (t === "nan") return NaN;
  return DECIMAL.test(text) ? Number(text) : text;
}

/** The column kind of each header name for a table; unknown columns are strings. */
export function headerKinds(table: TableName, header: readonly string[]): ColumnKind[] {
  const shape = TABLES[table].shape as Record<string, import("zod").ZodType>;
  return header.map((name) => (Object.hasOwn(shape, name) ? columnMeta(shape[name]).kind : "string"));
}

export type CsvRecord = Record<string, unknown>;

/** Coerce one raw row into an object keyed by header name (missing trailing fields are undefined). */
export function coerceRow(fields: readonly string[], header: readonly string[], kinds: readonly ColumnKind[]): CsvRecord {
  const rec: CsvRecord = {};
  const n = Math.min(fields.length, header.length);
  for (let i = 0; i < n; i++) rec[header[i]] = coerceField(fields[i], kinds[i]);
  return rec;
}

/**
 * Read a table and call `onRow` for every coerced row, in file order. With `columns`,
 * only those are coerced (the rest are absent from the row): cheaper for wide tables.
 * Returns the file info (header, counts, whether the file ended cleanly).
 */
export async function forEachCsvRow(
  path: string,
  table: TableName,
  onRow: (row: CsvRecord, line: number, fieldCount: number) => void,
  opts: { columns?: readonly string[]; onHeader?: (info: CsvFileInfo) => void } = {},
): Promise<CsvFileInfo> {
  const info = emptyCsvInfo();
  let kinds: ColumnKind[] | null = null;
  let pick: number[] = [];
  for await (const batch of readCsvBatches(path, info)) {
    if (!kinds) {
      kinds = headerKinds(table, info.header);
      const wanted = opts.columns ? new Set(opts.columns) : null;
      pick = info.header.map((_, i) => i).filter((i) => !wanted || wanted.has(info.header[i]));
      opts.onHeader?.(info);
    }
    const header = info.header;
    for (const r of batch) {
      const rec: CsvRecord = {};
      const f = r.fields;
      for (const i of pick) if (i < f.length) rec[header[i]] = coerceField(f[i], kinds[i]);
      onRow(rec, r.line, f.length);
    }
  }
  if (!kinds) opts.onHeader?.(info);
  return info;
}

/** The column names of a table file (after the optional `# vsched …` line); [] for an empty file. */
export async function readCsvHeader(path: string, display = path): Promise<string[]> {
  const info = emptyCsvInfo();
  try {
    for await (const _batch of readCsvBatches(path, info)) break;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError(`cannot read it: ${err.code ?? err.message}`, "LOGS_FILE_UNREADABLE", display);
  }
  return info.header;
}
