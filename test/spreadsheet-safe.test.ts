import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { runConvert } from "../src/cli/commands/convert.js";
import { openTables, type TableRow } from "../src/tables/index.js";
import { validateInputs } from "../src/validate/index.js";
import { FIXTURES } from "./helpers/fixtures.js";

/** The real offline trace with its request ids replaced by what a hostile client could send. */
const HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@import x", "\tTAB", "'=already quoted", "plain-id"];
function hostileTrace(dir: string): { file: string; ids: string[] } {
  const text = readFileSync(path.join(FIXTURES, "e2e-vllm-cpu", "offline_trace", "vsched-31400-dp0.jsonl"), "utf8");
  const ids = [...new Set(text.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.type === "arrival").map((r) => r.req as string))];
  let out = text;
  ids.forEach((id, i) => (out = out.split(JSON.stringify(id)).join(JSON.stringify(HOSTILE[i % HOSTILE.length] + (i >= HOSTILE.length ? `#${i}` : "")))));
  const file = path.join(dir, "hostile.jsonl");
  writeFileSync(file, out);
  return { file, ids: ids.map((_, i) => HOSTILE[i % HOSTILE.length] + (i >= HOSTILE.length ? `#${i}` : "")) };
}

const capture = () => {
  let text = "";
  return { stream: { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WritableStream, text: () => text };
};
const convert = (inputs: string[], out: string, spreadsheetSafe: boolean, stderr: NodeJS.WritableStream) =>
  runConvert({ inputs, out, lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, spreadsheetSafe, stderr });

async function requestIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  await (await openTables([dir])).scan({ per_request: (r: TableRow<"per_request">) => ids.push(r.request_id) });
  return ids.sort();
}

describe("request ids that a spreadsheet would run", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-ss-"));
  const { file, ids } = hostileTrace(dir);

  it("by default: exact in the CSV, one warning from convert, CSV_FORMULA_CELL warnings from validate", async () => {
    const err = capture();
    expect(await convert([file], path.join(dir, "exact"), false, err.stream)).toBe(0);
    expect(err.text()).toMatch(/\[OUT_FORMULA_CELLS\]\n$/);
    const csv = Papa.parse<Record<string, string>>(readFileSync(path.join(dir, "exact", "per_request.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
    expect(csv.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    const v = await validateInputs([path.join(dir, "exact")]);
    expect(v.counts.error).toBe(0);
    expect(v.findings.some((f) => f.code === "CSV_FORMULA_CELL" && f.args.column === "request_id")).toBe(true);
  });

  it("with --spreadsheet-safe: no text cell starts a formula, vsched reads the exact ids back, validate is clean", async () => {
    const err = capture();
    expect(await convert([file], path.join(dir, "safe"), true, err.stream)).toBe(0);
    expect(err.text()).toBe("");
    for (const t of ["per_request", "per_iteration_requests", "events", "state_transitions", "per_iteration"]) {
      const rows = Papa.parse<string[]>(readFileSync(path.join(dir, "safe", `${t}.csv`), "utf8"), { skipEmptyLines: true }).data.slice(1);
      for (const row of rows) for (const cell of row) expect(/^[=+\-@\t\r]/.test(cell) && !/^-?\d/.test(cell), `${t}: ${cell}`).toBe(false);
    }
    expect(readFileSync(path.join(dir, "safe", "per_request.csv"), "utf8")).toContain("'=cmd|' /C calc'!A0");
    expect(await requestIds(path.join(dir, "safe"))).toEqual(await requestIds(path.join(dir, "exact")));
    expect(await requestIds(path.join(dir, "safe"))).toEqual([...ids].sort());
    const v = await validateInputs([path.join(dir, "safe")]);
    expect(v.findings.filter((f) => f.severity !== "info")).toEqual([]);
  });
});
