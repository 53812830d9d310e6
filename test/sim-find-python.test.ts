import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findPython, nearestVersion } from "../src/sim/harness.js";

/**
 * simulate finds the harness venv itself. A venv that emitter/scripts/vllm_env.sh is still
 * building has bin/python but no vLLM: picking it failed every replay of a bench that ran
 * beside a cold CI set-up ("No module named 'vllm'"). Only venvs with `.ready` count.
 */
function cacheWith(venvs: Record<string, boolean>): string {
  const cache = mkdtempSync(path.join(os.tmpdir(), "vsched-venvs-"));
  for (const [name, ready] of Object.entries(venvs)) {
    mkdirSync(path.join(cache, name, "bin"), { recursive: true });
    writeFileSync(path.join(cache, name, "bin", "python"), "");
    if (ready) writeFileSync(path.join(cache, name, ".ready"), "");
  }
  return cache;
}

describe("simulate's choice of the harness venv", () => {
  it("skips a venv still being built, even when it is the trace's own version", () => {
    const cache = cacheWith({ "venv-vllm-0.34.0-aaaa": false, "venv-vllm-0.33.0-aaaa": true });
    expect(findPython(undefined, "0.34.0", { VSCHED_CACHE: cache })).toBe(path.join(cache, "venv-vllm-0.33.0-aaaa", "bin", "python"));
  });

  it("takes the trace's own version when it is built", () => {
    const cache = cacheWith({ "venv-vllm-0.34.0-aaaa": true, "venv-vllm-0.33.0-aaaa": true });
    expect(findPython(undefined, "0.34.0", { VSCHED_CACHE: cache })).toBe(path.join(cache, "venv-vllm-0.34.0-aaaa", "bin", "python"));
  });

  it("says how to build one when none is finished", () => {
    const cache = cacheWith({ "venv-vllm-0.33.0-aaaa": false });
    expect(() => findPython(undefined, "0.33.0", { VSCHED_CACHE: cache })).toThrow(/vllm_env\.sh/);
  });

  it("otherwise takes the nearest version, the newer on a tie", () => {
    const built = ["venv-vllm-0.11.0-k", "venv-vllm-0.33.0-k", "venv-vllm-0.34.0-k"];
    expect(nearestVersion(built, "0.24.0")).toBe("venv-vllm-0.33.0-k"); // 9 minors from 0.33, 13 from 0.11
    expect(nearestVersion(built, "0.12.1")).toBe("venv-vllm-0.11.0-k");
    expect(nearestVersion(built, "0.35.0")).toBe("venv-vllm-0.34.0-k");
    expect(nearestVersion(["venv-vllm-0.22.0-k", "venv-vllm-0.26.0-k"], "0.24.0")).toBe("venv-vllm-0.26.0-k");
  });
});
