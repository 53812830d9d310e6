import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { tableSink } from "../engine/table-sink.js";
import type { RowSink } from "../engine/types.js";
import { parquetEntryName, parquetFileName, partitionFile, type PartitionColumn } from "../logs/layout.js";
import { TABLE_NAMES, type TableName } from "../schema/tables.js";
import { parquetKeyValues } from "./parquet-schema.js";
import { ParquetTableWriter } from "./parquet-writer.js";

/**
 * Partitioned writers open at once per table. Rows arrive grouped by source file (one
 * rank each), so one is usually enough; a rank seen again after its writer was closed
 * gets a new part-N file, which hive readers take as more of the same partition.
 */
const MAX_OPEN_PARTITIONS = 4;

export interface ParquetTableSetOptions {
  vschedVersion: string;
  partitionBy?: PartitionColumn | null;
}

type AnyWriter = ParquetTableWriter<TableName>;

/**
 * The five Parquet tables of one output directory, as the engine's RowSink: the same small
 * API as CsvTableSet (src/report/csv-tables.ts), so convert drives both the same way.
 */
export class ParquetTableSet {
  readonly sink: Omit<RowSink, "finding">;
  readonly partitionBy: PartitionColumn | null;
  private readonly rows = Object.fromEntries(TABLE_NAMES.map((t) => [t, 0])) as Record<TableName, number>;
  /** one writer per table, or per table the open partitions (oldest first) */
  private readonly single = new Map<TableName, AnyWriter>();
  private readonly open = new Map<TableName, Map<number, AnyWriter>>();
  private readonly parts = new Map<string, number>();
  private readonly closing: Promise<void>[] = [];
  private readonly written: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly options: ParquetTableSetOptions,
  ) {
    this.partitionBy = options.partitionBy ?? null;
    if (!this.partitionBy) for (const t of TABLE_NAMES) this.single.set(t, this.openWriter(t, parquetFileName(t), []));
    else for (const t of TABLE_NAMES) this.open.set(t, new Map());
    const put = (t: TableName) => (row: { dp_rank: number }) => {
      this.rows[t]++;
      this.writerFor(t, row.dp_rank).write(row as never);
    };
    this.sink = tableSink(put);
  }

  /** Top-level names in the output directory (files, or partition directories) for StagedOutputDir.commit. */
  entries(): string[] {
    // a partitioned table without rows has no partition, so no directory
    return TABLE_NAMES.filter((t) => !this.partitionBy || this.rows[t] > 0).map((t) => parquetEntryName(t, this.partitionBy));
  }

  /** Every file written, relative to the directory, sorted (for the manifest). */
  files(): string[] {
    return [...this.written].sort();
  }

  get needsDrain(): boolean {
    for (const w of this.writers()) if (w.needsDrain) return true;
    return false;
  }

  async drain(): Promise<void> {
    for (const w of this.writers()) if (w.needsDrain) await w.drain();
  }

  async close(): Promise<void> {
    const all = [...this.writers()].map((w) => w.close());
    this.single.clear();
    for (const m of this.open.values()) m.clear();
    await Promise.all([...this.closing, ...all]);
  }

  destroy(): void {
    for (const w of this.writers()) w.destroy();
  }

  rowCounts(): Record<TableName, number> {
    return { ...this.rows };
  }

  private *writers(): Generator<AnyWriter> {
    yield* this.single.values();
    for (const m of this.open.values()) yield* m.values();
  }

  private writerFor(table: TableName, rank: number): AnyWriter {
    const single = this.single.get(table);
    if (single) return single;
    const open = this.open.get(table)!;
    let w = open.get(rank);
    if (w) return w;
    if (open.size >= MAX_OPEN_PARTITIONS) {
      const [oldRank, oldest] = open.entries().next().value!;
      open.delete(oldRank);
      const closed = oldest.close();
      closed.catch(() => undefined); // awaited (and its error thrown) by close()
      this.closing.push(closed);
    }
    const key = `${table}/${rank}`;
    const part = this.parts.get(key) ?? 0;
    this.parts.set(key, part + 1);
    const column = this.partitionBy!;
    w = this.openWriter(table, partitionFile(table, column, rank, part), [column], { [`vsched.partition.${column}`]: String(rank) });
    open.set(rank, w);
    return w;
  }

  private openWriter(table: TableName, rel: string, omit: string[], extra: Record<string, string> = {}): AnyWriter {
    const file = path.join(this.dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    this.written.push(rel.split(path.sep).join("/"));
    return new ParquetTableWriter(table, createWriteStream(file, { highWaterMark: 1 << 20 }), {
      kvMetadata: parquetKeyValues(table, this.options.vschedVersion, extra),
      omit,
    });
  }
}
