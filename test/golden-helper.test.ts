import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { expectGolden, ROOT } from "./helpers/golden.js";
import path from "node:path";

describe("expectGolden", () => {
  it("fails on a missing golden instead of writing it (unless UPDATE_GOLDEN=1)", () => {
    if (process.env.UPDATE_GOLDEN === "1") return; // the update run writes goldens by design
    const file = "test/golden/__no-such-golden__.md";
    const r = { command: "vsched --version", stdout: "x\n", stderr: "", exitCode: 0 };
    expect(() => expectGolden(file, r)).toThrow(/is missing/);
    expect(existsSync(path.join(ROOT, file))).toBe(false);
  });
});
