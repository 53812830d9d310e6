import { describe, expect, it } from "vitest";
import { compileChecker, compileValid } from "../src/schema/fast-check.js";
import { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { readTrace, traceFiles } from "./helpers/fixtures.js";
import { rng } from "./helpers/rng.js";


const ODD_VALUES: unknown[] = ["5", "abc", "1e18", 1.5, -1, 2 ** 60, NaN, {}, [], [1, 2], null, true, "", "x".repeat(1_048_577), 0, 7, "cmpl-1", "00123"];

/** Every path to a leaf or container of a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = prefix.length ? [prefix] : [];
  if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function mutate(rec: unknown, path: (string | number)[], value: unknown | undefined): unknown {
  const copy = structuredClone(rec) as Record<string | number, unknown>;
  let o = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

describe("fast-check accepts exactly what the zod declaration accepts", () => {
  const check = compileChecker(RawRecord);
  // the generated test alone (compileChecker asks the closures only when it says no)
  const valid = compileValid(RawRecord);
  const records = ["kv-pressure-preempt", "priority-policy", "lora-slots", "aborts", "e2e-vllm-cpu"].flatMap((f) => traceFiles(f).flatMap(readTrace));

  it("on every record of five real traces (all valid)", () => {
    expect(records.length).toBeGreaterThan(3000);
    for (const r of records) expect(check(r), JSON.stringify(r).slice(0, 200)).toBeNull();
    for (const r of records) expect(valid(r), JSON.stringify(r).slice(0, 200)).toBe(true);
  });

  it("on 20,000 seeded mutations of real records, with the issue at a path zod also rejects", () => {
    const rand = rng(20261202);
    const byType = new Map<string, unknown[]>();
    for (const r of records) byType.set(r.type, [...(byType.get(r.type) ?? []).slice(0, 40), r]);
    const pool = [...byType.values()].flat();
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const rec = pool[Math.floor(rand() * pool.length)];
      const ps = paths(rec).filter((p) => p[0] !== "type");
      const p = ps[Math.floor(rand() * ps.length)];
      const value = rand() < 0.15 ? undefined : ODD_VALUES[Math.floor(rand() * ODD_VALUES.length)];
      const m = mutate(rec, p, value);
      const mine = check(m);
      const zod = RawRecord.safeParse(m);
      expect(valid(m), `case ${i} (generated test): ${JSON.stringify(p)} := ${String(value).slice(0, 20)}`).toBe(zod.success);
      expect(mine === null, `case ${i}: ${JSON.stringify(p)} := ${String(value).slice(0, 20)} (zod: ${zod.success ? "ok" : zod.error.issues[0].message})`).toBe(zod.success);
      if (mine) {
        rejected++;
        // the reported path is itself invalid: zod rejects the record at or below it
        expect(zod.success).toBe(false);
        expect(p.join(".").startsWith(mine.path.join(".")) || mine.path.join(".").startsWith(p.slice(0, mine.path.length).join(".")), `case ${i}`).toBe(true);
      }
    }
    expect(rejected).toBeGreaterThan(10_000);
  });

  it("the header declaration too", () => {
    const h = records.find((r) => r.type === "header")!;
    const checkHeader = compileChecker(HeaderRecord);
    const validHeader = compileValid(HeaderRecord);
    expect(validHeader(h)).toBe(true);
    expect(checkHeader(h)).toBeNull();
    for (const p of paths(h).filter((q) => q[0] !== "type" && q[0] !== "capabilities")) {
      for (const value of [undefined, "abc", -3, 1.25, null]) {
        const m = mutate(h, p, value);
        expect(checkHeader(m) === null, `${p.join(".")} := ${String(value)}`).toBe(HeaderRecord.safeParse(m).success);
        expect(validHeader(m), `${p.join(".")} := ${String(value)} (generated test)`).toBe(HeaderRecord.safeParse(m).success);
      }
    }
  });
});
