import type { TableName } from "../schema/tables.js";
import type { RowSink } from "./types.js";

/** A RowSink without findings: the table rows alone (a replay counts the findings itself). */
export type TableRowSink = Omit<RowSink, "finding">;

/** A sink's methods that take one row each (the columnar paths, perIterationRequestLanes and eventLanes, are optional). */
export type RowMethod = Exclude<keyof TableRowSink, "perIterationRequestLanes" | "eventLanes" | "waitingLabel">;

/** The table each row method of a sink writes. */
export const SINK_TABLE = {
  perRequest: "per_request",
  perIteration: "per_iteration",
  perIterationRequest: "per_iteration_requests",
  event: "events",
  stateTransition: "state_transitions",
  prediction: "predictions",
} as const satisfies Record<RowMethod, TableName>;

/** A row sink that hands every table's rows to `put(table)`. */
export function tableSink(put: (table: TableName) => (row: never) => void): TableRowSink {
  return Object.fromEntries(Object.entries(SINK_TABLE).map(([k, t]) => [k, put(t)])) as unknown as TableRowSink;
}
