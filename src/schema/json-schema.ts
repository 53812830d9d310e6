import { z } from "zod";
import { TRACE_SCHEMA_VERSION, WireRecord } from "./raw.js";
import { OUTPUT_SCHEMA_VERSION, TABLES, type TableName } from "./tables.js";

/** JSON Schemas generated from the zod declarations: what `vsched schema` prints and schema/ commits. */
export function rawTraceJsonSchema(): Record<string, unknown> {
  return {
    $id: `https://vsched.dev/schema/raw-trace-${TRACE_SCHEMA_VERSION}.json`,
    title: `vsched raw trace record, schema ${TRACE_SCHEMA_VERSION} (one JSON object per line)`,
    ...z.toJSONSchema(WireRecord, { target: "draft-2020-12", io: "input" }),
  };
}

export function tableJsonSchema(name: TableName): Record<string, unknown> {
  return {
    $id: `https://vsched.dev/schema/${name}-${OUTPUT_SCHEMA_VERSION}.json`,
    title: `vsched ${name}.csv row, schema ${OUTPUT_SCHEMA_VERSION} (property order is column order)`,
    ...z.toJSONSchema(TABLES[name], { target: "draft-2020-12", io: "input" }),
  };
}

/** file name → schema object, for `vsched schema --write DIR` and the staleness test */
export function allJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = { "raw-trace.schema.json": rawTraceJsonSchema() };
  for (const name of Object.keys(TABLES) as TableName[]) out[`${name}.schema.json`] = tableJsonSchema(name);
  return out;
}
