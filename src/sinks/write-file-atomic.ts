import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InputError, UsageError } from "../core/errors.js";

/** errno codes of a failed write, in words a user can act on */
const FS_WORDS: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EISDIR: "a directory stands where a file belongs",
  ENOTDIR: "a file stands where a directory belongs",
  EEXIST: "a file stands where the output directory belongs",
  ENOENT: "the path cannot be created there",
  EIO: "I/O error",
  EMFILE: "too many open files",
  ENAMETOOLONG: "name too long",
};

/** An error of the file system while writing output, as one line with a finding code (OUT_UNWRITABLE unless the command has its own). */
export function outputError(e: unknown, display: string, code = "OUT_UNWRITABLE"): unknown {
  if (e instanceof InputError || e instanceof UsageError) return e;
  const errno = (e as NodeJS.ErrnoException)?.code;
  if (typeof errno !== "string" || !/^E[A-Z]+$/.test(errno)) return e;
  return new InputError(`cannot write the output: ${FS_WORDS[errno] ?? errno} (${errno}); nothing was changed there`, code, display);
}

/** the hidden file beside a target that an atomic write fills before renaming it over the target */
const tmpPathFor = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.vsched-tmp`);

/**
 * Every single-file output (an HTML page, a model, statistics.csv) is written beside its
 * target and renamed over it: the file appears whole or not at all, and a failed write
 * leaves no temporary file behind.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, code?: string): Promise<void> {
  const tmp = tmpPathFor(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw outputError(e, file, code);
  }
}

/**
 * One output file written whole or not at all: `fill` writes into a hidden file beside the
 * target, which is renamed into place only when it returns; on an error or Ctrl-C the
 * partial file is removed and the target is left as it was.
 */
export async function writeFileAtomicStreamed<T>(target: string, display: string, fill: (write: (text: string | Buffer) => void) => Promise<T>): Promise<T> {
  const abs = path.resolve(target);
  const tmp = tmpPathFor(abs);
  let fd: number;
  try {
    fd = openSync(tmp, "w");
  } catch (e) {
    throw outputError(e, display);
  }
  const onSignal = () => {
    rmSync(tmp, { force: true });
    process.stderr.write(`vsched: interrupted; ${display} not written\n`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  try {
    const result = await fill((text) => {
      const b = typeof text === "string" ? Buffer.from(text, "utf8") : text;
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
    });
    closeSync(fd);
    renameSync(tmp, abs);
    return result;
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw outputError(e, display);
  } finally {
    process.off("SIGINT", onSignal);
  }
}
