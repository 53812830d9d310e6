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

/**
 * Every single-file output (an HTML page, a model, statistics.csv) is written beside its
 * target and renamed over it: the file appears whole or not at all, and a failed write
 * leaves no temporary file behind.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, code?: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.vsched-tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw outputError(e, file, code);
  }
}
