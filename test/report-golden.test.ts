import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

// Transcripts of `vsched report`'s messages and errors (the page itself is tested in a
// browser: test/browser). After an intended change: UPDATE_GOLDEN=1 npx vitest run test/report-golden.test.ts
const KV = "fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl";
// the size changes with every page-script edit; the transcript is about the message
const SIZE: [RegExp, string][] = [[/\(\d+\.\d MB\)/, "(<SIZE> MB)"]];

describe("vsched report (golden transcripts)", { timeout: 120_000 }, () => {
  it("writes one HTML file from a raw trace and says where", async () => {
    const out = path.join(tmpDir(), "report.html");
    const r = await runCli(["report", KV, "-o", out], { cwd: ROOT, replace: SIZE });
    expectGolden("test/golden/report-ok.md", r);
    expect(existsSync(out)).toBe(true);
  });

  it("reads a logs directory too, with a title and SLOs", async () => {
    const dir = tmpDir();
    const logs = path.join(dir, "logs");
    await runCli(["convert", KV, "-o", logs, "--quiet"], { cwd: ROOT });
    const r = await runCli(["report", logs, "-o", path.join(dir, "r.html"), "--title", "kv pressure", "--slo", "ttft=500ms,tpot=50ms"], { cwd: ROOT, replace: SIZE });
    expectGolden("test/golden/report-logs-dir.md", r);
  });

  it("prints the reader's warnings as convert does, then writes the page", async () => {
    const out = path.join(tmpDir(), "r.html");
    const r = await runCli(["report", "truncated.jsonl", "-o", out], { cwd: path.join(ROOT, "test", "data", "convert"), replace: SIZE });
    expectGolden("test/golden/report-truncated-tail.md", r);
  });

  it("names a missing input", async () => {
    const dir = tmpDir();
    const r = await runCli(["report", "no-such-trace.jsonl", "-o", path.join(dir, "r.html")], { cwd: dir });
    expectGolden("test/golden/report-missing-input.md", r);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("wants an .html output", async () => {
    const r = await runCli(["report", KV, "-o", "report.txt"], { cwd: ROOT });
    expectGolden("test/golden/report-bad-output.md", r);
  });

  it("rejects a bad --slo before reading anything", async () => {
    const r = await runCli(["report", KV, "-o", "r.html", "--slo", "ttft=fast"], { cwd: ROOT });
    expectGolden("test/golden/report-bad-slo.md", r);
  });

  it("--png without Chromium: one line saying how to install it, exit 2, nothing written", async () => {
    const dir = tmpDir();
    const r = await runCli(["report", KV, "-o", path.join(dir, "r.html"), "--png", path.join(dir, "png")], { cwd: ROOT, env: { VSCHED_CHROMIUM: "/nonexistent/chromium" } });
    expectGolden("test/golden/report-png-no-chromium.md", r);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("--help ends with examples", async () => {
    const r = await runCli(["report", "--help"], { cwd: ROOT });
    expectGolden("test/golden/report-help.md", r);
  });
});
