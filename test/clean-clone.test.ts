import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/golden.js";

/**
 * A user's clone has no ../shared: what CI runs reads only the repository (fixtures/data
 * holds the slices of the public traces). `.ci/run` proves it by running the suite from a
 * fresh clone in a temporary directory; this catches a new reference before that run does.
 */
const OUTSIDE = [/\.\.\/shared\b/, /\/work\/shared\b/, /["']shared["']\s*[/,]\s*["']data["']/, /\.parent\s*\/\s*["']shared["']/];
const CI_RUN = ["test", "emitter/tests", "emitter/e2e", "emitter/vllm_suite", "emitter/scripts", "scripts", ".ci", "vitest.config.ts", "package.json"];

describe("tests and CI scripts read only the repository", () => {
  it("no file CI runs names a path outside the checkout (../shared)", () => {
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "--", ...CI_RUN], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => /\.(ts|mjs|js|py|sh|json|toml)$/.test(f) || f === ".ci/run")
      .filter((f) => f !== "test/clean-clone.test.ts" && f !== ".ci/run"); // these two name it to check it
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(path.join(ROOT, f), "utf8");
      } catch {
        continue; // listed but deleted in the working tree
      }
      text.split("\n").forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
