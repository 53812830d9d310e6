import type { RowSink } from "../engine/types.js";
import type { RowMethod } from "../engine/table-sink.js";
import type { TableName } from "../schema/tables.js";

/** What convert needs from a set of table writers (CsvTableSet, ParquetTableSet). */
export interface TableSetLike {
  readonly sink: Omit<RowSink, "finding">;
  readonly needsDrain: boolean;
  drain(): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
  rowCounts(): Record<TableName, number>;
}

/** Several table sets fed the same rows (`convert --format both`). */
export class TeeTableSet implements TableSetLike {
  readonly sink: Omit<RowSink, "finding">;

  constructor(private readonly sets: readonly TableSetLike[]) {
    const each =
      <K extends RowMethod>(k: K) =>
      (row: Parameters<RowSink[K]>[0]) => {
        for (const s of sets) (s.sink[k] as (r: typeof row) => void)(row);
      };
    // several sets take row objects (no perIterationRequestLanes): the Parquet writer needs them
    this.sink = sets.length === 1 ? sets[0].sink : {
      perRequest: each("perRequest"),
      perIteration: each("perIteration"),
      perIterationRequest: each("perIterationRequest"),
      event: each("event"),
      stateTransition: each("stateTransition"),
      prediction: each("prediction"),
    };
  }

  get needsDrain(): boolean {
    return this.sets.some((s) => s.needsDrain);
  }

  async drain(): Promise<void> {
    for (const s of this.sets) if (s.needsDrain) await s.drain();
  }

  async close(): Promise<void> {
    await Promise.all(this.sets.map((s) => s.close()));
  }

  destroy(): void {
    for (const s of this.sets) s.destroy();
  }

  rowCounts(): Record<TableName, number> {
    return this.sets[0].rowCounts();
  }
}
