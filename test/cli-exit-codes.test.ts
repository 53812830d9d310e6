/**
 * The documented exit-code table (src/cli/errors.ts, docs/validate.md), one test per code,
 * run against the built CLI:
 *   0 clean · 1 findings · 2 bad usage or unreadable input · 3 internal error
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../src/cli/errors.js";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { simulate, writeLogsDir } from "./helpers/logs-fixture.js";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));
  writeLogsDir(path.join(tmp, "logs"), simulate({ seed: 7 }));
  const bad = simulate({ seed: 7 });
  bad.tables.per_iteration[1].scheduling_overhead = -3;
  writeLogsDir(path.join(tmp, "bad"), bad);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("exit codes", () => {
  test("0: validate finds nothing", async () => {
    const r = await runCli(["validate", "logs"], { cwd: tmp });
    expect(r.exitCode).toBe(EXIT.ok);
    expectGolden("test/golden/validate-exit-0-clean.md", r);
  });

  test("1: validate has findings", async () => {
    const r = await runCli(["validate", "bad"], { cwd: tmp });
    expect(r.exitCode).toBe(EXIT.findings);
    expectGolden("test/golden/validate-exit-1-findings.md", r);
  });

  test("1 only for errors: warnings alone exit 0, and 1 under --strict", async () => {
    writeFileSync(path.join(tmp, "t.jsonl"), readFileSync(path.join(ROOT, "test/data/convert/unknown-types.jsonl")));
    const r = await runCli(["validate", "t.jsonl"], { cwd: tmp });
    expect(r.stdout).toContain("RAW_UNKNOWN_TYPE");
    expect(r.exitCode).toBe(EXIT.ok);
    expect((await runCli(["validate", "--strict", "t.jsonl"], { cwd: tmp })).exitCode).toBe(EXIT.findings);
  });

  test("2: bad usage (unknown format)", async () => {
    const r = await runCli(["validate", "logs", "--format", "xml"], { cwd: tmp });
    expect(r.exitCode).toBe(EXIT.input);
    expectGolden("test/golden/validate-exit-2-usage.md", r);
  });

  test("2: unreadable input (no such path)", async () => {
    const r = await runCli(["validate", "no-such-dir"], { cwd: tmp });
    expect(r.exitCode).toBe(EXIT.input);
    expectGolden("test/golden/validate-exit-2-unreadable.md", r);
  });

  test("3: internal error (simulated with VSCHED_TEST_INTERNAL_ERROR=1)", async () => {
    const r = await runCli(["validate", "logs"], { cwd: tmp, env: { VSCHED_TEST_INTERNAL_ERROR: "1" }, replace: [[process.version, "<NODE>"], [/vsched \d+\.\d+\.\d+\S*/g, "vsched <VERSION>"]] });
    expect(r.exitCode).toBe(EXIT.internal);
    expect(r.stderr).toContain("This is a bug in vsched");
    expectGolden("test/golden/validate-exit-3-internal.md", r);
  });
});
