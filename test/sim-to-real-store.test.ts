import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./helpers/golden.js";

/**
 * The sim-to-real figures of docs/fit.md rerun from a clean clone only if every run their cases
 * name is in the repository: an earlier session's figures were made on runs kept outside it
 * and could not be rerun once its machine was gone. Each case file's runs must exist here
 * (paths relative to the case file, as bench/sim-to-real.mjs reads them) and validate.
 */
// every case file bench/sim-to-real.mjs is documented with (bench/README.md), found by name
const CASE_FILES = readdirSync(path.join(ROOT, "bench")).filter((f) => /^sim-to-real-h[12]00.*\.json$/.test(f)).map((f) => path.join("bench", f));
interface Case { name: string; train?: string[]; test: string; repeat_of?: string }

const runsOf = (file: string) => {
  const cases = JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as Case[];
  const dir = path.dirname(path.join(ROOT, file));
  return [...new Set(cases.flatMap((c) => [...(c.train ?? []), c.test, ...(c.repeat_of ? [c.repeat_of] : [])]))].map((r) => path.resolve(dir, r));
};

describe("the runs behind the sim-to-real figures are in the repository", () => {
  const runs = [...new Set(CASE_FILES.flatMap(runsOf))];

  it("names runs inside the checkout, each with a raw trace", () => {
    expect(CASE_FILES.length).toBeGreaterThanOrEqual(4);
    expect(runs.length).toBeGreaterThanOrEqual(40);
    for (const run of runs) {
      expect(path.relative(ROOT, run).startsWith(".."), run).toBe(false);
      expect(existsSync(run) && readdirSync(run).some((f) => /^vsched-.*-dp\d+\.jsonl(\.gz)?$/.test(f)), `${run} holds no trace`).toBe(true);
    }
  });

  it.each(runs.map((r) => [path.relative(ROOT, r), r]))("%s validates with no findings", async (_name, run) => {
    const r = await runCli(["validate", run]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/has no findings/);
  }, 60_000);
});
