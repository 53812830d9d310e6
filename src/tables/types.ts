import type { z } from "zod";
import type { HeaderRecord } from "../schema/raw.js";
import type { TABLES, TableName } from "../schema/tables.js";

/** A row of a table, typed from its zod declaration (src/schema/tables.ts). */
export type TableRow<N extends TableName> = z.infer<(typeof TABLES)[N]>;

/** One handler per table a pass wants; tables without a handler are not read. */
export type RowHandlers = { [N in TableName]?: (row: TableRow<N>) => void };

/** What a consumer may know about a run before reading a row. */
export interface RunInfo {
  /** a logs directory written by convert, or raw traces replayed on the fly */
  origin: "logs" | "trace";
  /** the directory or the first trace, as the user gave it (for messages) */
  label: string;
  /** output schema version of the tables (null: a logs directory without manifest.json) */
  outputSchemaVersion: string | null;
  /** absolute epoch ns of t=0, as a decimal string (exceeds 2^53) */
  epochZeroNs: string | null;
  /** one per trace file (= scheduler process / DP rank), in row order */
  sources: { path: string; header: Omit<HeaderRecord, "type"> & Record<string, unknown>; timeOffsetNs: number }[];
  /** how complete per_iteration_requests and events are */
  options: { iterationRequests: "all" | "running" | "none"; iterationRequestsEvery: number; scheduledEvents: boolean };
  /**
   * raw traces: whether a prediction record appears near the start of an input (a policy that
   * predicts does so from its first requests), so a command can ask for what predictions need in
   * its one pass; a hint only (columns() says what a replay can write)
   */
  predictionsLikely?: boolean;
}

/**
 * Typed access to the tables of one run, whatever they are stored as. Analyses take a
 * TableSource and never see files, CSV text or column-name strings.
 */
export interface TableSource {
  readonly info: RunInfo;
  /** the columns the stored table has (appended columns of a newer writer included); null when it is absent */
  columns(table: TableName): readonly string[] | null;
  /**
   * One pass over the chosen tables; each handler sees its table's rows in stored order.
   * From a logs directory the tables are read one after another; from a trace the replay
   * runs once per pass and rows of different tables interleave. Call again for another pass.
   * Columns a stored table lacks (an older minor) arrive as null.
   */
  scan(handlers: RowHandlers): Promise<void>;
}
