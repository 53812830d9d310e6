import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path, { join } from "node:path";
import { expect, it } from "vitest";
import type { RawRecord } from "../../src/schema/raw.js";
import { FIXTURES, readTrace, traceFiles } from "./fixtures.js";

/** What a lanes-against-objects replay gives: the object side's rows and the lane batches made. */
export interface BothSides {
  objects: unknown[];
  batches: number;
}

const root = path.resolve(import.meta.dirname, "..", "..");

/** A trace from bench/gen-trace.mjs, written under `tmp` and read back. */
export function generatedTrace(tmp: string, name: string, args: readonly string[]): RawRecord[] {
  const file = path.join(tmp, `${name}.jsonl`);
  const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), ...args, "--out", file], { encoding: "utf8" });
  expect(g.status, g.stderr).toBe(0);
  return readTrace(file);
}

/**
 * The whole-replay cases both lane tests share (call inside a describe): two generated traces,
 * with batches small enough that ids are released and reused across batch ends and with the
 * default, and every recorded fixture.
 */
export function wholeReplayCases<S extends BothSides>(
  tmp: string,
  replayBoth: (records: RawRecord[], laneRows: number, spreadsheetSafe?: boolean) => Promise<S>,
  expectSame: (s: S) => void,
): void {
  for (const [name, args] of [
    ["bench-shape", ["--steps", "60", "--seed", "11"]],
    ["small", ["--steps", "800", "--running", "6", "--waiting", "20", "--seed", "12"]],
  ] as const) {
    it(`generated trace ${name}: every row and byte identical, batches of 7 and the default`, async () => {
      const records = generatedTrace(tmp, name, args);
      const small = await replayBoth(records, 7);
      expect(small.objects.length).toBeGreaterThan(1000);
      expect(small.batches).toBeGreaterThan(100);
      expectSame(small);
      expectSame(await replayBoth(records, 8192, false));
    });
  }

  const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, "recipe.json"))).sort() : [];
  it("covers the recorded fixtures", () => expect(fixtures.length).toBeGreaterThan(10));
  for (const name of fixtures) {
    const files = traceFiles(name).filter((f) => /vsched-[^/]*\.jsonl(\.gz)?$/.test(f));
    if (files.length === 0) continue;
    it(`fixture ${name}: every row and byte identical`, async () => {
      for (const file of files) expectSame(await replayBoth(readTrace(file), 5));
    });
  }
}
