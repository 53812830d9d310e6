import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { finished, pipeline } from "node:stream/promises";
import { tableColumns, TABLE_NAMES, type TableName } from "../schema/tables.js";
import { csvFileName } from "../logs/layout.js";
import { headerLine } from "../logs/csv-format.js";
import { versionHeaderLine } from "../sinks/csv-writer.js";

/**
 * The CSV files of a threaded convert. Input 0's bytes go straight into each table's
 * file; input k > 0 (converted at the same time by its own worker) into a part file in
 * the staging directory, appended after input k-1's at the end: the same bytes, in the
 * same order (grouped by input), as the single-threaded path writes, with memory bounded.
 * Chunks of one (input, table) arrive tagged with their sequence number, possibly out of
 * order (several encoders), and are written in sequence.
 */
export class CsvOutputs {
  private readonly dests = new Map<string, Dest>();
  private error: Error | null = null;

  constructor(
    private readonly dir: string,
    private readonly inputs: number,
    private readonly versionHeader: string | null,
  ) {
    for (const t of TABLE_NAMES) this.dest(0, t).stream.write((versionHeader ? versionHeaderLine(versionHeader, t) : "") + headerLine(tableColumns(t)));
  }

  /**
   * Writes the chunk once every earlier one of its (input, table) is written; `written` runs when
   * the stream has taken it without exceeding its buffer, `done` when its bytes are in the file
   * (the buffer may then be reused).
   */
  put(input: number, table: TableName, seq: number, bytes: Uint8Array, written: () => void, done?: () => void): void {
    const d = this.dest(input, table);
    d.pending.set(seq, { bytes, written, done });
    for (let c = d.pending.get(d.next); c; c = d.pending.get(d.next)) {
      d.pending.delete(d.next++);
      const ok = c.done ? d.stream.write(c.bytes, c.done) : d.stream.write(c.bytes);
      if (ok) c.written();
      else d.stream.once("drain", c.written);
    }
  }

  /** Ends every file, appends the part files in input order, and resolves when all is on disk. */
  async close(): Promise<void> {
    for (const d of this.dests.values()) d.stream.end();
    await Promise.all([...this.dests.values()].map((d) => finished(d.stream)));
    this.throwIfFailed();
    for (const t of TABLE_NAMES) {
      for (let i = 1; i < this.inputs; i++) {
        const d = this.dests.get(key(i, t));
        if (!d) continue;
        await pipeline(createReadStream(d.file), createWriteStream(this.dest(0, t).file, { flags: "a" }));
        await rm(d.file);
      }
    }
  }

  destroy(): void {
    for (const d of this.dests.values()) d.stream.destroy();
  }

  /** the first write error, if any (the coordinator checks it after each chunk) */
  get failed(): Error | null {
    return this.error;
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }

  private dest(input: number, table: TableName): Dest {
    const k = key(input, table);
    let d = this.dests.get(k);
    if (!d) {
      const file = input === 0 ? path.join(this.dir, csvFileName(table)) : path.join(this.dir, `.part-${input}-${csvFileName(table)}`);
      const stream = createWriteStream(file, { highWaterMark: 1 << 20 });
      stream.on("error", (e) => {
        this.error ??= e;
        this.onError?.(e);
      });
      d = { file, stream, next: 0, pending: new Map() };
      this.dests.set(k, d);
    }
    return d;
  }

  /** set by the coordinator: a write failed */
  onError: ((e: Error) => void) | null = null;
}

interface Dest {
  file: string;
  stream: WriteStream;
  /** sequence number of the next chunk to write */
  next: number;
  pending: Map<number, { bytes: Uint8Array; written: () => void; done: (() => void) | undefined }>;
}

const key = (input: number, table: TableName) => `${input}\u0000${table}`;
