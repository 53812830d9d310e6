import type { z } from "zod";
import type { TABLES, TableName } from "../schema/tables.js";
import { compileRowEncoder, ENCODER_HEADROOM, RowOverflow, type CellGuard, type RowEncoder } from "../logs/csv-format.js";
import { decodeRows, type RowBatch } from "./row-batch.js";

type AnyRow = z.infer<(typeof TABLES)[TableName]>;

/**
 * A batch of rows → its CSV bytes, exactly as CsvTableWriter.write() would put them in its
 * file (the encoders are the same compiled functions; a row's bytes do not depend on where
 * in a buffer it lands). The bytes are in a buffer of their own, ready to transfer.
 */
export class CsvBatchEncoder {
  private readonly encoders = new Map<TableName, RowEncoder<AnyRow>>();
  /** per table, the last batch's size: the next one starts there */
  private readonly sizes = new Map<TableName, number>();

  constructor(readonly guard: CellGuard) {}

  encode(batch: RowBatch): Uint8Array {
    const enc = this.encoderFor(batch.table);
    let buf: Buffer<ArrayBuffer> = Buffer.allocUnsafeSlow((this.sizes.get(batch.table) ?? 1 << 16) + ENCODER_HEADROOM);
    let off = 0;
    decodeRows(batch, (row: AnyRow) => {
      for (;;) {
        if (off + ENCODER_HEADROOM > buf.length) buf = grow(buf, off, buf.length);
        const cells = this.guard.formulaCells;
        try {
          off = enc(row, buf, off);
          return;
        } catch (e) {
          if (!(e instanceof RowOverflow)) throw e;
          // a retried row must not count its formula cells twice
          this.guard.formulaCells = cells;
          buf = grow(buf, off, e.need + ENCODER_HEADROOM);
        }
      }
    });
    this.sizes.set(batch.table, Math.max(1 << 12, off));
    return new Uint8Array(buf.buffer, buf.byteOffset, off);
  }

  private encoderFor(table: TableName): RowEncoder<AnyRow> {
    let e = this.encoders.get(table);
    if (!e) this.encoders.set(table, (e = compileRowEncoder(table, this.guard) as RowEncoder<AnyRow>));
    return e;
  }
}

/** a buffer with `used` bytes kept and at least `more` free after them (never from Node's pool) */
function grow(buf: Buffer, used: number, more: number): Buffer<ArrayBuffer> {
  const next = Buffer.allocUnsafeSlow(Math.max(2 * buf.length, used + more + ENCODER_HEADROOM));
  buf.copy(next, 0, 0, used);
  return next;
}
