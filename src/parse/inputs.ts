import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../core/errors.js";
import { msg, PARSE_CODES } from "./messages.js";
import { asTraceFile } from "./otlp-in.js";

/** One trace file to read: one scheduler process (DP rank). */
export interface TraceInput {
  /** absolute path, for reading */
  path: string;
  /** path as the user gave it (directory entries joined to the directory as given): for messages */
  display: string;
  /** path relative to the working directory, '/'-separated: for the manifest (never absolute) */
  relative: string;
  /** size on disk in bytes (compressed size for .gz) */
  size: number;
}

export const TRACE_FILE_RE = /\.jsonl(\.gz)?$/;

/**
 * Inputs as given on the command line → trace files. A directory stands for every
 * *.jsonl / *.jsonl.gz directly inside it, sorted by name; files are taken as given
 * whatever their extension. Duplicates are dropped (first occurrence wins).
 */
export async function resolveInputs(args: readonly string[], cwd = process.cwd()): Promise<TraceInput[]> {
  const out: TraceInput[] = [];
  const seen = new Set<string>();
  const add = (abs: string, given: string, size: number) => {
    if (seen.has(abs)) return;
    seen.add(abs);
    out.push({ path: abs, display: given, relative: displayPath(abs, cwd), size });
  };
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    const given = toSlashes(path.normalize(arg));
    const st = await statOrThrow(abs, given);
    if (st.isDirectory()) {
      const names = (await readdir(abs)).filter((n) => TRACE_FILE_RE.test(n)).sort();
      const files: [string, string, number][] = [];
      for (const n of names) {
        const f = path.join(abs, n);
        const shown = toSlashes(path.join(given, n));
        const s = await statOrThrow(f, shown);
        if (s.isFile()) files.push([f, shown, s.size]);
      }
      if (files.length === 0) throw new InputError(msg.noTraces(), PARSE_CODES.noTraces, given);
      for (const [f, shown, size] of files) add(f, shown, size);
    } else {
      add(abs, given, st.size);
    }
  }
  // OTLP/JSON (seed 004's journey and step tracing) is read as the trace it translates to
  return Promise.all(out.map(asTraceFile));
}

export function displayPath(abs: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, abs);
  return toSlashes(rel === "" ? "." : rel);
}

const toSlashes = (p: string) => p.split(path.sep).join("/");

async function statOrThrow(abs: string, display: string) {
  try {
    return await stat(abs);
  } catch (e) {
    throw fsError(e, display);
  }
}

/** Node fs errors → InputError naming the file (exit 2). */
export function fsError(e: unknown, display: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new InputError(msg.notFound(), PARSE_CODES.notFound, display);
  if (code === "EACCES" || code === "EPERM" || code === "EISDIR" || code === "EMFILE" || code === "EIO")
    return new InputError(msg.unreadable((e as Error).message.replace(/^[A-Z]+: /, "")), PARSE_CODES.unreadable, display);
  return e instanceof Error ? e : new Error(String(e));
}
