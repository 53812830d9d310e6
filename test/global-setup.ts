import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Build the CLI bundle once per run, before any test file spawns it (goldens run the built CLI).
 * Every temporary folder of the run goes under one root that is removed at the end: the tests
 * and the CLIs and Python they spawn take os.tmpdir() from TMPDIR, and one run used to leave
 * ~2 GB behind (convert-threads alone 1.3 GB), which filled a shared machine's disk.
 */
export default function setup(): () => void {
  const root = path.join(import.meta.dirname, "..");
  const r = spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-vitest-"));
  process.env.TMPDIR = tmp;
  return () => {
    if (!process.env.VSCHED_KEEP_TEST_TMP) rmSync(tmp, { recursive: true, force: true });
  };
}
