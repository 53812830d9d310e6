import { InputError } from "../core/errors.js";
import type { Finding } from "../core/finding.js";
import type { TraceInput } from "../parse/inputs.js";
import { readTraceHeader } from "../parse/node.js";
import { planReplay, replay, type ReplayRowSink } from "../pipeline/replay.js";
import type { Findings } from "./collector.js";

/** Codes of a first record that is not a usable header: the file cannot be replayed. */
const HEADER_FAULTS = new Set(["RAW_MISSING_HEADER", "RAW_BAD_HEADER", "RAW_UNSUPPORTED_SCHEMA", "RAW_MALFORMED_LINE", "RAW_NOT_A_RECORD"]);

const DISCARD: ReplayRowSink = { perRequest() {}, perIteration() {}, perIterationRequest() {}, event() {}, stateTransition() {}, prediction() {} };

/**
 * Validates raw traces with the reader and engine convert uses, so one fault has one
 * code and severity whoever finds it: every malformed or invalid line is reported and
 * skipped, then the engine's contradictions (duplicate arrivals, tokens after finish,
 * updates without a step, …) and the whole-trace checks follow. Unreadable files
 * (missing, not gzip, a line too long) throw InputError: exit 2, not findings.
 * Returns the lines read.
 */
export async function validateRawTraces(inputs: TraceInput[], findings: Findings): Promise<number> {
  const readable: TraceInput[] = [];
  for (const input of inputs) {
    try {
      await readTraceHeader(input);
      readable.push(input);
    } catch (e) {
      if (!(e instanceof InputError) || !HEADER_FAULTS.has(e.code)) throw e;
      findings.add(e.code, "error", input.display, e.line, { reason: e.message });
    }
  }
  if (!readable.length) return 0;
  const display = new Map(readable.map((i) => [i.relative, i.display]));
  const order = new Map(readable.map((i, k) => [i.display, k]));
  const found: Finding[] = [];
  const add = (f: Finding) => found.push({ ...f, file: f.file === undefined ? undefined : (display.get(f.file) ?? f.file) });
  const plan = await planReplay(readable, { distinctRanks: false }); // each file judged on its own
  const result = await replay(plan, { lenient: true, onFault: add, iterationRequests: "none", iterationRequestsEvery: 1, scheduledEvents: false }, DISCARD);
  for (const w of result.warnings) add(w);
  for (const f of result.findings.listed) add(f);
  // by file, then by line (whole-file findings last): the order a reader of the trace meets them
  const rank = (f: Finding) => [order.get(f.file ?? "") ?? -1, f.line ?? Infinity] as const;
  found.sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1]);
  for (const f of found) findings.add(f.code, f.severity, f.file, f.line, f.args);
  return result.sources.reduce((a, s) => a + Object.values(s.records).reduce((x, y) => x + y, 0) + s.skippedLines, 0);
}
