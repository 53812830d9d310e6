import type { z } from "zod";
import { columnMeta } from "../schema/columns.js";
import { formatFloat, formatString, headerLine } from "../logs/csv-format.js";

/**
 * The training tables of vsched fit --export as CSV text, in the same format as the
 * output tables (logs/csv-format.ts): columns from the zod declaration's key order, floats with
 * fixed decimals, strings quoted by RFC 4180. They hold one row per step or request, small
 * enough to build as one string.
 */
export function formatCsv<S extends z.ZodObject>(schema: S, rows: readonly z.infer<S>[]): string {
  const cols = Object.keys(schema.shape);
  const kinds = cols.map((c) => columnMeta(schema.shape[c] as z.ZodType).kind);
  const parts = [headerLine(cols)];
  for (const row of rows) {
    const r = row as Record<string, unknown>;
    parts.push(
      cols
        .map((c, j) => {
          const v = r[c];
          if (v === null || v === undefined) return "";
          if (kinds[j] === "float") return formatFloat(v as number);
          if (kinds[j] === "int") return String(v);
          return formatString(String(v));
        })
        .join(",") + "\n",
    );
  }
  return parts.join("");
}
