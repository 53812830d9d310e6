import path from "node:path";
import { resolveInputs } from "../parse/inputs.js";
import { isLogsDir } from "../logs/layout.js";
import { openLogsDir } from "./logs-dir.js";
import { openTraces } from "./from-trace.js";
import type { TableSource } from "./types.js";

/**
 * What every reading command accepts: one logs directory written by convert, or raw
 * traces (files, or directories holding *.jsonl / *.jsonl.gz) replayed on the fly.
 */
export async function openTables(args: readonly string[], opts: { cwd?: string; lenient?: boolean } = {}): Promise<TableSource> {
  const cwd = opts.cwd ?? process.cwd();
  if (args.length === 1 && isLogsDir(path.resolve(cwd, args[0]))) return openLogsDir(path.resolve(cwd, args[0]), args[0].replace(/\/+$/, "") || "/");
  return openTraces(await resolveInputs(args, cwd), { lenient: opts.lenient });
}
