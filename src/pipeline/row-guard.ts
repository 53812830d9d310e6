import type { Finding } from "../core/finding.js";
import { compileChecker, type Checker } from "../schema/fast-check.js";
import { TABLES, TABLE_NAMES, type TableName } from "../schema/tables.js";
import { SINK_TABLE, type RowMethod, type TableRowSink } from "../engine/table-sink.js";


const GUARDED = new Set<TableName>(["per_request", "per_iteration", "state_transitions"]);
const CHECKERS = Object.fromEntries(TABLE_NAMES.map((t) => [t, compileChecker(TABLES[t])])) as Record<TableName, Checker>;

/**
 * The rows of the per-request, per-iteration and transition tables are checked against
 * their declarations before they are written (per_iteration_requests and events, one row
 * per request per step, would cost a quarter of convert; their figures derive from the
 * same state, so a row gone wrong there shows in the checked tables too). Valid but absurd input (times near 2^53, counts that overflow when summed)
 * can make a row no reader accepts; it is written as computed and reported once per
 * table and column as an error finding, so convert exits 1, never 0 with tables that
 * validate would reject.
 */
export function guardRows(sink: TableRowSink, report: (f: Finding) => void): { sink: TableRowSink; end(): void } {
  const seen = new Map<string, { finding: Finding; rows: number }>();
  const wrap = <K extends RowMethod>(key: K): TableRowSink[K] => {
    const table = SINK_TABLE[key];
    const check = CHECKERS[table];
    const next = sink[key] as (row: unknown) => void;
    if (!GUARDED.has(table)) return next as TableRowSink[K];
    return ((row: unknown) => {
      const issue = check(row);
      if (issue) {
        const column = String(issue.path[0] ?? "");
        const k = `${table}\u0000${column}`;
        const s = seen.get(k);
        if (s) s.rows++;
        else seen.set(k, { finding: { code: "ENGINE_ROW_INVALID", severity: "error", args: { table, column, reason: issue.message } }, rows: 1 });
      }
      next(row);
    }) as TableRowSink[K];
  };
  const guarded = Object.fromEntries((Object.keys(SINK_TABLE) as RowMethod[]).map((k) => [k, wrap(k)])) as unknown as TableRowSink;
  // per_iteration_requests is not checked (above): its lanes go through as they are
  if (sink.perIterationRequestLanes) guarded.perIterationRequestLanes = sink.perIterationRequestLanes.bind(sink);
  // nor are events (above)
  if (sink.eventLanes) guarded.eventLanes = sink.eventLanes.bind(sink);
  return {
    sink: guarded,
    end() {
      for (const { finding, rows } of seen.values()) report({ ...finding, args: { ...finding.args, rows } });
    },
  };
}
