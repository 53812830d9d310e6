import type { z } from "zod";
import { layout, NULL, PAIR, pairText, plainKey, TEXT, UNDEFINED, type TableLanes } from "../schema/lanes.js";
import { TABLES, type TableName } from "../schema/tables.js";
import { columnStatement, constantStores, ENCODER_HEADROOM, formatString, RESERVE, RowOverflow, type CellGuard, type encoderFunctions } from "./csv-format.js";

/**
 * CSV rows from lanes (src/schema/lanes.ts) instead of row objects: the same bytes and formula
 * count as compileRowEncoder's for the same values. Used by convert --threads (a batch from
 * another thread, src/threads/csv-batch.ts) and by the CSV writer for the rows the engine writes
 * into lanes itself (per_iteration_requests, LaneCells below).
 */

export type EncoderFunctions = ReturnType<typeof encoderFunctions>;

/** What a compiled lane encoder reads: the lanes, and the strings their cells point at. */
export interface LaneCells {
  readonly tags: Uint8Array;
  readonly num: Float64Array;
  readonly str: Int32Array;
  /** dictionary string `id` */
  string(id: number): string;
  /** a tagged cell's value (null, undefined, a bigint, a string in a numeric column, a TEXT string) */
  other(tag: number, id: number): unknown;
  /** a dictionary string's cell, as the guarded putString writes it */
  put(b: Buffer, o: number, id: number): number;
  /** a TEXT cell of an epoch_ns column, as putDigits writes it */
  digits(b: Buffer, o: number, id: number): number;
  /** a TEXT cell of a JSON column, as putText writes it */
  text(b: Buffer, o: number, id: number): number;
  /** a PAIR cell of row r (a JSON column): putText's bytes of its pairText() */
  pair(b: Buffer, o: number, id: number, r: number): number;
}

export type LaneEncoder = (c: LaneCells, r: number, b: Buffer, o: number) => number;

/** A dictionary string's cell bytes, and whether the guard counts it as a formula cell. */
export interface Encoded {
  /** the string they encode: an id whose string changed is encoded again */
  s: string;
  bytes: Buffer;
  formula: boolean;
}

const ARENA = 1 << 20;
let arena = { buf: Buffer.allocUnsafeSlow(0), at: 0 };

/**
 * Dictionary strings' cells: each (id, string) encoded once by the guarded putString, then
 * copied per cell, its formula counted per cell. A map lookup and a TypedArray.set per request
 * id cost more than the rest of its row.
 */
export class DictionaryBytes {
  constructor(
    private readonly guard: CellGuard,
    private readonly fns: EncoderFunctions,
  ) {}

  put(b: Buffer, o: number, cache: (Encoded | undefined)[], id: number, s: string): number {
    let e = cache[id];
    if (e === undefined || e.s !== s) e = cache[id] = this.encode(s);
    const bytes = e.bytes;
    const n = bytes.length;
    if (o + n > b.length - RESERVE) throw new RowOverflow(n);
    if (e.formula) this.guard.formulaCells++;
    // a byte loop costs ~2 ns a byte on Buffers (Node 20), TypedArray.set ~20 ns whatever the length up to ~100
    if (n <= 8) for (let k = 0; k < n; k++) b[o + k] = bytes[k];
    else b.set(bytes, o);
    return o + n;
  }

  private encode(s: string): Encoded {
    // written into an arena with room for any encoding of s and putString's RESERVE after it;
    // a fresh arena when it runs out (an old one lives as long as strings point into it)
    const room = 3 * s.length + 8 + ENCODER_HEADROOM;
    if (arena.at + room > arena.buf.length) arena = { buf: Buffer.allocUnsafeSlow(Math.max(ARENA, room)), at: 0 };
    const before = this.guard.formulaCells;
    const end = this.fns.s(arena.buf, arena.at, s);
    const e = { s, bytes: arena.buf.subarray(arena.at, end), formula: this.guard.formulaCells !== before };
    this.guard.formulaCells = before;
    arena.at = end;
    return e;
  }
}

/**
 * Lanes filled in this thread (the engine's per_iteration_requests and events): every string cell
 * is an enum value, an id into the producer's strings, or (tagged TEXT) an id into the batch's
 * texts; other tags are null or undefined.
 */
export class TableLaneCells implements LaneCells {
  tags: Uint8Array = new Uint8Array(0);
  num: Float64Array = new Float64Array(0);
  str: Int32Array = new Int32Array(0);
  private strings: readonly (string | undefined)[] = [];
  private texts: readonly string[] = [];
  private pairs: Float64Array = new Float64Array(0);
  private pairKeys: readonly (readonly [string, string])[] = [];
  /** per PAIR key set: its cell's constant bytes around the two integers */
  private pieces: PairPieces[] = [];
  private readonly cache: (Encoded | undefined)[] = [];

  constructor(
    private readonly bytes: DictionaryBytes,
    private readonly fns: EncoderFunctions,
  ) {}

  load(l: TableLanes): void {
    this.tags = l.tags;
    this.num = l.num;
    this.str = l.str;
    this.strings = l.strings;
    this.texts = l.texts;
    if (l.pairKeys && l.pairKeys !== this.pairKeys) {
      this.pairKeys = l.pairKeys;
      this.pieces = l.pairKeys.map((k) => pairPieces(k, this.fns));
    }
    if (l.pairs) this.pairs = l.pairs;
  }

  string(id: number): string {
    return this.strings[id]!;
  }

  other(tag: number, id: number): unknown {
    if (tag === NULL) return null;
    if (tag === UNDEFINED) return undefined;
    if (tag === TEXT) return this.texts[id];
    throw new Error(`lanes of this thread hold no tag ${tag}`);
  }

  put(b: Buffer, o: number, id: number): number {
    return this.bytes.put(b, o, this.cache, id, this.strings[id]!);
  }

  digits(b: Buffer, o: number, id: number): number {
    return this.fns.d(b, o, this.texts[id]);
  }

  text(b: Buffer, o: number, id: number): number {
    return this.fns.t(b, o, this.texts[id]);
  }

  pair(b: Buffer, o: number, id: number, r: number): number {
    const p = this.pieces[id];
    if (o + PAIR_ROOM > b.length - RESERVE) throw new RowOverflow(PAIR_ROOM);
    o = copy(b, o, p.head);
    o = this.fns.i(b, o, this.pairs[2 * r]);
    o = copy(b, o, p.mid);
    o = this.fns.i(b, o, this.pairs[2 * r + 1]);
    return copy(b, o, p.tail);
  }
}

/**
 * A PAIR cell's CSV bytes without its text: putText quotes pairText's `{"k1":a,"k2":b}` (it holds
 * quotes and a comma) and doubles its quotes, so the cell is `"{""k1"":` a `,""k2"":` b `}"`, the
 * integers as putInt writes them (a safe integer's digits are JSON's). Checked against putText once.
 */
interface PairPieces {
  head: Uint8Array;
  mid: Uint8Array;
  tail: Uint8Array;
}

/** a pair's keys and two safe integers of at most 17 characters each */
const PAIR_ROOM = 256;

function pairPieces(keys: readonly [string, string], fns: EncoderFunctions): PairPieces {
  if (!keys.every(plainKey)) throw new Error(`PAIR keys ${keys.join(", ")}: not plain`);
  const quoted = (s: string) => Buffer.from(s.replace(/"/g, '""'), "latin1");
  const p = { head: Buffer.concat([Buffer.from('"'), quoted(`{"${keys[0]}":`)]), mid: quoted(`,"${keys[1]}":`), tail: Buffer.from('}"') };
  // the pieces around two integers must be putText's bytes of the text (formatString's rule)
  const [x, y] = [-12, 3456789];
  const want = Buffer.from(formatString(pairText(keys, x, y)), "latin1");
  const b = Buffer.alloc(ENCODER_HEADROOM + 512);
  const got = b.subarray(0, copy(b, fns.i(b, copy(b, fns.i(b, copy(b, 0, p.head), x), p.mid), y), p.tail));
  const viaPutText = b.subarray(0, fns.t(b, 0, pairText(keys, x, y)));
  if (!got.equals(want) || !viaPutText.equals(want)) throw new Error(`PAIR keys ${keys.join(", ")}: pieces differ from putText's bytes`);
  return p;
}

function copy(b: Buffer, o: number, bytes: Uint8Array): number {
  const n = bytes.length;
  // a byte loop costs ~2 ns a byte, TypedArray.set ~20 ns whatever the length (DictionaryBytes.put)
  if (n > 8) b.set(bytes, o);
  else for (let k = 0; k < n; k++) b[o + k] = bytes[k];
  return o + n;
}

/**
 * Per column: the value from its lane, then compileRowEncoder's statement for it (columnStatement),
 * so the bytes are the same. Shortcuts where the lanes say more than a value would: a null or
 * undefined cell writes nothing (what every put function does with them); an enum cell is its
 * option's index, so a switch stores the option's bytes (constantStores) instead of comparing the
 * string with each option; a dictionary string is copied from its cell bytes (LaneCells.put).
 * Tagged cells (a string in a numeric column, a bigint, TEXT) take the put functions, as values.
 */
export function compileLaneEncoder(table: TableName, fns: EncoderFunctions): LaneEncoder {
  const lay = layout(table);
  const shape = TABLES[table].shape as Record<string, z.ZodType>;
  const n = lay.cols.length;
  const options: (readonly string[] | null)[] = lay.lane.map((l) => l.options);
  const body = lay.cols
    .map((name, k) => {
      const l = lay.lane[k];
      const sep = `b[o++] = ${k === n - 1 ? 10 : 44};`;
      const stmt = (get: string) => columnStatement(name, shape[name], get);
      // tags 1 and 2: null and undefined, no bytes
      const tagged = (get: string) => `else if (tg > ${UNDEFINED}) { ${stmt(get)} }`;
      if (l.numeric) return `tg = tags[ct + ${k}]; if (tg === 0) { ${stmt(`v = num[cp + ${l.index}];`)} } ${tagged(`v = c.other(tg, num[cp + ${l.index}]);`)} ${sep}`;
      const id = `id = str[cq + ${l.index}]; tg = tags[ct + ${k}];`;
      if (l.options) return `${id} if (tg === 0) { ${enumCell(l.options, k, stmt)} } ${tagged("v = c.other(tg, id);")} ${sep}`;
      // a string column: untagged cells are dictionary strings; epoch and JSON columns: TEXT cells are local entries
      if (l.dedupe) return `${id} if (tg === 0) { o = c.put(b, o, id); } ${tagged("v = c.other(tg, id);")} ${sep}`;
      const direct = l.kind === "epoch_ns" ? "o = c.digits(b, o, id);" : l.kind === "json" ? "o = c.text(b, o, id);" : null;
      if (!direct) return `${id} ${stmt("v = c.other(tg, id);")} ${sep}`;
      // a PAIR cell (JSON columns of the engine's lanes): its bytes from its two integers
      const pair = l.kind === "json" ? `else if (tg === ${PAIR}) { o = c.pair(b, o, id, r); }` : "";
      return `${id} if (tg === ${TEXT}) { ${direct} } ${pair} ${tagged("v = c.other(tg, id);")} ${sep}`;
    })
    .join("\n  ");
  const src = `return function encode_${table}_lanes(c, r, b, o) {
  const tags = c.tags, num = c.num, str = c.str;
  // not t, p, q: the statements call i f d s t
  const ct = r * ${n}, cp = r * ${lay.nNum}, cq = r * ${lay.nStr};
  let v, tg, id;
  ${body}
  return o;
};`;
  return new Function("i", "f", "d", "s", "t", "O", src)(fns.i, fns.f, fns.d, fns.s, fns.t, options) as LaneEncoder;
}

/** An untagged enum cell: an option's index (id < 0) by a switch to its bytes; a dictionary string (id ≥ 0) as a value. */
function enumCell(options: readonly string[], k: number, stmt: (get: string) => string): string {
  const cases = options.map((v, j) => `case ${-(j + 1)}: ${constantStores(v) ?? `o = s(b, o, O[${k}][${j}]);`} break;`);
  return `if (id < 0) { switch (id) { ${cases.join(" ")} default: ${stmt(`v = O[${k}][-1 - id];`)} } } else { ${stmt("v = c.string(id);")} }`;
}
