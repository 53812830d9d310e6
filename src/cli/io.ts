import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { Chalk, type ChalkInstance } from "chalk";
import { InputError } from "./errors.js";

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

/**
 * An output directory whose files appear only when the command succeeds: files are
 * written into a hidden temporary directory inside it and renamed into place by
 * commit(); abort() removes them. A failed run never leaves half a set of CSVs,
 * nor overwrites a previous good set.
 */
export class StagedOutputDir {
  private constructor(
    readonly dir: string,
    readonly staging: string,
  ) {}

  static async create(dir: string, display = dir): Promise<StagedOutputDir> {
    try {
      await mkdir(dir, { recursive: true });
      const staging = await mkdtemp(path.join(dir, ".vsched-tmp-"));
      return new StagedOutputDir(dir, staging);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new InputError(`cannot create the output directory: ${err.message.replace(/^[A-Z]+: /, "")}`, "OUT_UNWRITABLE", display);
    }
  }

  /** path of `name` in the staging directory */
  file(name: string): string {
    return path.join(this.staging, name);
  }

  async writeFile(name: string, data: string): Promise<void> {
    await writeFile(this.file(name), data);
  }

  /**
   * Moves the staged files into the output directory (each rename is atomic). A staged
   * directory (Parquet partitions) replaces an existing one: the old one is first moved
   * into the staging directory, which is then removed.
   */
  async commit(names: readonly string[]): Promise<void> {
    for (const n of names) {
      const target = path.join(this.dir, n);
      try {
        await rename(this.file(n), target);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "EISDIR" && code !== "ENOTDIR") throw e;
        await rename(target, this.file(`.replaced-${n}`));
        await rename(this.file(n), target);
      }
    }
    await rm(this.staging, { recursive: true, force: true });
  }

  async abort(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
