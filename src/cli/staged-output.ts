import { lstat, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
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

/** An error of the file system while writing output, as the one-line OUT_UNWRITABLE error. */
export function outputError(e: unknown, display: string): unknown {
  if (e instanceof InputError || e instanceof UsageError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return e;
  return new InputError(`cannot write the output: ${FS_WORDS[code] ?? code} (${code}); nothing was changed there`, "OUT_UNWRITABLE", display);
}

/**
 * mkdir -p without Node's recursive mkdir, which loops forever under /proc: find the
 * deepest ancestor that exists, require a directory there, create the rest one by one.
 */
async function ensureDir(dir: string): Promise<void> {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    const st = await lstat(p).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)));
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${p} is not a directory`), { code: p === dir ? "EEXIST" : "ENOTDIR" });
      break;
    }
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing) await mkdir(m);
}

/**
 * An output directory whose files appear only when the command succeeds, all together:
 * files are written into a hidden staging directory inside it; commit() first checks
 * every destination, moves the old files aside, renames the new ones into place and
 * restores the old ones if any rename fails. A failed run never leaves half a set of
 * tables, staging debris, or a changed previous output.
 */
export class StagedOutputDir {
  private constructor(
    readonly dir: string,
    readonly staging: string,
    readonly display: string,
  ) {}

  static async create(dir: string, display = dir): Promise<StagedOutputDir> {
    if (display.trim() === "") throw new UsageError("-o/--out: the output directory must not be empty");
    try {
      await ensureDir(dir);
      return new StagedOutputDir(dir, await mkdtemp(path.join(dir, ".vsched-tmp-")), display);
    } catch (e) {
      throw outputError(e, display);
    }
  }

  /** path of `name` in the staging directory */
  file(name: string): string {
    return path.join(this.staging, name);
  }

  async writeFile(name: string, data: string): Promise<void> {
    await writeFile(this.file(name), data).catch((e) => Promise.reject(outputError(e, this.display)));
  }

  async commit(names: readonly string[]): Promise<void> {
    try {
      for (const n of names) {
        const st = await lstat(path.join(this.dir, n)).catch(() => null);
        if (st?.isDirectory()) throw new InputError(`cannot write the output: ${n} there is a directory; nothing was changed`, "OUT_UNWRITABLE", this.display);
      }
      const old = path.join(this.staging, ".old");
      await mkdir(old);
      const moved: string[] = [];
      const placed: string[] = [];
      try {
        for (const n of names) {
          if (await lstat(path.join(this.dir, n)).catch(() => null)) {
            await rename(path.join(this.dir, n), path.join(old, n));
            moved.push(n);
          }
        }
        for (const n of names) {
          await rename(this.file(n), path.join(this.dir, n));
          placed.push(n);
        }
      } catch (e) {
        for (const n of placed) await rm(path.join(this.dir, n), { force: true }).catch(() => {});
        for (const n of moved) await rename(path.join(old, n), path.join(this.dir, n)).catch(() => {});
        throw e;
      }
    } catch (e) {
      await this.abort();
      throw outputError(e, this.display);
    }
    await this.abort();
  }

  async abort(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true }).catch(() => {});
  }
}
