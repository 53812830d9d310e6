// What the bench scripts share: the command-line option reader and the generated bench trace.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** `opt("mb", 200)`: the value after `--mb`, or the default. */
export function options(argv = process.argv.slice(2)) {
  return (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? def : argv[i + 1];
  };
}

/** bench/out/trace-<mb>mb.jsonl, made by bench/gen-trace.mjs when missing. */
export function benchTrace(mb, log = (...a) => console.error(...a)) {
  const file = path.join(root, "bench", "out", `trace-${mb}mb.jsonl`);
  if (!existsSync(file)) {
    log(`generating ${file} …`);
    const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), "--mb", String(mb), "--out", file], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (g.status !== 0) throw new Error("gen-trace failed");
    log(g.stdout.trim());
  }
  return file;
}
