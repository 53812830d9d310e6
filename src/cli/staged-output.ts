import { lstat, mkdir, mkdtemp, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { InputError, UsageError } from "../core/errors.js";
import { outputError } from "../sinks/write-file-atomic.js";

/**
 * mkdir -p without Node's recursive mkdir, which loops forever under /proc: find the
 * deepest ancestor that exists, require a directory there (a symlink to one is followed:
 * clusters put output on linked storage), create the rest one by one. Returns the
 * directories it created, outermost first, so a failed run can take them away again.
 */
async function ensureDir(dir: string): Promise<string[]> {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)));
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${p} is not a directory`), { code: p === dir ? "EEXIST" : "ENOTDIR" });
      break;
    }
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  const created: string[] = [];
  for (const m of missing) {
    // another process may create the same parent at the same moment: a directory there is fine
    const made = await mkdir(m).then(
      () => true,
      async (e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST" || !(await stat(m)).isDirectory()) throw e;
        return false;
      },
    );
    if (made) created.push(m);
  }
  return created;
}

/**
 * An output directory whose files appear only when the command succeeds, all together:
 * files are written into a hidden staging directory inside it; commit() first checks
 * every destination, moves the old files aside, renames the new ones into place and
 * restores the old ones if any rename fails. A failed run never leaves half a set of
 * tables, staging debris, a changed previous output, or a directory it created.
 */
export class StagedOutputDir {
  private constructor(
    readonly dir: string,
    readonly staging: string,
    readonly display: string,
    /** directories create() made (outermost first): abort() removes them again while empty */
    private readonly created: string[],
  ) {}

  static async create(dir: string, display = dir): Promise<StagedOutputDir> {
    if (display.trim() === "") throw new UsageError("-o/--out: the output directory must not be empty");
    let created: string[] = [];
    try {
      created = await ensureDir(dir);
      return new StagedOutputDir(dir, await mkdtemp(path.join(dir, ".vsched-tmp-")), display, created);
    } catch (e) {
      for (const d of created.reverse()) await rmdir(d).catch(() => {});
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
    await this.removeStaging();
    this.created.length = 0; // committed: they hold the output now
  }

  /** A failed or interrupted run: the staging directory goes, and so do the directories create() made (rmdir: only while empty). */
  async abort(): Promise<void> {
    await this.removeStaging();
    for (const d of [...this.created].reverse()) await rmdir(d).catch(() => {});
  }

  private async removeStaging(): Promise<void> {
    // A sink's write stream that was still opening when the run failed can create its file
    // while rm walks the folder (ENOTEMPTY on the last rmdir): rm's retries walk it again.
    await rm(this.staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 }).catch(() => {});
  }
}
