import type { z } from "zod";
import { columnMeta, enumValues, type ColumnKind } from "./columns.js";
import { TABLES, tableColumns, type TableName } from "./tables.js";

/**
 * A table's rows as columns ("lanes") instead of row objects: numbers in a Float64Array, string
 * cells in an Int32Array (an enum value as -(its index in the column's options + 1), any other
 * string as an id into a dictionary of strings), and a tag per cell that tells null from
 * undefined from a value. Row-major within each lane, columns in tableColumns() order.
 *
 * Declared here, below the engine and the sinks, because both write and read it: the engine
 * fills per_iteration_requests' and events' lanes itself (src/engine/iteration-request-lanes.ts,
 * src/engine/event-lanes.ts), the CSV
 * encoder reads them (src/logs/csv-lanes.ts), and convert --threads moves them between
 * threads (src/threads/row-batch.ts).
 */

/** What a cell holds (the lane it is in follows from the column's kind). */
export const VALUE = 0;
export const NULL = 1;
export const UNDEFINED = 2;
/** a string in a numeric column: its text is a local entry of the batch */
export const STRING = 3;
/** a bigint in any column: its text is a local entry */
export const BIGINT = 4;
/** a string of a column whose strings do not repeat (epoch digits, JSON details): a local entry, not in the dictionary */
export const TEXT = 5;
/**
 * a JSON column's object of two integer fields (the engine's lanes only): the cell is an index into
 * TableLanes.pairKeys, the integers are TableLanes.pairs[2 * row] and [2 * row + 1]; its value is
 * pairText() of them. events' request_scheduled and kv_cache_* details, written without a string.
 */
export const PAIR = 6;

/**
 * `{"k1":a,"k2":b}`: JSON.stringify's text of the object, for safe integers a and b (the producer
 * writes a PAIR cell for those only) and keys that JSON writes as they are (checked by pairKeys' users).
 */
export const pairText = (keys: readonly [string, string], a: number, b: number): string => `{"${keys[0]}":${a},"${keys[1]}":${b}}`;

/** keys a PAIR cell may have: JSON.stringify writes them without escapes, CSV without more quotes than the key's own */
export const plainKey = (k: string): boolean => /^[A-Za-z0-9_]+$/.test(k);

export interface Lane {
  kind: ColumnKind;
  /** index in its lane (num or str) */
  index: number;
  numeric: boolean;
  /** request ids and other strings repeat within a batch; epoch strings and JSON details do not */
  dedupe: boolean;
  /** an enum column's values (sent as their index), else null */
  options: readonly string[] | null;
}

export interface Layout {
  cols: string[];
  /** per column, in tableColumns() order */
  lane: Lane[];
  nNum: number;
  nStr: number;
}

const layouts = new Map<TableName, Layout>();

export function layout(table: TableName): Layout {
  let l = layouts.get(table);
  if (l) return l;
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  const cols = tableColumns(table);
  let nNum = 0;
  let nStr = 0;
  const lane = cols.map((c): Lane => {
    const kind = columnMeta(shape[c]).kind;
    const numeric = kind === "int" || kind === "float";
    const options = kind === "string" ? enumValues(shape[c]) : null;
    return { kind, numeric, index: numeric ? nNum++ : nStr++, dedupe: kind === "string", options };
  });
  layouts.set(table, (l = { cols, lane, nNum, nStr }));
  return l;
}

/** rows per batch: about 1 MiB of lanes, whatever the table's width */
export function batchRowsFor(table: TableName): number {
  const n = tableColumns(table).length;
  return Math.max(256, Math.min(8192, Math.floor((1 << 20) / (9 * n))));
}

/**
 * Rows of one table in lanes as a producer hands them over (the engine's per_iteration_requests and
 * events): string cells untagged are enum values or ids into `strings`, cells tagged TEXT ids into
 * `texts`. The consumer reads them during the
 * call, or takes the three arrays and puts arrays of the same sizes in their place (convert
 * --threads transfers them to another thread); the producer clears the tags before filling again.
 */
export interface TableLanes {
  readonly table: TableName;
  rows: number;
  readonly capacity: number;
  tags: Uint8Array;
  num: Float64Array;
  str: Int32Array;
  /** id → string, for every id in this batch's string cells */
  readonly strings: readonly (string | undefined)[];
  /**
   * the ids given a string since the last batch (new ones, reused ones): every id in a batch's cells
   * is in this batch's or an earlier batch's, so a consumer that mirrors the strings reads only these
   */
  readonly fresh: readonly number[];
  /**
   * this batch's TEXT cells' strings (events' epoch digits and JSON details: unique per row, so not
   * in the dictionary), by the cell's id; the producer empties it with the tags
   */
  readonly texts: readonly string[];
  /** PAIR cells: the objects' keys (by the cell's id) and two integers per row (absent: no PAIR cells) */
  readonly pairKeys?: readonly (readonly [string, string])[];
  readonly pairs?: Float64Array;
}

/** `texts` of lanes that have no TEXT cells */
export const NO_TEXTS: readonly string[] = Object.freeze([]);

/** Lanes for `capacity` rows of `table`, tags clear. */
export function laneArrays(table: TableName, capacity: number): Pick<TableLanes, "tags" | "num" | "str"> {
  const l = layout(table);
  return { tags: new Uint8Array(capacity * l.cols.length), num: new Float64Array(capacity * l.nNum), str: new Int32Array(capacity * l.nStr) };
}
