import { batchRowsFor, BIGINT, layout, NULL, STRING, TEXT, UNDEFINED, type Layout } from "../schema/lanes.js";
import type { TableName } from "../schema/tables.js";
import { entriesHeap, LocalEntries } from "./local-entries.js";

// the lanes' layout and cell tags are declared below the engine (src/schema/lanes.ts), which fills per_iteration_requests' lanes itself
export { batchRowsFor, BIGINT, layout, NULL, STRING, TEXT, UNDEFINED, type Lane, type Layout } from "../schema/lanes.js";

/**
 * Rows of one table, columnar, in buffers that move between threads by transfer (no
 * structured clone of row objects): numbers in a Float64Array, strings in one byte heap
 * (ASCII as latin1, anything else as UTF-16 so lone surrogates survive), an enum column's
 * values as their index in the column's options (a negative id: no string at all), and a
 * tag per cell that tells null from undefined from a value. decodeRows() rebuilds rows
 * whose values are identical to the ones pushed, so any sink downstream writes the same
 * bytes; the CSV encoder (csv-batch.ts) reads the lanes without rebuilding rows.
 *
 * Functions are compiled per table from its zod columns (like the CSV encoders):
 * straight-line code, one hidden class per table's rows.
 */
export interface RowBatch {
  table: TableName;
  rows: number;
  /**
   * which of the consumers' dictionaries this batch's string ids refer to: batches of one table
   * go round the `slots` CSV encoders in turn (RowBatchBuilder's constructor), each encoder keeping
   * the dictionary of its own batches
   */
  slot: number;
  /** the slot's dictionary was emptied before this batch (it reached DICT_MAX strings) */
  dictReset: boolean;
  /** the local entries (below) that are dictionary strings new to the slot's consumer */
  dictNew: Int32Array;
  /**
   * the dictionary id of each dictNew entry (the engine's lanes: ids it reuses, LaneBatcher); empty:
   * they take the next ids in order (RowBatchBuilder)
   */
  dictIds: Int32Array;
  /** per cell (row-major, every column): a CellTag */
  tags: Uint8Array;
  /** per numeric cell (row-major, numeric columns only): the number, or a local entry (tag STRING/BIGINT) */
  num: Float64Array;
  /**
   * per string cell (row-major, string columns only): untagged, a dictionary id (≥ 0) or, for an
   * enum column's value, -(its index in the options + 1); tagged TEXT, STRING or BIGINT, a local entry
   */
  str: Int32Array;
  /** local entry k is heap[starts[k] .. starts[k + 1]), latin1, or UTF-16LE when wide[k] */
  heap: Uint8Array;
  starts: Int32Array;
  wide: Uint8Array;
}

/** strings a slot's dictionary holds before it starts afresh: memory stays bounded on any trace */
export const DICT_MAX = 1 << 16;

/**
 * A batch's big buffers, handed back to the replay worker once its rows are encoded (with the
 * credit), so the worker fills them again: a new megabyte per batch on each side was external
 * memory that V8 reclaimed by a full GC every ~150 ms on the main thread.
 */
export interface Lanes {
  table: TableName;
  tags: Uint8Array;
  num: Float64Array;
  str: Int32Array;
  /** the whole heap buffer, not only the batch's used part */
  heap: Uint8Array;
}

export const lanesOf = (b: RowBatch): Lanes => ({ table: b.table, tags: b.tags, num: b.num, str: b.str, heap: new Uint8Array(b.heap.buffer) });
export const lanesBuffers = (l: Lanes): ArrayBuffer[] => [l.tags.buffer, l.num.buffer, l.str.buffer, l.heap.buffer] as ArrayBuffer[];

export const batchBuffers = (b: RowBatch): ArrayBuffer[] => [b.tags.buffer, b.num.buffer, b.str.buffer, b.heap.buffer, b.starts.buffer, b.wide.buffer, b.dictNew.buffer, b.dictIds.buffer] as ArrayBuffer[];

/**
 * Collects rows of one table into a batch; take() hands the buffers over and starts afresh.
 * Strings of the columns whose values repeat (request ids, binding_limits) are sent once per
 * slot: a dictionary per slot, mirrored by that slot's consumer (Dictionaries), so a batch
 * carries only the strings its slot has not seen.
 */
export class RowBatchBuilder {
  rows = 0;
  readonly capacity: number;
  private readonly lay: Layout;
  private readonly fill: (row: Record<string, unknown>, b: RowBatchBuilder, r: number) => void;
  private tags!: Uint8Array;
  /** @internal the compiled fill writes these lanes directly */
  num!: Float64Array;
  /** @internal */
  str!: Int32Array;
  private entries!: LocalEntries;
  /** the last batch's heap bytes: the next heap's size */
  private heapUsed = 0;
  private dictNew: number[] = [];
  /** @internal per string lane: the last dictionary string the fill looked up in this batch, and its id */
  last: (string | undefined)[] = [];
  /** @internal */
  lastId: Int32Array = new Int32Array(0);
  private readonly dicts: Map<string, number>[];
  private slot = 0;
  private dict!: Map<string, number>;
  private dictReset = false;
  private readonly spare: Lanes[] = [];

  constructor(
    readonly table: TableName,
    capacity = batchRowsFor(table),
    private readonly slots = 1,
    private readonly dictMax = DICT_MAX,
  ) {
    this.capacity = capacity;
    this.lay = layout(table);
    this.fill = compileFill(this.lay);
    this.dicts = Array.from({ length: slots }, () => new Map<string, number>());
    this.reset();
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  push(row: object): void {
    this.fill(row as Record<string, unknown>, this, this.rows++);
  }

  take(): RowBatch {
    const b: RowBatch = {
      table: this.table,
      rows: this.rows,
      slot: this.slot,
      dictReset: this.dictReset,
      dictNew: Int32Array.from(this.dictNew),
      dictIds: new Int32Array(0),
      tags: this.tags,
      num: this.num,
      str: this.str,
      ...this.entries.fields(),
    };
    this.heapUsed = this.entries.bytes;
    this.slot = (this.slot + 1) % this.slots;
    this.reset();
    return b;
  }

  /** A batch's buffers back from its consumer: the next batches fill them (a few are kept). */
  recycle(l: Lanes): void {
    if (this.spare.length < 16 && l.tags.length === this.capacity * this.lay.cols.length && l.num.length === this.capacity * this.lay.nNum && l.str.length === this.capacity * this.lay.nStr) this.spare.push(l);
  }

  private reset(): void {
    const cap = this.capacity;
    this.rows = 0;
    const l = this.spare.pop();
    if (l) {
      // only the tags must start clear: a lane's cell is read only where its tag says so or it was written
      l.tags.fill(0);
      this.tags = l.tags;
      this.num = l.num;
      this.str = l.str;
    } else {
      this.tags = new Uint8Array(cap * this.lay.cols.length);
      this.num = new Float64Array(cap * this.lay.nNum);
      this.str = new Int32Array(cap * this.lay.nStr);
    }
    this.entries = new LocalEntries(entriesHeap(l?.heap, this.heapUsed));
    this.dictNew = [];
    // ids are per slot: what the last batch looked up means nothing in this one's dictionary
    this.last = new Array<string | undefined>(this.lay.nStr).fill(undefined);
    this.lastId = new Int32Array(this.lay.nStr);
    this.dict = this.dicts[this.slot];
    this.dictReset = this.dict.size >= this.dictMax;
    if (this.dictReset) this.dict.clear();
  }

  /** @internal compiled fill: one cell of a numeric column that holds no number */
  n(cell: number, slot: number, v: unknown): void {
    if (typeof v === "number") this.num[slot] = v;
    else if (v === null) this.tags[cell] = NULL;
    else if (v === undefined) this.tags[cell] = UNDEFINED;
    else this.other(cell, v, (id) => (this.num[slot] = id));
  }

  /** @internal compiled fill: one cell of a string column */
  s(cell: number, slot: number, v: unknown, dedupe: boolean): void {
    if (typeof v === "string") {
      if (dedupe) {
        let id = this.dict.get(v);
        if (id === undefined) {
          id = this.dict.size;
          this.dict.set(v, id);
          this.dictNew.push(this.entry(v));
        }
        this.str[slot] = id;
      } else {
        this.str[slot] = this.entry(v);
        this.tags[cell] = TEXT;
      }
    } else if (v === null) this.tags[cell] = NULL;
    else if (v === undefined) this.tags[cell] = UNDEFINED;
    else this.other(cell, v, (id) => (this.str[slot] = id));
  }

  private other(cell: number, v: unknown, put: (id: number) => void): void {
    if (typeof v === "bigint") this.tags[cell] = BIGINT;
    else if (typeof v === "string") this.tags[cell] = STRING;
    else throw new Error(`row batch ${this.table}: a ${typeof v} where the schema has a number or a string`);
    put(this.entry(String(v)));
  }

  private entry(s: string): number {
    return this.entries.add(s);
  }
}

/** A batch's local entry `k` as a string. */
export function localString(b: RowBatch, k: number): string {
  return Buffer.from(b.heap.buffer, b.heap.byteOffset, b.heap.byteLength).toString(b.wide[k] ? "utf16le" : "latin1", b.starts[k], b.starts[k + 1]);
}

/**
 * The consumer's side of the builders' dictionaries: per (input, table, slot), the strings in
 * id order, and whatever the consumer keeps per string (the CSV encoder: its bytes). absorb()
 * every batch of a slot, in order, before reading its cells.
 */
export class Dictionaries<X = never> {
  private readonly dicts = new Map<string, { strings: string[]; extra: (X | undefined)[] }>();

  absorb(input: number, b: RowBatch): { strings: string[]; extra: (X | undefined)[] } {
    const key = `${input}\u0000${b.table}\u0000${b.slot}`;
    let d = this.dicts.get(key);
    if (!d || b.dictReset) this.dicts.set(key, (d = { strings: [], extra: [] }));
    // an id given a new string: what the consumer keeps per string (extra) must check it is the string's
    if (b.dictIds.length > 0) for (let k = 0; k < b.dictNew.length; k++) d.strings[b.dictIds[k]] = localString(b, b.dictNew[k]);
    else for (let k = 0; k < b.dictNew.length; k++) d.strings.push(localString(b, b.dictNew[k]));
    return d;
  }
}

function compileFill(lay: Layout): (row: Record<string, unknown>, b: RowBatchBuilder, r: number) => void {
  const n = lay.cols.length;
  const body = lay.cols
    .map((c, k) => {
      const l = lay.lane[k];
      const v = `row[${JSON.stringify(c)}]`;
      if (l.numeric) return `v = ${v}; if (typeof v === "number") num[p + ${l.index}] = v; else b.n(t + ${k}, p + ${l.index}, v);`;
      // a repeated string: the same string as this column's last one (binding_limits down a waiting queue) takes its id without a lookup
      if (!l.options && l.dedupe) return `v = ${v}; if (v === last[${l.index}] && typeof v === "string") str[q + ${l.index}] = lastId[${l.index}]; else { b.s(t + ${k}, q + ${l.index}, v, true); if (typeof v === "string") { last[${l.index}] = v; lastId[${l.index}] = str[q + ${l.index}]; } }`;
      if (!l.options) return `b.s(t + ${k}, q + ${l.index}, ${v}, false);`;
      // an enum value: its index, by comparing with each option (a pointer compare for the engine's literals)
      const branches = l.options.map((o, j) => `if (v === ${JSON.stringify(o)}) str[q + ${l.index}] = ${-(j + 1)};`);
      return `v = ${v}; ${branches.join(" else ")} else b.s(t + ${k}, q + ${l.index}, v, true);`;
    })
    .join("\n  ");
  const src = `return function fill(row, b, r) {\n  const t = r * ${n}, p = r * ${lay.nNum}, q = r * ${lay.nStr}, num = b.num, str = b.str, last = b.last, lastId = b.lastId;\n  let v;\n  ${body}\n};`;
  return new Function(src)() as (row: Record<string, unknown>, b: RowBatchBuilder, r: number) => void;
}

const decoders = new Map<TableName, (b: RowBatch, dict: string[], emit: (row: never) => void) => void>();

/** Calls `emit` with every row of the batch, in order, each a fresh object; `dict` is the slot's strings (Dictionaries.absorb). */
export function decodeRows(b: RowBatch, dict: string[], emit: (row: never) => void): void {
  let d = decoders.get(b.table);
  if (!d) decoders.set(b.table, (d = compileDecode(layout(b.table))));
  d(b, dict, emit);
}

function compileDecode(lay: Layout): (b: RowBatch, dict: string[], emit: (row: never) => void) => void {
  const n = lay.cols.length;
  const fields = lay.cols
    .map((c, k) => {
      const l = lay.lane[k];
      const id = l.numeric ? `num[p + ${l.index}]` : `str[q + ${l.index}]`;
      const lane = l.numeric ? id : l.options ? `(${id} < 0 ? O${k}[-1 - ${id}] : dict[${id}])` : `dict[${id}]`;
      return `${JSON.stringify(c)}: tags[t + ${k}] === 0 ? ${lane} : cell(tags[t + ${k}], ${id}, s)`;
    })
    .join(",\n      ");
  const opts = lay.lane.map((l, k) => (l.options ? `const O${k} = ${JSON.stringify(l.options)};` : "")).join("\n");
  const src = `${opts}\nreturn function decode(b, dict, emit) {
  const { tags, num, str } = b;
  const s = strings(b);
  for (let r = 0; r < b.rows; r++) {
    const t = r * ${n}, p = r * ${lay.nNum}, q = r * ${lay.nStr};
    emit({
      ${fields}
    });
  }
};`;
  return new Function("strings", "cell", src)(strings, cell) as (b: RowBatch, dict: string[], emit: (row: never) => void) => void;
}

function strings(b: RowBatch): string[] {
  const heap = Buffer.from(b.heap.buffer, b.heap.byteOffset, b.heap.byteLength);
  const out = new Array<string>(b.wide.length);
  for (let k = 0; k < out.length; k++) out[k] = heap.toString(b.wide[k] ? "utf16le" : "latin1", b.starts[k], b.starts[k + 1]);
  return out;
}

/** a tagged cell: null, undefined, or a local entry's text (a bigint's as a bigint) */
export function cell(tag: number, id: number, s: string[]): unknown {
  if (tag === NULL) return null;
  if (tag === UNDEFINED) return undefined;
  if (tag === BIGINT) return BigInt(s[id]);
  return s[id];
}
