import { lstat, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InputError, UsageError } from "../core/errors.js";
import { outputError } from "../sinks/write-file-atomic.js";

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
  for (const m of missing) {
    // another process may create the same parent at the same moment: a directory there is fine
    await mkdir(m).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST" || !(await lstat(m)).isDirectory()) throw e;
    });
  }
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
        // a staged directory (Parquet partitions) may replace a directory; a file may not
        const st = await lstat(path.join(this.dir, n)).catch(() => null);
        const staged = await lstat(this.file(n));
        if (st?.isDirectory() && !staged.isDirectory()) throw new InputError(`cannot write the output: ${n} there is a directory; nothing was changed`, "OUT_UNWRITABLE", this.display);
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
        for (const n of placed) await rm(path.join(this.dir, n), { recursive: true, force: true }).catch(() => {});
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
