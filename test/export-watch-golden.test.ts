import path from "node:path";
import { describe, it } from "vitest";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

// Transcripts of the built CLI's export and watch on the small hand-written trace of
// test/data/convert/. After an intended change: UPDATE_GOLDEN=1 npx vitest run test/export-watch-golden.test.ts
const DATA = path.join(ROOT, "test", "data", "convert");

describe("vsched export and watch (golden transcripts)", { timeout: 60_000 }, () => {
  it("export --otlp writes the spans and says how many", async () => {
    const out = path.join(tmpDir(), "run.otlp.json");
    expectGolden("test/golden/export-otlp.md", await runCli(["export", "small.jsonl", "--otlp", out], { cwd: DATA }));
  });

  it("export of a missing input: one line, exit 2", async () => {
    const out = path.join(tmpDir(), "run.otlp.json");
    expectGolden("test/golden/export-missing-input.md", await runCli(["export", "nope.jsonl", "--otlp", out], { cwd: DATA }));
  });

  it("watch on a pipe: one plain line per interval, and --until-end stops at the end record", async () => {
    expectGolden("test/golden/watch-until-end.md", await runCli(["watch", "small.jsonl", "--until-end"], { cwd: DATA }));
  });
});
