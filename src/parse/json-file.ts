import { readFileSync } from "node:fs";
import type { z } from "zod";
import { InputError } from "../core/errors.js";

/**
 * A small JSON file vsched wrote (manifest.json, a step-model file), read through its zod
 * declaration: not readable, not JSON, or a field that breaks the declaration is one
 * InputError with `code`, naming the file and the field. `hint` says how to get a good one.
 */
/**
 * JSON.parse of a file's text, a leading byte-order mark skipped (editors on Windows add one);
 * a syntax error is rethrown with its message on one line (V8 quotes the text around it,
 * newlines included).
 */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new SyntaxError((e as Error).message.replace(/\s*[\r\n]+\s*/g, " "));
  }
}

export function readJsonFile<S extends z.ZodType>(schema: S, path: string, code: string, display = path, hint = ""): z.infer<S> {
  let json: unknown;
  try {
    json = parseJsonText(readFileSync(path, "utf8"));
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
