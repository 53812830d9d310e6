import { layout } from "./lanes.js";
import type { TableName } from "./tables.js";

/**
 * Where a producer that writes a table's lanes by hand (the engine: per_iteration_requests, events)
 * puts each column's cell, looked up once from the table's layout (itself from its zod declaration),
 * so a writer names columns, never positions: a column renamed, moved or retyped in src/schema
 * fails at load, not as a shifted cell.
 */
export interface LanePlaces {
  /** the column's cell in a row's tags */
  cell(column: string): number;
  /** the column's place in its lane (num when `numeric`, else str) */
  lane(column: string, numeric: boolean): number;
  /** an enum value's code in the str lane: -(its index in the column's options + 1) */
  code(column: string, value: string): number;
  /** every option of an enum column, to its code */
  codes(column: string): Map<string, number>;
}

export function lanePlaces(table: TableName): LanePlaces {
  const lay = layout(table);
  const cell = (c: string): number => {
    const k = lay.cols.indexOf(c);
    if (k < 0) throw new Error(`${table} has no column ${c}`);
    return k;
  };
  const options = (c: string): readonly string[] => {
    const o = lay.lane[cell(c)].options;
    if (!o) throw new Error(`${table}.${c}: not an enum column`);
    return o;
  };
  return {
    cell,
    lane(c, numeric) {
      const l = lay.lane[cell(c)];
      if (l.numeric !== numeric) throw new Error(`${table}.${c}: not a ${numeric ? "numeric" : "string"} column`);
      return l.index;
    },
    code(c, v) {
      const k = options(c).indexOf(v);
      if (k < 0) throw new Error(`${table}.${c}: no value ${v}`);
      return -(k + 1);
    },
    codes: (c) => new Map(options(c).map((v, k) => [v, -(k + 1)])),
  };
}
