import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "./helpers/golden.js";
import { NAMED_CASES } from "./malformed/named.js";

/**
 * The named malformed inputs (test/malformed/named.ts) through the built CLI: each is refused
 * with its code (one stderr line, exit 2, no output written), or converts to tables that
 * `validate` accepts (exit 0, or 1 when the trace contradicted itself, with the finding).
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-named-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function oneLineError(r: CliResult, code: string) {
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

async function validateClean(dir: string) {
  const v = await runCli(["validate", dir]);
  expect(v.stdout.split("\n").filter((l) => /: error: /.test(l)), `validate ${dir}`).toEqual([]);
  expect(v.exitCode, v.stdout).toBe(0);
}

describe("named malformed inputs (issue 19)", () => {
  for (const c of NAMED_CASES) {
    it(c.name, { timeout: 60_000 }, async () => {
      const dir = mkdtempSync(path.join(tmp, "case-"));
      const input = path.join(dir, "in");
      mkdirSync(input);
      for (const [name, body] of Object.entries(c.files)) writeFileSync(path.join(input, name), body);
      const out = path.join(dir, "out", "logs");
      const r = await runCli(["convert", input, "-o", out, ...(c.args ?? [])]);
      expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      if ("refuse" in c.expect) {
        oneLineError(r, c.expect.refuse);
        expect(existsSync(path.join(dir, "out")), "a refused convert leaves no directory it created").toBe(false);
        const v = await runCli(["validate", input]);
        expect([0, 1, 2], "validate judges each trace on its own").toContain(v.exitCode);
        return;
      }
      expect(r.exitCode, r.stderr).toBe(c.expect.convert);
      if (c.expect.stderr) expect(r.stderr).toMatch(c.expect.stderr);
      const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")) as { findings?: unknown };
      for (const code of c.expect.codes ?? []) expect(JSON.stringify(manifest), code).toContain(`"${code}"`);
      await validateClean(out);
    });
  }
});

describe("bad logs directories and output paths (issue 19)", () => {
  const base = path.join(tmp, "base");
  const convertBase = async () => {
    if (!existsSync(base)) expect((await runCli(["convert", "fixtures/no-chunk-long-prompt/vsched-1-dp0.jsonl", "-o", base, "-q"])).exitCode).toBe(0);
    const dir = mkdtempSync(path.join(tmp, "logs-"));
    for (const f of readdirSync(base)) writeFileSync(path.join(dir, f), readFileSync(path.join(base, f)));
    return dir;
  };

  it("validate flags 0x10 in an integer column (Number() would take it as 16)", async () => {
    const dir = await convertBase();
    const f = path.join(dir, "per_request.csv");
    const [head, first, ...rest] = readFileSync(f, "utf8").split("\n");
    const col = head.split(",").indexOf("input_tokens");
    const cells = first.split(",");
    cells[col] = "0x10";
    writeFileSync(f, [head, cells.join(","), ...rest].join("\n"));
    const v = await runCli(["validate", dir]);
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toMatch(/per_request\.csv:2: error: input_tokens = "0x10".*\[CSV_ROW_INVALID\]/);
  });

  it("validate flags a stop cause naming a request that never arrived, in the raw trace", async () => {
    const c = NAMED_CASES.find((x) => x.name.startsWith("a stop cause"))!;
    const f = path.join(tmp, "stop-unknown.jsonl");
    writeFileSync(f, c.files["t.jsonl"]);
    const v = await runCli(["validate", f]);
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toMatch(/refers to request nobody-arrived, which never arrived \[ENGINE_UNKNOWN_REQUEST\]/);
  });

  it("a manifest with a byte-order mark is read; a broken one is one line", async () => {
    const dir = await convertBase();
    const m = path.join(dir, "manifest.json");
    writeFileSync(m, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(m)]));
    await validateClean(dir);
    expect((await runCli(["summary", dir])).exitCode).toBe(0);
    writeFileSync(m, "\ufeff{\n  broken");
    oneLineError(await runCli(["summary", dir]), "MANIFEST_INVALID");
    const v = await runCli(["validate", dir]);
    expect(v.stdout.split("\n").filter((l) => l.includes("MANIFEST_INVALID"))).toHaveLength(1);
  });

  it("a failed convert leaves no directory it created (nor its parents), and an existing one as it was", async () => {
    const bad = path.join(tmp, "mid-broken.jsonl");
    const src = readFileSync("fixtures/no-chunk-long-prompt/vsched-1-dp0.jsonl", "utf8").split("\n");
    writeFileSync(bad, [...src.slice(0, 50), "{broken"].join("\n") + "\n");
    const parent = path.join(tmp, "fresh");
    oneLineError(await runCli(["convert", bad, "-o", path.join(parent, "a", "b")]), "RAW_MALFORMED_LINE");
    expect(existsSync(parent)).toBe(false);
    const keep = mkdtempSync(path.join(tmp, "keep-"));
    oneLineError(await runCli(["convert", bad, "-o", keep]), "RAW_MALFORMED_LINE");
    expect(readdirSync(keep)).toEqual([]);
  });

  it("-o a symlink to a directory is followed (linked storage on clusters)", async () => {
    const target = mkdtempSync(path.join(tmp, "target-"));
    const link = path.join(tmp, "link");
    symlinkSync(target, link);
    const r = await runCli(["convert", "fixtures/no-chunk-long-prompt/vsched-1-dp0.jsonl", "-o", link, "-q"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(target)).toContain("per_request.csv");
    await validateClean(link);
  });
});
