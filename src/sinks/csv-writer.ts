import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { z } from "zod";
import { OUTPUT_SCHEMA_VERSION, TABLES, tableColumns, type TableName } from "../schema/tables.js";
import { compileRowEncoder, ENCODER_HEADROOM, encoderFunctions, headerLine, RowOverflow, type CellGuard, type RowEncoder } from "../logs/csv-format.js";
import { compileLaneEncoder, DictionaryBytes, TableLaneCells, type LaneEncoder } from "../logs/csv-lanes.js";
import type { TableLanes } from "../schema/lanes.js";
import { drainStream } from "./stream-drain.js";

/** `# vsched <version> schema <OUTPUT_SCHEMA_VERSION> table <name>`: the optional first line. */
export function versionHeaderLine(vschedVersion: string, table: TableName): string {
  return `# vsched ${vschedVersion} schema ${OUTPUT_SCHEMA_VERSION} table ${table}\n`;
}

export interface CsvWriterOptions {
  /** write versionHeaderLine() before the column header (off by default: pd.read_csv reads the file as is) */
  versionHeader?: string | null;
  /** bytes encoded before one write() to the stream */
  bufferBytes?: number;
  /** watch text cells for formulas, and neutralise them when spreadsheetSafe */
  guard?: CellGuard;
}

/**
 * Streams one table. Rows are encoded synchronously into a byte buffer (the engine's
 * RowSink is synchronous) and handed to the stream in `bufferBytes` pieces; the caller
 * awaits drain() between input chunks so memory stays bounded, and close() resolves
 * only once every byte is flushed (arethetypeswrong's write.ts).
 */
export class CsvTableWriter<N extends TableName> {
  rows = 0;
  private buf: Buffer;
  private off = 0;
  private readonly encode: RowEncoder<z.infer<(typeof TABLES)[N]>>;
  private readonly size: number;
  private error: Error | null = null;
  private readonly guard: CellGuard | undefined;
  /** writeLanes(): compiled on first use */
  private lanes: { encode: LaneEncoder; cells: TableLaneCells } | null = null;

  constructor(
    readonly table: N,
    private readonly out: Writable,
    options: CsvWriterOptions = {},
  ) {
    this.guard = options.guard;
    this.encode = compileRowEncoder(table, options.guard);
    this.size = options.bufferBytes ?? 1 << 16;
    this.buf = Buffer.allocUnsafe(this.size + ENCODER_HEADROOM);
    out.on("error", (e) => {
      this.error ??= e;
    });
    this.out.write((options.versionHeader ?? "") + headerLine(tableColumns(table)));
  }

  write(row: z.infer<(typeof TABLES)[N]>): void {
    const start = this.off;
    const cells = this.guard?.formulaCells ?? 0;
    try {
      this.off = this.encode(row, this.buf, start);
    } catch (e) {
      if (!(e instanceof RowOverflow)) throw e;
      this.writeLarge((b, o) => this.encode(row, b, o), start, e.need, cells);
    }
    this.rows++;
    if (this.off >= this.size) this.flushBuffer();
  }

  /** Rows in lanes (the engine's per_iteration_requests and events): the bytes write() puts for the same values. */
  writeLanes(l: TableLanes): void {
    if (l.table !== this.table) throw new Error(`lanes of ${l.table} given to the ${this.table} writer`);
    const lanes = (this.lanes ??= this.laneEncoder());
    const enc = lanes.encode;
    const c = lanes.cells;
    c.load(l);
    for (let r = 0; r < l.rows; r++) {
      const start = this.off;
      const cells = this.guard?.formulaCells ?? 0;
      try {
        this.off = enc(c, r, this.buf, start);
      } catch (e) {
        if (!(e instanceof RowOverflow)) throw e;
        this.writeLarge((b, o) => enc(c, r, b, o), start, e.need, cells);
      }
      if (this.off >= this.size) this.flushBuffer();
    }
    this.rows += l.rows;
  }

  private laneEncoder(): { encode: LaneEncoder; cells: TableLaneCells } {
    const fns = encoderFunctions(this.guard);
    // without a guard nothing counts formula cells: a guard of its own, never read
    const bytes = new DictionaryBytes(this.guard ?? { spreadsheetSafe: false, formulaCells: 0 }, fns);
    return { encode: compileLaneEncoder(this.table, fns), cells: new TableLaneCells(bytes, fns) };
  }

  /**
   * true while the stream's buffer is over its high-water mark: await drain() before
   * feeding more input. Read from the stream itself, not remembered from write(): a
   * 'drain' that fired while the caller awaited another writer must not be waited for.
   */
  get needsDrain(): boolean {
    return this.out.writableNeedDrain;
  }

  async drain(): Promise<void> {
    this.throwIfFailed();
    await drainStream(this.out);
  }

  /** Flushes, ends the stream and resolves when the bytes are written. */
  async close(): Promise<void> {
    this.throwIfFailed();
    if (this.off > 0) this.flushBuffer();
    this.out.end();
    await finished(this.out);
    this.throwIfFailed();
  }

  destroy(): void {
    this.off = 0;
    this.out.destroy();
  }

  /** A row with a string field too long for the space left: flush, then retry in a buffer big enough. */
  private writeLarge(encode: (b: Buffer, o: number) => number, start: number, need: number, cells: number): void {
    this.off = start;
    if (this.off > 0) this.flushBuffer();
    let size = Math.max(this.size, need * 2);
    for (;;) {
      // the attempt that overflowed counted the row's formula cells up to there: count each once
      if (this.guard) this.guard.formulaCells = cells;
      const big = Buffer.allocUnsafe(size + ENCODER_HEADROOM);
      try {
        const end = encode(big, 0);
        this.out.write(big.subarray(0, end));
        return;
      } catch (e) {
        if (!(e instanceof RowOverflow)) throw e;
        size = size * 2 + e.need;
      }
    }
  }

  private flushBuffer(): void {
    // the stream keeps the buffer until written: hand it over and start a new one
    this.out.write(this.buf.subarray(0, this.off));
    this.buf = Buffer.allocUnsafe(this.size + ENCODER_HEADROOM);
    this.off = 0;
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }
}
