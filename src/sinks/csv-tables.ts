import { createWriteStream } from "node:fs";
import path from "node:path";
import type { RowSink } from "../engine/types.js";
import { csvFileName } from "../logs/layout.js";
import { TABLE_NAMES, type TableName } from "../schema/tables.js";
import type { CellGuard } from "../logs/csv-format.js";
import { CsvTableWriter, versionHeaderLine } from "./csv-writer.js";

/** The five table writers of one output directory, as the engine's RowSink. */
export class CsvTableSet {
  readonly writers: { [N in TableName]: CsvTableWriter<N> };
  readonly sink: Omit<RowSink, "finding">;
  private readonly list: CsvTableWriter<TableName>[];

  /** formula-like text cells written, over every table */
  readonly guard: CellGuard;

  constructor(dir: string, options: { versionHeader?: string | null; spreadsheetSafe?: boolean } = {}) {
    const guard: CellGuard = (this.guard = { spreadsheetSafe: options.spreadsheetSafe === true, formulaCells: 0 });
    const open = <N extends TableName>(t: N) =>
      new CsvTableWriter(t, createWriteStream(path.join(dir, csvFileName(t)), { highWaterMark: 1 << 20 }), {
        versionHeader: options.versionHeader ? versionHeaderLine(options.versionHeader, t) : null,
        guard,
      });
    this.writers = {
      per_request: open("per_request"),
      per_iteration: open("per_iteration"),
      per_iteration_requests: open("per_iteration_requests"),
      events: open("events"),
      state_transitions: open("state_transitions"),
      predictions: open("predictions"),
    };
    this.list = TABLE_NAMES.map((t) => this.writers[t] as CsvTableWriter<TableName>);
    const w = this.writers;
    this.sink = {
      perRequest: (row) => w.per_request.write(row),
      perIteration: (row) => w.per_iteration.write(row),
      perIterationRequest: (row) => w.per_iteration_requests.write(row),
      // the engine's columnar paths: per_iteration_requests and events without a row object per row
      perIterationRequestLanes: (lanes) => w.per_iteration_requests.writeLanes(lanes),
      event: (row) => w.events.write(row),
      eventLanes: (lanes) => w.events.writeLanes(lanes),
      stateTransition: (row) => w.state_transitions.write(row),
      prediction: (row) => w.predictions.write(row),
    };
  }

  get needsDrain(): boolean {
    for (const w of this.list) if (w.needsDrain) return true;
    return false;
  }

  /** Resolves when every writer that asked for it has drained. */
  async drain(): Promise<void> {
    for (const w of this.list) if (w.needsDrain) await w.drain();
  }

  async close(): Promise<void> {
    await Promise.all(this.list.map((w) => w.close()));
  }

  /** After a failure: stop writing and release the files (their content is discarded). */
  destroy(): void {
    for (const w of this.list) w.destroy();
  }

  rowCounts(): Record<TableName, number> {
    return Object.fromEntries(TABLE_NAMES.map((t) => [t, this.writers[t].rows])) as Record<TableName, number>;
  }
}
