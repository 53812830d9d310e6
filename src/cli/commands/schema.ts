import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { allJsonSchemas } from "../../schema/json-schema.js";
import { TABLE_NAMES } from "../../schema/tables.js";
import { InputError, UsageError } from "../errors.js";
import { writeAll } from "../io.js";
import { examples } from "../examples.js";

/** The file name of each selectable schema: `raw` or a table name. */
export const SCHEMA_CHOICES: Record<string, string> = {
  raw: "raw-trace.schema.json",
  ...Object.fromEntries(TABLE_NAMES.map((t) => [t, `${t}.schema.json`])),
};

export const schemaFileText = (schema: unknown): string => `${JSON.stringify(schema, null, 2)}\n`;

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("Print the JSON Schemas of the raw trace record and of each output table's rows (generated from vsched's zod declarations), or write them to a directory.")
    .option("--table <name>", `only one schema: raw, ${TABLE_NAMES.join(", ")}`)
    .option("--write <dir>", "write <name>.schema.json files into DIR instead of printing")
    .addHelpText("after", examples("vsched schema --table per_request", "vsched schema --write schema-out/"))
    .action(async (opts: { table?: string; write?: string }) => {
      const all = allJsonSchemas();
      let names = Object.keys(all);
      if (opts.table !== undefined) {
        const file = SCHEMA_CHOICES[opts.table];
        if (!file) throw new UsageError(`--table: unknown schema '${opts.table}'; choose one of ${Object.keys(SCHEMA_CHOICES).join(", ")}`);
        names = [file];
      }
      if (opts.write !== undefined) {
        try {
          await mkdir(opts.write, { recursive: true });
          for (const n of names) await writeFile(path.join(opts.write, n), schemaFileText(all[n]));
        } catch (e) {
          throw new InputError(`cannot write schemas: ${(e as Error).message.replace(/^[A-Z]+: /, "")}`, "OUT_UNWRITABLE", opts.write);
        }
        process.stderr.write(`vsched: wrote ${names.map((n) => path.join(opts.write!, n).split(path.sep).join("/")).join(", ")}\n`);
        return;
      }
      // one schema prints as itself; all of them as one object keyed by file name
      await writeAll(process.stdout, schemaFileText(names.length === 1 ? all[names[0]] : Object.fromEntries(names.map((n) => [n, all[n]]))));
    });
}
