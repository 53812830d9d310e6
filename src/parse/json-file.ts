import { readFileSync } from "node:fs";
import type { z } from "zod";
import { InputError } from "../core/errors.js";

/**
 * A small JSON file vsched wrote (manifest.json, a step-model file), read through its zod
 * declaration: not readable, not JSON, or a field that breaks the declaration is one
 * InputError with `code`, naming the file and the field. `hint` says how to get a good one.
 */
export function readJsonFile<S extends z.ZodType>(schema: S, path: string, code: string, display = path, hint = ""): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError(err.code ? `cannot read it: ${err.code}` : `not JSON: ${err.message}`, code, display);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new InputError(`field ${i.path.join(".") || "(top level)"}: ${i.message}${hint ? ` (${hint})` : ""}`, code, display);
  }
  return parsed.data;
}
