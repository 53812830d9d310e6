import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CODES, isCode } from "../src/core/codes.js";
import { validateDocWithCodes } from "../src/render/codes-doc.js";
import { hasWording } from "../src/render/findings-text.js";

const ROOT = path.join(import.meta.dirname, "..");
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
const SOURCES = files(path.join(ROOT, "src")).filter((f) => !f.endsWith(path.join("core", "codes.ts")));

/** Upper-case identifiers that are not codes: environment variables, constants, Parquet's type and encoding names, vLLM's journey event names (OTLP input). */
const NOT_CODES = /^(NO_COLOR|FIRST_TOKEN|VSCHED_[A-Z0-9_]+|MAX_[A-Z_]+|[A-Z]+_(SCHEMA_)?VERSION|BYTE_ARRAY|DELTA_BINARY_PACKED|RLE_DICTIONARY|(DATA|DICTIONARY)_PAGE(_V2)?)$/;

/** Every "CODE_LIKE" string literal in src/ with the file it stands in. */
function raisedCodes(): Map<string, string> {
  const found = new Map<string, string>();
  for (const f of SOURCES) {
    for (const m of readFileSync(f, "utf8").matchAll(/["'`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["'`]/g)) {
      if (!NOT_CODES.test(m[1])) found.set(m[1], path.relative(ROOT, f));
    }
  }
  return found;
}

describe("one registry of codes (src/core/codes.ts)", () => {
  it("holds every code raised anywhere in src/, the thrown input errors included", () => {
    const raised = raisedCodes();
    expect(raised.size).toBeGreaterThan(40);
    for (const [code, file] of raised) expect(isCode(code), `${code} (in ${file}) is not in src/core/codes.ts`).toBe(true);
  });

  it("raises each code with its registered severity", () => {
    // report("CODE", "severity" …), add("CODE", "severity" …), { code: "CODE", severity: "…" }
    const pair = /["']([A-Z][A-Z0-9_]+)["'],\s*(?:severity:\s*)?["'](error|warning|info)["']/g;
    let n = 0;
    for (const f of SOURCES) {
      for (const m of readFileSync(f, "utf8").matchAll(pair)) {
        n++;
        expect(CODES[m[1] as keyof typeof CODES]?.severity, `${m[1]} in ${path.relative(ROOT, f)}`).toBe(m[2]);
      }
    }
    expect(n).toBeGreaterThan(20);
  });

  it("gives every finding code its wording, and docs/validate.md is generated from the registry", () => {
    for (const [code, e] of Object.entries(CODES)) if (e.severity !== "input") expect(hasWording(code), code).toBe(true);
    const doc = readFileSync(path.join(ROOT, "docs", "validate.md"), "utf8");
    expect(doc, "npm run docs:tables regenerates it").toBe(validateDocWithCodes(doc));
    for (const code of Object.keys(CODES)) expect(doc).toContain(`\`${code}\``);
  });
});
