import type { TableName } from "../schema/tables.js";
import { encoderFunctions, ENCODER_HEADROOM, RESERVE, RowOverflow, type CellGuard } from "../logs/csv-format.js";
import { compileLaneEncoder, DictionaryBytes, type Encoded, type EncoderFunctions, type LaneCells, type LaneEncoder } from "../logs/csv-lanes.js";
import { BIGINT, Dictionaries, NULL, UNDEFINED, type RowBatch } from "./row-batch.js";

/**
 * A batch of rows → its CSV bytes, exactly as CsvTableWriter.write() would put them in its
 * file. The encoder is compiled per table from the same column statements as
 * compileRowEncoder's (csv-format.ts), but each statement takes its value from the batch's
 * lanes instead of a row object (compileLaneEncoder, src/logs/csv-lanes.ts): no row is rebuilt. Where a string cell's bytes depend on
 * the string alone (a request id, binding_limits: the guarded putString), each distinct
 * string of the batch is encoded once and copied per cell, counting its formula cell per
 * cell; epoch digits and JSON details are copied from the batch's byte heap when it holds
 * them as ASCII (what putDigits / putText would write from the string). Anything else (a
 * wide string, a bigint, a string in a numeric column, null) goes through the row
 * encoder's own functions. The bytes are in a buffer of their own, ready to transfer.
 */
export class CsvBatchEncoder {
  private readonly encoders = new Map<TableName, LaneEncoder>();
  /** per table, the last batch's size: the next one starts there */
  private readonly sizes = new Map<TableName, number>();
  private readonly fns: EncoderFunctions;
  private readonly bytes: DictionaryBytes;
  /** per slot's dictionary string: its bytes as the guarded putString writes them, and whether it is a formula-like cell (+1 to the count per cell) */
  private readonly dicts = new Dictionaries<Encoded>();
  /** output buffers written out and handed back (recycle) */
  private readonly spare: Buffer<ArrayBuffer>[] = [];

  constructor(readonly guard: CellGuard) {
    this.fns = encoderFunctions(guard);
    this.bytes = new DictionaryBytes(guard, this.fns);
  }

  /** `input`: which input's replay worker sent it (each has its own dictionaries) */
  encode(batch: RowBatch, input: number): Uint8Array {
    const enc = this.encoderFor(batch.table);
    const cells = new BatchCells(batch, this.dicts.absorb(input, batch), this.bytes, this.fns);
    let buf = this.buffer((this.sizes.get(batch.table) ?? 1 << 16) + ENCODER_HEADROOM);
    let off = 0;
    for (let r = 0; r < batch.rows; r++) {
      for (;;) {
        if (off + ENCODER_HEADROOM > buf.length) buf = this.grow(buf, off, buf.length);
        const count = this.guard.formulaCells;
        try {
          off = enc(cells, r, buf, off);
          break;
        } catch (e) {
          if (!(e instanceof RowOverflow)) throw e;
          // a retried row must not count its formula cells twice
          this.guard.formulaCells = count;
          buf = this.grow(buf, off, e.need + ENCODER_HEADROOM);
        }
      }
    }
    this.sizes.set(batch.table, Math.max(1 << 12, off));
    return new Uint8Array(buf.buffer, buf.byteOffset, off);
  }

  /** An output buffer the writer is done with (its write completed): encoded into again. */
  recycle(bytes: Uint8Array): void {
    if (this.spare.length < 16) this.spare.push(Buffer.from(bytes.buffer as ArrayBuffer));
  }

  /** a buffer of at least `n` bytes, never from Node's pool (its ArrayBuffer is transferred whole) */
  private buffer(n: number): Buffer<ArrayBuffer> {
    for (let k = this.spare.length - 1; k >= 0; k--) {
      if (this.spare[k].length >= n) {
        const b = this.spare[k];
        this.spare[k] = this.spare[this.spare.length - 1];
        this.spare.pop();
        return b;
      }
    }
    return Buffer.allocUnsafeSlow(n);
  }

  /** a buffer with `used` bytes kept and at least `more` free after them */
  private grow(buf: Buffer<ArrayBuffer>, used: number, more: number): Buffer<ArrayBuffer> {
    const next = this.buffer(Math.max(2 * buf.length, used + more + ENCODER_HEADROOM));
    buf.copy(next, 0, 0, used);
    this.recycle(buf);
    return next;
  }

  private encoderFor(table: TableName): LaneEncoder {
    let e = this.encoders.get(table);
    if (!e) this.encoders.set(table, (e = compileLaneEncoder(table, this.fns)));
    return e;
  }
}

/** One batch's lanes, its local strings decoded on first use, and its slot's dictionary. */
export class BatchCells implements LaneCells {
  readonly tags: Uint8Array;
  readonly num: Float64Array;
  readonly str: Int32Array;
  private readonly heap: Buffer;
  private readonly starts: Int32Array;
  private readonly wide: Uint8Array;
  private readonly local: (string | undefined)[];

  constructor(
    b: RowBatch,
    private readonly dict: { strings: string[]; extra: (Encoded | undefined)[] },
    private readonly bytes: DictionaryBytes,
    private readonly fns: EncoderFunctions,
  ) {
    this.tags = b.tags;
    this.num = b.num;
    this.str = b.str;
    this.heap = Buffer.from(b.heap.buffer, b.heap.byteOffset, b.heap.byteLength);
    this.starts = b.starts;
    this.wide = b.wide;
    this.local = new Array<string | undefined>(b.wide.length);
  }

  /** dictionary string `id` */
  string(id: number): string {
    return this.dict.strings[id];
  }

  /** a tagged cell's value (null, undefined, a bigint, a string in a numeric column, a TEXT string) */
  other(tag: number, id: number): unknown {
    if (tag === NULL) return null;
    if (tag === UNDEFINED) return undefined;
    if (tag === BIGINT) return BigInt(this.localString(id));
    return this.localString(id);
  }

  private localString(k: number): string {
    let s = this.local[k];
    if (s === undefined) this.local[k] = s = this.heap.toString(this.wide[k] ? "utf16le" : "latin1", this.starts[k], this.starts[k + 1]);
    return s;
  }

  /** a dictionary string's cell written by the guarded putString: its bytes once per string, its formula count per cell */
  put(b: Buffer, o: number, id: number): number {
    return this.bytes.put(b, o, this.dict.extra, id, this.dict.strings[id]);
  }

  /** PAIR cells are the engine's in its own thread: LaneBatcher sends them as TEXT entries */
  pair(): number {
    throw new Error("a batch holds no PAIR cells");
  }

  /** an epoch_ns cell (putDigits): an ASCII entry's bytes are the digits it would write */
  digits(b: Buffer, o: number, id: number): number {
    if (this.wide[id]) return this.fns.d(b, o, this.localString(id));
    const from = this.starts[id];
    const n = this.starts[id + 1] - from;
    if (o + n > b.length - RESERVE) throw new RowOverflow(n);
    const h = this.heap;
    for (let k = 0; k < n; k++) b[o + k] = h[from + k];
    return o + n;
  }

  /** a JSON cell (putText): for an ASCII entry, putText's own loop over its bytes */
  text(b: Buffer, o: number, id: number): number {
    const from = this.starts[id];
    const n = this.starts[id + 1] - from;
    if (this.wide[id] || n === 0 || o + 2 * n + 2 > b.length - RESERVE) return this.fns.t(b, o, this.localString(id));
    const h = this.heap;
    const start = o;
    b[o++] = 34;
    let quote = false;
    for (let k = from; k < from + n; k++) {
      const c = h[k];
      if (c === 34) {
        b[o++] = 34;
        quote = true;
      } else if (c === 44 || c === 10 || c === 13) quote = true;
      b[o++] = c;
    }
    if (!quote) {
      // nothing to quote after all: shift left over the opening quote
      b.copyWithin(start, start + 1, o);
      return o - 1;
    }
    b[o++] = 34;
    return o;
  }
}
