import type { Writable } from "node:stream";
import { Chalk, type ChalkInstance } from "chalk";

/**
 * Output helpers shared by the commands. Data goes to stdout or files; diagnostics
 * (warnings, progress, summaries) to stderr.
 */

type Env = Record<string, string | undefined>;
type MaybeTTY = { isTTY?: boolean };

/** Colour only when NO_COLOR is unset (any value disables it) and the stream is a TTY. */
export function colorEnabled(stream: MaybeTTY = process.stderr, env: Env = process.env): boolean {
  return env.NO_COLOR === undefined && stream.isTTY === true;
}

/** Progress bars only on a TTY, never in CI. */
export function progressEnabled(stream: MaybeTTY = process.stderr, env: Env = process.env): boolean {
  return stream.isTTY === true && !env.CI;
}

/** A chalk instance that honours colorEnabled() for `stream` (chalk itself ignores NO_COLOR). */
export function chalkFor(stream: MaybeTTY = process.stderr, env: Env = process.env): ChalkInstance {
  return new Chalk({ level: colorEnabled(stream, env) ? 1 : 0 });
}

/** One diagnostic line on stderr: `vsched: warning: file:line: text [CODE]`. */
export function warn(text: string, where?: { file?: string; line?: number; code?: string }, stream: Writable & MaybeTTY = process.stderr): void {
  const c = chalkFor(stream);
  const loc = where?.file ? `${where.file}${where.line !== undefined ? `:${where.line}` : ""}: ` : "";
  stream.write(`vsched: ${c.yellow("warning")}: ${loc}${text}${where?.code ? ` [${where.code}]` : ""}\n`);
}

/**
 * Writes `data` to a stream and resolves only once it is flushed (a large output piped
 * to `head` or a file must never be truncated by process exit). Rejects on stream error;
 * EPIPE (reader went away) resolves quietly.
 */
export function writeAll(stream: Writable, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => (e.code === "EPIPE" ? resolve() : reject(e));
    stream.once("error", onError);
    stream.write(data, (e) => {
      stream.off("error", onError);
      if (e) onError(e as NodeJS.ErrnoException);
      else resolve();
    });
  });
}

export { StagedOutputDir } from "./staged-output.js";
export { outputError, writeFileAtomic } from "../sinks/write-file-atomic.js";
