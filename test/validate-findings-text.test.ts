/**
 * src/report/findings-text.ts words every finding code in the project; codes are
 * collected from the source so a new code without wording fails here.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { PARSE_CODES } from "../src/parse/messages.js";
import { formatFinding, formatFindingLine, hasWording } from "../src/render/findings-text.js";
import { ROOT } from "./helpers/golden.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** codes passed to a findings API: report("X", …), add("X", …), emit("X", …), code: "X" */
function codesInSource(): Set<string> {
  const out = new Set<string>();
  const re = /(?:\breport|\badd|\bemit|\bfinding)\(\s*"([A-Z][A-Z0-9_]+)"|\bcode: "([A-Z][A-Z0-9_]+)"/g;
  for (const f of sources(path.join(ROOT, "src"))) {
    for (const m of readFileSync(f, "utf8").matchAll(re)) out.add(m[1] ?? m[2]);
  }
  return out;
}

describe("finding wording", () => {
  test("every finding code in src/ has a sentence", () => {
    const codes = codesInSource();
    expect(codes.size).toBeGreaterThan(30);
    const reader = [PARSE_CODES.truncatedTail, PARSE_CODES.unknownType, PARSE_CODES.skippedLines];
    const missing = [...codes, ...reader].filter((c) => !hasWording(c));
    expect(missing).toEqual([]);
  });

  test("sentences use the facts", () => {
    expect(formatFinding({ code: "CSV_COLUMN_MISSING", args: { column: "ttft", position: 10 } })).toBe("column ttft (position 10) is missing");
    expect(formatFinding({ code: "ENGINE_UNFINISHED_REQUESTS", args: { count: 1 } })).toBe("1 request had not finished when the trace ended (finish_reason unfinished)");
  });

  test("an unknown code falls back to its facts", () => {
    expect(formatFinding({ code: "SOMETHING_NEW", args: { step: 3, request_id: "r1" } })).toBe("something new (step=3, request_id=r1)");
    expect(formatFinding({ code: "BARE", args: {} })).toBe("bare");
  });

  test("one line with location, severity and code", () => {
    expect(formatFindingLine({ code: "CSV_EMPTY", severity: "error", file: "logs/events.csv", line: 1, args: {} })).toBe(
      "logs/events.csv:1: error: file is empty: not even a header row [CSV_EMPTY]",
    );
    expect(formatFindingLine({ code: "RAW_END_MISSING", severity: "warning", args: {} })).toMatch(/^warning: .* \[RAW_END_MISSING\]$/);
  });
});
