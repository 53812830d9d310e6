import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

// Transcripts of the built CLI on the tiny hand-written traces in test/data/convert/.
// After an intended change: UPDATE_GOLDEN=1 npx vitest run test/convert-golden.test.ts
const DATA = path.join(ROOT, "test", "data", "convert");

/** The files convert left in `dir`, with their line counts: the user's view of a run. */
function listing(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((f) => `${f}: ${readFileSync(path.join(dir, f), "utf8").split("\n").length - 1} lines`)
    .join("\n");
}

describe("vsched convert (golden transcripts)", { timeout: 60_000 }, () => {
  it("converts a small trace", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "small.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-ok.md", r, [{ title: "files written", body: listing(out) }]);
  });

  it("warns about a truncated last line and converts the rest", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "truncated.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-truncated-tail.md", r);
  });

  it("stops at a malformed line, naming file and line", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "malformed.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-malformed-line.md", r, [{ title: "files written", body: existsSync(out) ? listing(out) || "(none)" : "(none: the output directory it created is gone)" }]);
  });

  it("skips and counts a malformed line with --lenient", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "malformed.jsonl", "--lenient", "--quiet", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-lenient.md", r);
  });

  it("refuses a trace of another schema major", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "schema-v2.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-unsupported-schema.md", r);
  });

  it("skips record types from a newer emitter and reports them once", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "unknown-types.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-unknown-types.md", r);
  });

  it("reports a missing input with exit code 2", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "missing.jsonl", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-missing-input.md", r);
  });

  it("writes the version header line on request", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "small.jsonl", "--version-header", "--iteration-requests", "none", "-o", out], { cwd: DATA });
    const firstTwo = (f: string) => readFileSync(path.join(out, f), "utf8").split("\n").slice(0, 2).join("\n");
    expectGolden("test/golden/convert-version-header.md", r, [
      { title: "per_iteration_requests.csv", body: readFileSync(path.join(out, "per_iteration_requests.csv"), "utf8") },
      { title: "state_transitions.csv (first 2 lines)", body: firstTwo("state_transitions.csv") },
    ]);
  });

  it("writes Parquet in hive partitions by dp_rank", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "small.jsonl", "--format", "parquet", "--partition-by", "dp_rank", "-o", out], { cwd: DATA });
    const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
    const files = manifest.tables.map((t: { name: string; rows: number; parquet_files: string[] }) => `${t.name} (${t.rows} rows): ${t.parquet_files.join(", ")}`);
    expectGolden("test/golden/convert-parquet-partitioned.md", r, [
      { title: "files written", body: readdirSync(out).sort().join("\n") },
      { title: "manifest tables", body: files.join("\n") },
    ]);
  });

  it("refuses --partition-by without Parquet output (exit 2)", async () => {
    const out = path.join(tmpDir(), "out");
    const r = await runCli(["convert", "small.jsonl", "--partition-by", "dp_rank", "-o", out], { cwd: DATA });
    expectGolden("test/golden/convert-partition-needs-parquet.md", r);
  });
});
