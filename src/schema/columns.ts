import { z } from "zod";

/**
 * Column builders for the output tables. Each column carries its unit and meaning
 * as zod metadata, so the manifest, `vsched schema` and the README tables all read
 * the same words. `kind` tells the CSV reader how to turn text back into a value.
 */
export type ColumnKind = "int" | "float" | "string" | "epoch_ns" | "json";
export interface ColumnMeta {
  description: string;
  unit: string;
  kind: ColumnKind;
  [k: string]: unknown;
}

const withMeta = <T extends z.ZodType>(schema: T, meta: ColumnMeta) => schema.meta(meta);

export const col = {
  ns: (description: string) => withMeta(z.number().int(), { description, unit: "ns", kind: "int" }),
  nsOpt: (description: string) => withMeta(z.number().int().nullable(), { description, unit: "ns", kind: "int" }),
  epochNs: (description: string) => withMeta(z.string().regex(/^-?\d+$/).nullable(), { description, unit: "epoch ns", kind: "epoch_ns" }),
  count: (description: string, unit = "count") => withMeta(z.number().int().nonnegative(), { description, unit, kind: "int" }),
  countOpt: (description: string, unit = "count") => withMeta(z.number().int().nonnegative().nullable(), { description, unit, kind: "int" }),
  int: (description: string, unit = "") => withMeta(z.number().int(), { description, unit, kind: "int" }),
  intOpt: (description: string, unit = "") => withMeta(z.number().int().nullable(), { description, unit, kind: "int" }),
  float: (description: string, unit: string) => withMeta(z.number().nullable(), { description, unit, kind: "float" }),
  str: (description: string) => withMeta(z.string(), { description, unit: "", kind: "string" }),
  strOpt: (description: string) => withMeta(z.string().nullable(), { description, unit: "", kind: "string" }),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, description: string) =>
    withMeta(z.enum(values), { description, unit: "", kind: "string" }),
  oneOfOpt: <const T extends readonly [string, ...string[]]>(values: T, description: string) =>
    withMeta(z.enum(values).nullable(), { description, unit: "", kind: "string" }),
  json: (description: string) => withMeta(z.string(), { description, unit: "JSON", kind: "json" }),
};

/**
 * Columns appended by a later minor of the output schema (`since`): a logs directory written
 * at an older minor lacks them, and validate expects only the columns of its own minor.
 */
export function added<S extends Record<string, z.ZodType>>(minor: string, cols: S): S {
  return Object.fromEntries(Object.entries(cols).map(([k, s]) => [k, s.meta({ ...(s.meta() as object), since: minor })])) as S;
}

export function columnMeta(schema: z.ZodType): ColumnMeta {
  const m = schema.meta() as ColumnMeta | undefined;
  if (!m) throw new Error("column without metadata");
  return m;
}

/** The values of an enum column (z.enum, nullable or not), or null for any other column. */
export function enumValues(schema: z.ZodType): readonly string[] | null {
  let t = schema as unknown as { options?: unknown; unwrap?: () => unknown };
  while (!Array.isArray(t.options) && typeof t.unwrap === "function") t = t.unwrap() as typeof t;
  return Array.isArray(t.options) && t.options.every((v) => typeof v === "string") ? (t.options as string[]) : null;
}
