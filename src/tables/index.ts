export type { RowHandlers, RunInfo, TableRow, TableSource } from "./types.js";
export { openTables } from "./open.js";
export { openLogsDir } from "./logs-dir.js";
export { openTraces, type TraceSource } from "./from-trace.js";
export { memorySource, type TableRows } from "./memory.js";
