import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { ByteWriter } from "hyparquet-writer";
import { writeIndexes } from "hyparquet-writer/src/indexes.js";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import type { z } from "zod";
import type { TABLES, TableName } from "../schema/tables.js";
import { ColumnChunkBuilder } from "./parquet-chunk.js";
import { parquetRowGroupRows, parquetColumns, parquetPageRows, parquetSchemaElements, type ChunkIndexes, type ColumnChunk, type FileMetaData, type KeyValue, type RowGroup, type SchemaElement } from "./parquet-schema.js";
import { drainStream } from "./stream-drain.js";

/**
 * Streams one table into one Parquet file, row group by row group.
 *
 * Why hyparquet-writer: it is pure JS (no native build, like the rest of the CLI). We use its
 * encoders (delta, RLE/bit-packing, PLAIN, snappy, page headers, footer thrift) but not its
 * ParquetWriter, which encodes a whole column chunk at once from a JS array of the group's
 * values and allocates several more arrays of that length per column (levels, indexes, page
 * slices, boxed copies): with 100k-row groups that was ~130 MB of heap on top of convert.
 * Here each column encodes a page at a time as rows arrive (parquet-chunk.ts); a row group
 * holds only its compressed pages until it is complete, and then goes to the stream.
 * So memory is one page of raw values per column plus a row group's compressed bytes,
 * whatever the row-group size, and a table is never held whole.
 */

type Row<N extends TableName> = z.infer<(typeof TABLES)[N]>;

export interface ParquetWriterOptions {
  kvMetadata: KeyValue[];
  /** columns left out of the file (the partition column of a hive-style layout) */
  omit?: readonly string[];
  /** rows per row group (default PARQUET_ROW_GROUP_ROWS) and at most per data page (default: parquetPageRows) */
  rowGroupRows?: number;
  pageRows?: number;
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

const MAGIC = 0x31524150; // "PAR1"

export class ParquetTableWriter<N extends TableName> {
  rows = 0;
  readonly groupRows: number;
  private n = 0;
  private readonly columns: ColumnChunkBuilder[];
  private readonly schema: SchemaElement[];
  private readonly bytes: StreamByteWriter;
  private readonly rowGroups: RowGroup[] = [];
  private readonly indexes: ChunkIndexes[] = [];
  private error: Error | null = null;

  constructor(
    readonly table: N,
    private readonly out: Writable,
    private readonly options: ParquetWriterOptions,
  ) {
    const columns = parquetColumns(table, options.omit);
    this.groupRows = Math.max(1, options.rowGroupRows ?? parquetRowGroupRows());
    const pageRows = parquetPageRows(columns, this.groupRows, options.pageRows);
    this.columns = columns.map((c) => new ColumnChunkBuilder(c, pageRows, `${table}.${c.name}`));
    this.schema = parquetSchemaElements(columns);
    out.on("error", (e) => {
      this.error ??= e;
    });
    this.bytes = new StreamByteWriter(out);
    this.bytes.appendUint32(MAGIC);
  }

  write(row: Row<N>): void {
    const r = row as Record<string, unknown>;
    for (const c of this.columns) c.push(r[c.col.name]);
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
    writeIndexes(this.bytes, this.indexes);
    const metadata: Omit<FileMetaData, "metadata_length"> = {
      version: 2,
      created_by: "vsched (hyparquet-writer)",
      schema: this.schema,
      num_rows: BigInt(this.rows),
      row_groups: this.rowGroups,
      key_value_metadata: this.options.kvMetadata,
    };
    writeMetadata(this.bytes, metadata as FileMetaData);
    this.bytes.appendUint32(MAGIC);
    this.bytes.finish();
    this.out.end();
    await finished(this.out);
    this.throwIfFailed();
  }

  destroy(): void {
    this.n = 0;
    this.out.destroy();
  }

  /** The group's column chunks, one after the other, then its footer entry (kept for close()). */
  private flushGroup(): void {
    const start = this.bytes.offset;
    const chunks: ColumnChunk[] = [];
    let uncompressed = 0n;
    for (const c of this.columns) {
      const written = c.writeChunk(this.bytes);
      chunks.push(written.chunk);
      uncompressed += written.chunk.meta_data!.total_uncompressed_size;
      // the offset index is the page locations only: its footer entry is a few bytes a page
      if (written.offsetIndex) this.indexes.push(written);
    }
    this.rowGroups.push({
      columns: chunks,
      total_byte_size: uncompressed,
      num_rows: BigInt(this.n),
      file_offset: BigInt(start),
      total_compressed_size: BigInt(this.bytes.offset - start),
    });
    this.bytes.flush();
    this.n = 0;
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }
}
