import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, tableColumns, type TableName } from "../schema/tables.js";
import type { RowHandlers, RunInfo, TableRow, TableSource } from "./types.js";

export type TableRows = { [N in TableName]?: TableRow<N>[] };

/** Rows held in memory as a TableSource: for tests and for small derived runs. */
export function memorySource(rows: TableRows, info: Partial<RunInfo> = {}): TableSource {
  return {
    info: {
      origin: "trace",
      label: "(memory)",
      outputSchemaVersion: OUTPUT_SCHEMA_VERSION,
      epochZeroNs: "0",
      sources: [],
      options: { iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true },
      ...info,
    },
    columns: (t) => (rows[t] ? tableColumns(t) : null),
    async scan(handlers: RowHandlers) {
      for (const t of TABLE_NAMES) {
        const h = handlers[t] as ((row: TableRow<TableName>) => void) | undefined;
        if (h) for (const r of rows[t] ?? []) h(r);
      }
    },
  };
}
