import { spawnSync } from "node:child_process";
import { mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Every `$ vsched …` example that a command's --help shows is run, as shown, from a
 * directory where `fixtures/` is the repository's. Commands run in the order `vsched
 * --help` lists them, so `logs/` written by convert's example exists for the rest.
 */
const ROOT = path.join(import.meta.dirname, "..");
const CLI = path.join(ROOT, "bin", "vsched.js");
const run = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });

const commands = run(["--help"])
  .stdout.split("\n")
  .map((l) => /^\s{2}([a-z][a-z-]*)\b/.exec(l)?.[1])
  .filter((c): c is string => !!c && c !== "help");

// each command's --help is read once (a CLI start each): the three tests below all read them
const helpExamples = new Map<string, string[]>();
const examplesOf = (cmd: string): string[] => {
  if (!helpExamples.has(cmd)) {
    const lines = run([cmd, "--help"]).stdout.split("\n");
    helpExamples.set(cmd, lines.filter((l) => l.startsWith("  $ vsched ")).map((l) => l.slice("  $ vsched ".length)));
  }
  return helpExamples.get(cmd)!;
};

/** shell-like split: the examples quote nothing, so whitespace is enough */
const argv = (line: string) => line.split(/\s+/).filter(Boolean);

describe("the examples in --help run as shown", () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), "vsched-examples-"));
  symlinkSync(path.join(ROOT, "fixtures"), path.join(cwd, "fixtures"));

  it("every command has two or three examples", () => {
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const c of commands) expect(examplesOf(c).length, c).toBeGreaterThanOrEqual(2);
  });

  it("each runs and exits 0", { timeout: 600_000 }, () => {
    for (const c of commands) {
      for (const ex of examplesOf(c)) {
        const r = run(argv(ex), cwd);
        expect(r.status, `vsched ${ex}\n${r.stderr}`).toBe(0);
      }
    }
  });

  it("the README's commands are among them", () => {
    const all = commands.flatMap(examplesOf);
    for (const c of ["convert fixtures/e2e-vllm-cpu/trace -o logs/", "summary logs/", "validate logs/"]) expect(all).toContain(c);
  });
});
