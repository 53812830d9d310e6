import { spawnSync } from "node:child_process";
import path from "node:path";

/** Build the CLI bundle once per run, before any test file spawns it (goldens run the built CLI). */
export default function setup(): void {
  const root = path.join(import.meta.dirname, "..");
  const r = spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}
