import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/golden.js";

/**
 * A user's clone has no shared data folder beside it: what CI runs reads only the repository
 * (fixtures/data holds the slices of the public traces). `.ci/run` proves it by running the suite from a
 * fresh clone in a temporary directory; this catches a new reference before that run does.
 */
const OUTSIDE = [/\.\.\/shared\b/, /\/work\/shared\b/, /["']shared["']\s*[/,]\s*["']data["']/, /\.parent\s*\/\s*["']shared["']/];
const CI_RUN = ["test", "emitter/tests", "emitter/e2e", "emitter/vllm_suite", "emitter/scripts", "scripts", ".ci", "vitest.config.ts", "package.json"];

/** files under a repo-relative path (no git needed: .ci/run may test an exported tree) */
function walk(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).filter((n) => !["node_modules", "dist", ".git", "__pycache__", ".pytest_cache"].includes(n)).flatMap((n) => walk(path.join(rel, n)));
}

describe("tests and CI scripts read only the repository", () => {
  it("no file CI runs names a path outside the checkout (the shared folder beside it)", () => {
    const files = CI_RUN.flatMap((p) => walk(p))
      .filter((f) => /\.(ts|mjs|js|py|sh|json|toml)$/.test(f) || f === ".ci/run"); // this file and .ci/run included: they check without naming it
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const f of files) {
      const text = readFileSync(path.join(ROOT, f), "utf8");
      text.split("\n").forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
