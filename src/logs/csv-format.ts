import type { z } from "zod";
import { columnMeta, enumValues, type ColumnKind } from "../schema/columns.js";
import { TABLES, tableColumns, type TableName } from "../schema/tables.js";

/**
 * CSV text format of every output table (documented in manifest.json under "csv"):
 *   - comma-separated, "\n" line ends, UTF-8, one header row from tableColumns();
 *   - integers as JavaScript prints them (ns values are exact integers);
 *   - floats with exactly FLOAT_DECIMALS decimals (toFixed), "-0.000000" written as
 *     "0.000000", NaN and ±Infinity written as empty;
 *   - null/undefined → empty field; an empty string → `""` (so the two differ);
 *   - strings quoted only when they contain `,` `"` CR or LF, quotes doubled (RFC 4180).
 *
 * Rows are encoded straight into a byte buffer by a function compiled per table from
 * its zod columns: no per-row string building, so no rope flattening and little GC
 * (the ≥1.5 M rows/s path). formatRow() gives the same bytes as a string, for tests.
 */
export const FLOAT_DECIMALS = 6;
export const CSV_FORMAT = {
  delimiter: ",",
  newline: "\\n",
  encoding: "utf-8",
  null: "empty field",
  empty_string: '""',
  float_decimals: FLOAT_DECIMALS,
  quoting: 'RFC 4180, only fields containing , " CR or LF',
} as const;

const NEEDS_QUOTES = /[",\r\n]/;
const NEG_ZERO = "-" + (0).toFixed(FLOAT_DECIMALS);

export function formatFloat(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "";
  const s = v.toFixed(FLOAT_DECIMALS);
  return s === NEG_ZERO ? s.slice(1) : s;
}

export function formatString(v: string | null | undefined): string {
  if (v == null) return "";
  if (v === "") return '""';
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One line of text cells (a header, a small table): each as formatString writes it. */
export function csvLine(cells: readonly (string | null)[]): string {
  return cells.map(formatString).join(",") + "\n";
}

export const headerLine = (columns: readonly string[]): string => csvLine(columns);

/** Thrown by an encoder when a string field does not fit in the buffer; the writer retries the row in a bigger one. */
export class RowOverflow extends Error {
  constructor(readonly need: number) {
    super("row does not fit in the buffer");
  }
}

/**
 * Encodes one row at `off` and returns the new offset. The caller must leave
 * ENCODER_HEADROOM bytes free after `off`. Numbers are written unchecked: at most
 * 32 bytes each, MAX_COLUMNS of them fit in RESERVE; every string field checks that
 * RESERVE bytes stay free after it, or throws RowOverflow.
 */
export type RowEncoder<R> = (row: R, buf: Buffer, off: number) => number;

const MAX_COLUMNS = 128;
/** bytes every string put keeps free after it (RowOverflow otherwise) */
export const RESERVE = 32 * MAX_COLUMNS;
/** bytes the writer keeps free before each row */
export const ENCODER_HEADROOM = 2 * RESERVE;

/** "00".."99" as byte pairs: two digits per division */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 48 + Math.floor(i / 10);
  DIGIT_PAIRS[2 * i + 1] = 48 + (i % 10);
}

function putUint32(b: Buffer, off: number, n: number): number {
  if (n < 10) {
    b[off] = 48 + n;
    return off + 1;
  }
  const len = n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
  let p = off + len;
  while (n >= 100) {
    const q = (n / 100) >>> 0;
    const r = (n - q * 100) << 1;
    b[--p] = DIGIT_PAIRS[r + 1];
    b[--p] = DIGIT_PAIRS[r];
    n = q;
  }
  if (n >= 10) {
    b[--p] = DIGIT_PAIRS[(n << 1) + 1];
    b[--p] = DIGIT_PAIRS[n << 1];
  } else b[--p] = 48 + n;
  return off + len;
}

/** exactly 8 digits, zero-padded */
function putPad8(b: Buffer, off: number, n: number): number {
  let p = off + 8;
  for (let k = 0; k < 4; k++) {
    const q = (n / 100) >>> 0;
    const r = (n - q * 100) << 1;
    b[--p] = DIGIT_PAIRS[r + 1];
    b[--p] = DIGIT_PAIRS[r];
    n = q;
  }
  return off + 8;
}

/**
 * Integers without a string: nanosecond values pass 2^32 after 4.3 s, and V8's
 * number-to-string for those is ~3x slower than two uint32 halves. Anything else
 * (negative, fractional, beyond 2^53) goes through String().
 */
function putInt(b: Buffer, off: number, v: number | null | undefined): number {
  if (v == null) return off;
  if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v) {
    if (v <= 0xffffffff) return putUint32(b, off, v >>> 0);
    const hi = Math.floor(v / 1e8);
    return putPad8(b, putUint32(b, off, hi >>> 0), (v - hi * 1e8) >>> 0);
  }
  return putAscii(b, off, "" + v);
}

/** a string known to be ASCII without separators (number text) */
function putAscii(b: Buffer, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[off++] = s.charCodeAt(i);
  return off;
}

function putFloat(b: Buffer, off: number, v: number | null | undefined): number {
  return putAscii(b, off, formatFloat(v));
}

/**
 * epoch ns: a decimal string (or bigint), ~19 characters, built per event by concatenation
 * (seconds + padded remainder). A charCodeAt loop: the first access flattens the ConsString
 * once, and the loop then costs less than Buffer.write's call into C++ (measured on the
 * default convert of the bench trace, 2.1 M events); longer text still takes the native write.
 */
function putDigits(b: Buffer, off: number, v: string | bigint | null | undefined): number {
  if (v == null) return off;
  const s = typeof v === "string" ? v : String(v);
  const n = s.length;
  if (off + n > b.length - RESERVE) throw new RowOverflow(n);
  if (n > 32) return off + b.write(s, off, "latin1");
  for (let i = 0; i < n; i++) b[off + i] = s.charCodeAt(i);
  return off + n;
}

/**
 * Encoded bytes of recent string fields. Request ids repeat in every iteration and the
 * engine hands over the same string objects, whose hash V8 caches: a Map hit plus one
 * memcpy is ~3x faster than encoding 40 characters. Bounded: cleared when full.
 */
const fieldCache = new Map<string, Buffer>();
const FIELD_CACHE_MAX = 1 << 16;
const CACHE_MIN_LENGTH = 8;

function encodeField(s: string): Buffer {
  return /[",\r\n\u0080-\uffff]/.test(s) ? Buffer.from(formatString(s), "utf8") : Buffer.from(s, "latin1");
}

function putString(b: Buffer, off: number, s: string | null | undefined): number {
  if (s == null) return off;
  const n = s.length;
  if (n === 0) {
    b[off] = 34;
    b[off + 1] = 34;
    return off + 2;
  }
  if (n >= CACHE_MIN_LENGTH) {
    let e = fieldCache.get(s);
    if (e === undefined) {
      e = encodeField(s);
      if (fieldCache.size >= FIELD_CACHE_MAX) fieldCache.clear();
      fieldCache.set(s, e);
    }
    if (off + e.length > b.length - RESERVE) throw new RowOverflow(e.length);
    b.set(e, off);
    return off + e.length;
  }
  // short strings (enum values): a loop beats a Map lookup
  const start = off;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13 || c > 127) {
      const e = encodeField(s);
      b.set(e, start);
      return start + e.length;
    }
    b[off++] = c;
  }
  return off;
}

/**
 * JSON details: unique per row (no cache) and almost always quoted. ASCII is quoted
 * and its quotes doubled in one pass straight into the buffer; other text takes the
 * general path.
 */
function putText(b: Buffer, off: number, s: string | null | undefined): number {
  if (s == null) return off;
  const n = s.length;
  if (n === 0 || off + 2 * n + 2 > b.length - RESERVE) return putLongText(b, off, s);
  const start = off;
  b[off++] = 34;
  let quote = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return putLongText(b, start, s);
    if (c === 34) {
      b[off++] = 34;
      quote = true;
    } else if (c === 44 || c === 10 || c === 13) quote = true;
    b[off++] = c;
  }
  if (!quote) {
    // nothing to quote after all: shift left over the opening quote
    b.copyWithin(start, start + 1, off);
    return off - 1;
  }
  b[off++] = 34;
  return off;
}

function putLongText(b: Buffer, off: number, s: string): number {
  const text = formatString(s);
  const bytes = Buffer.byteLength(text);
  if (off + bytes > b.length - RESERVE) throw new RowOverflow(bytes);
  return off + b.write(text, off, "utf8");
}

const PUT: Record<ColumnKind, string> = { int: "i", float: "f", epoch_ns: "d", string: "s", json: "t" };

/**
 * Characters a spreadsheet reads as the start of a formula (OWASP's list), and the quote
 * a spreadsheet-safe cell starts with. Request ids come from clients (X-Request-Id).
 */
const FORMULA_START = new Set(["=", "+", "-", "@", "\t", "\r"]);
const SAFE_PREFIX = "'";
export const isFormulaLike = (s: string): boolean => s.length > 0 && FORMULA_START.has(s[0]);

/** A text cell of a --spreadsheet-safe table read back: the prefix the writer added comes off, so ids read back exactly. */
export const unprefixSafeCell = (s: string): string => (s.startsWith(SAFE_PREFIX) ? s.slice(SAFE_PREFIX.length) : s);

/** What the text cells of a table held that a spreadsheet would run. */
export interface CellGuard {
  /** prefix a formula-like cell with ' (and a cell starting with ' too, so reading back is exact) */
  spreadsheetSafe: boolean;
  /** formula-like text cells seen */
  formulaCells: number;
}

export { enumValues } from "../schema/columns.js";

/**
 * An enum value written by constant byte stores: non-empty ASCII that needs no quotes and that
 * no spreadsheet reads as a formula, so putString and the guard would write exactly these bytes
 * and count nothing (anything else takes the general path).
 */
const plainConstant = (v: string): boolean => v.length <= 32 && /^[\x20-\x7e]+$/.test(v) && !NEEDS_QUOTES.test(v) && !isFormulaLike(v) && !v.startsWith(SAFE_PREFIX);

/**
 * One column's statement. Enum columns compare the value with each plain value (a pointer
 * compare for the engine's literal strings) and store its bytes inline (at most 32 bytes, as
 * a number: within RESERVE); small integers (a waiting row's zeros, dp_rank,
 * request_instance) are stored inline. Every other value goes through the same put function
 * as before, so the bytes and the guard's count are unchanged. The calls were most of a
 * per_iteration_requests row's cost: each string cell was a guard call, a putString call,
 * and for 8 characters or more a map lookup and a TypedArray set.
 */
export function columnStatement(name: string, schema: z.ZodType, get = `v = r[${JSON.stringify(name)}];`): string {
  const kind = columnMeta(schema).kind;
  if (kind === "int") return `${get} if (v >= 0 && v < 10 && (v | 0) === v) b[o++] = 48 + v; else o = i(b, o, v);`;
  const values = kind === "string" ? enumValues(schema)?.filter(plainConstant) : undefined;
  if (!values || values.length === 0) return `${get} o = ${PUT[kind]}(b, o, v);`;
  const branches = values.map((v) => `if (v === ${JSON.stringify(v)}) { ${constantStores(v)} }`);
  return `${get} if (v == null) {} else ${branches.join(" else ")} else o = s(b, o, v);`;
}

/**
 * An enum value's cell as constant byte stores (and the offset moved past them), or null where the
 * guarded putString must write it (not plainConstant: quotes, a formula-like start, non-ASCII, long).
 */
export function constantStores(v: string): string | null {
  if (!plainConstant(v)) return null;
  return [...v].map((ch, j) => `b[o${j ? ` + ${j}` : ""}] = ${ch.charCodeAt(0)};`).join(" ") + ` o += ${v.length};`;
}

/** Compiles a row encoder for a table: one straight-line function in tableColumns() order. */
export function compileRowEncoder<N extends TableName>(table: N, guard?: CellGuard): RowEncoder<z.infer<(typeof TABLES)[N]>> {
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  const cols = tableColumns(table);
  if (cols.length > MAX_COLUMNS) throw new Error(`table ${table}: more than ${MAX_COLUMNS} columns; raise MAX_COLUMNS`);
  const body = cols.map((name, k) => `${columnStatement(name, shape[name])} b[o++] = ${k === cols.length - 1 ? 10 : 44};`).join("\n  ");
  const src = `return function encode_${table}(r, b, o) {\n  let v;\n  ${body}\n  return o;\n};`;
  const str = guard ? guardedString(guard) : putString;
  return new Function("i", "f", "d", "s", "t", src)(putInt, putFloat, putDigits, str, putText) as RowEncoder<z.infer<(typeof TABLES)[N]>>;
}

/**
 * What a compiled encoder's statements call, by the names columnStatement() uses (i f d s t),
 * for an encoder that takes its values from elsewhere than a row object (src/threads/csv-batch.ts):
 * the same functions, so the same bytes and the same formula count.
 */
export function encoderFunctions(guard?: CellGuard) {
  return { i: putInt, f: putFloat, d: putDigits, s: guard ? guardedString(guard) : putString, t: putText };
}

function guardedString(g: CellGuard): typeof putString {
  return (b, off, v) => {
    if (v == null || v.length === 0) return putString(b, off, v);
    // FORMULA_START by char code: a Set lookup of v[0] per string cell was a twentieth of convert
    const c = v.charCodeAt(0);
    if (c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13) {
      g.formulaCells++;
      if (g.spreadsheetSafe) return putString(b, off, SAFE_PREFIX + v);
    } else if (c === 39 && g.spreadsheetSafe) return putString(b, off, SAFE_PREFIX + v); // 39: SAFE_PREFIX, the quote
    return putString(b, off, v);
  };
}

/** One row as a string (tests, small outputs): the same bytes the writer produces. */
export function formatRow<N extends TableName>(table: N, row: z.infer<(typeof TABLES)[N]>): string {
  const enc = compileRowEncoder(table);
  let size = 1 << 12;
  for (;;) {
    const b = Buffer.alloc(size + ENCODER_HEADROOM);
    try {
      return b.toString("utf8", 0, enc(row, b, 0));
    } catch (e) {
      if (!(e instanceof RowOverflow)) throw e;
      size = size * 2 + e.need;
    }
  }
}
