import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { ByteWriter, ParquetWriter, type ColumnSource } from "hyparquet-writer";
import type { z } from "zod";
import type { TABLES, TableName } from "../schema/tables.js";
import { PARQUET_ROW_GROUP_ROWS, parquetColumns, parquetSchemaElements, type KeyValue, type ParquetColumn } from "./parquet-schema.js";
import { drainStream } from "./stream-drain.js";

/**
 * Streams one table into one Parquet file, row group by row group.
 *
 * Why hyparquet-writer: it is pure JS (no native build, like the rest of the CLI), and its
 * ParquetWriter is incremental: each write() call encodes whole row groups and hands the
 * bytes to our Writer's flush(); finish() writes the footer. So rows are buffered only up
 * to one row group (PARQUET_ROW_GROUP_ROWS, fewer for wide tables: ROW_GROUP_BYTES), then
 * encoded and written, and the buffers reused. A table is never held whole.
 *
 * Rows are buffered column-wise in typed arrays (numbers) and plain arrays (strings), not as
 * row objects; the conversion to what Parquet stores (BigInt for INT64) happens one column
 * at a time while the row group is encoded, so at most one column's BigInts are alive.
 */

/** raw buffer bytes per table before a row group is cut early (wide tables: per_request) */
const ROW_GROUP_BYTES = 32 << 20;
const INITIAL_ROWS = 4096;

type Row<N extends TableName> = z.infer<(typeof TABLES)[N]>;

interface ColumnBuffer {
  col: ParquetColumn;
  /** int and float values */
  num: Float64Array | null;
  /** 1 = null, for nullable numeric columns */
  isNull: Uint8Array | null;
  /** epoch_ns, string and json values */
  str: (string | null)[] | null;
}

export interface ParquetWriterOptions {
  kvMetadata: KeyValue[];
  /** columns left out of the file (the partition column of a hive-style layout) */
  omit?: readonly string[];
  rowGroupRows?: number;
}

/**
 * A ByteWriter that hands its bytes to a Node stream as they come (as hyparquet-writer's own
 * fileWriter does): once a page leaves more than OUT_CHUNK buffered, it is written out, so
 * the buffer stays near one page instead of growing (by copies) to a whole row group.
 * Offsets in the footer come from `offset`, the running total, so this is invisible to it.
 */
const OUT_CHUNK = 1 << 20;
class StreamByteWriter extends ByteWriter {
  constructor(private readonly out: Writable) {
    super(2 * OUT_CHUNK);
  }
  override ensure(size: number): void {
    if (this.index > OUT_CHUNK) this.flush();
    super.ensure(size);
  }
  flush(): void {
    if (this.index === 0) return;
    // the stream keeps what it is given until written: copy out of the reused buffer
    this.out.write(Buffer.from(new Uint8Array(this.buffer, 0, this.index)));
    this.index = 0;
  }
  override finish(): void {
    this.flush();
  }
}

export class ParquetTableWriter<N extends TableName> {
  rows = 0;
  readonly groupRows: number;
  private n = 0;
  private capacity: number;
  private readonly buffers: ColumnBuffer[];
  private readonly pq: ParquetWriter;
  private error: Error | null = null;

  constructor(
    readonly table: N,
    private readonly out: Writable,
    options: ParquetWriterOptions,
  ) {
    const columns = parquetColumns(table, options.omit);
    const rowBytes = columns.reduce((a, c) => a + (c.kind === "int" || c.kind === "float" ? 9 : 8), 0);
    this.groupRows = Math.max(1, Math.min(options.rowGroupRows ?? PARQUET_ROW_GROUP_ROWS, Math.floor(ROW_GROUP_BYTES / rowBytes)));
    this.capacity = Math.min(this.groupRows, INITIAL_ROWS);
    this.buffers = columns.map((col) => {
      const numeric = col.kind === "int" || col.kind === "float";
      return {
        col,
        num: numeric ? new Float64Array(this.capacity) : null,
        isNull: numeric && col.nullable ? new Uint8Array(this.capacity) : null,
        str: numeric ? null : new Array<string | null>(this.capacity).fill(null),
      };
    });
    out.on("error", (e) => {
      this.error ??= e;
    });
    this.pq = new ParquetWriter({
      writer: new StreamByteWriter(out),
      schema: parquetSchemaElements(columns),
      kvMetadata: options.kvMetadata,
      createdBy: "vsched (hyparquet-writer)",
    });
  }

  write(row: Row<N>): void {
    const r = row as Record<string, unknown>;
    const i = this.n;
    if (i === this.capacity) this.grow();
    for (const b of this.buffers) {
      const v = r[b.col.name];
      if (b.num) {
        if (v == null || (b.col.kind === "float" && !Number.isFinite(v as number))) {
          if (!b.isNull) throw new Error(`${this.table}.${b.col.name}: null in a required column`);
          b.isNull[i] = 1;
        } else {
          b.num[i] = v as number;
          if (b.isNull) b.isNull[i] = 0;
        }
      } else b.str![i] = v == null ? null : (v as string);
    }
    this.rows++;
    if (++this.n >= this.groupRows) this.flushGroup();
  }

  /** true while the stream's buffer is over its high-water mark (read from the stream, as CsvTableWriter does) */
  get needsDrain(): boolean {
    return this.out.writableNeedDrain;
  }

  async drain(): Promise<void> {
    this.throwIfFailed();
    await drainStream(this.out);
  }

  /** Writes the last row group and the footer, ends the stream, resolves when the bytes are written. */
  async close(): Promise<void> {
    this.throwIfFailed();
    if (this.n > 0) this.flushGroup();
    this.pq.finish();
    this.out.end();
    await finished(this.out);
    this.throwIfFailed();
  }

  destroy(): void {
    this.n = 0;
    this.out.destroy();
  }

  /** Buffers start small and double up to a row group: a small table never holds a big one. */
  private grow(): void {
    const cap = Math.min(this.groupRows, this.capacity * 2);
    for (const b of this.buffers) {
      if (b.num) {
        const num = new Float64Array(cap);
        num.set(b.num);
        b.num = num;
      }
      if (b.isNull) {
        const isNull = new Uint8Array(cap);
        isNull.set(b.isNull);
        b.isNull = isNull;
      }
      if (b.str) for (let k = this.capacity; k < cap; k++) b.str.push(null);
    }
    this.capacity = cap;
  }

  private flushGroup(): void {
    const n = this.n;
    const columnData: ColumnSource[] = this.buffers.map((b) => ({
      name: b.col.name,
      data: lazyColumn(b, n),
      encoding: b.col.encoding,
      // min/max of ids, enum labels and JSON text prune nothing and cost a string compare per value
      statistics: b.col.kind !== "string" && b.col.kind !== "json",
    }));
    this.pq.write({ columnData, rowGroupSize: n });
    for (const b of this.buffers) if (b.str) b.str.fill(null, 0, n);
    this.n = 0;
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }
}

/**
 * The column as ParquetWriter reads it: it takes `length`, then `slice()` once per row
 * group. Converting in slice() keeps a single column's converted values alive at a time.
 */
function lazyColumn(b: ColumnBuffer, n: number): ColumnSource["data"] {
  // a required integer column goes as numbers in a typed array: DELTA_BINARY_PACKED takes
  // numbers for INT64 (no BigInt per value, no boxed array); nullable ones need null slots
  if (b.col.kind === "int" && !b.isNull) return b.num!.subarray(0, n); // ParquetWriter slices (copies) it
  const slice = (start = 0, end = n): unknown[] => {
    end = Math.min(end, n);
    const out = new Array<unknown>(Math.max(0, end - start));
    const { num, isNull, str } = b;
    const kind = b.col.kind;
    for (let i = start, k = 0; i < end; i++, k++) {
      if (isNull && isNull[i]) out[k] = null;
      else if (kind === "int") out[k] = num![i];
      else if (kind === "float") out[k] = num![i];
      else if (kind === "epoch_ns") out[k] = str![i] == null ? null : BigInt(str![i]!);
      else out[k] = str![i];
    }
    return out;
  };
  return { length: n, slice } as unknown as ColumnSource["data"];
}
