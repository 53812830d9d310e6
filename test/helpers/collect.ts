import type { Finding } from "../../src/core/finding.js";
import { createEngine, DEFAULT_ENGINE_OPTIONS, type EngineOptions, type RowSink } from "../../src/engine/index.js";
import type { HeaderRecord, RawRecord } from "../../src/schema/raw.js";
import { computeReport, type ReportData } from "../../src/analysis/report/index.js";
import { memorySource } from "../../src/tables/memory.js";
import type { EventRow, PerIterationRequestRow, PerIterationRow, PerRequestRow, PredictionRow, StateTransitionRow } from "../../src/schema/tables.js";

export interface Collected {
  perRequest: PerRequestRow[];
  perIteration: PerIterationRow[];
  perIterationRequests: PerIterationRequestRow[];
  events: EventRow[];
  transitions: StateTransitionRow[];
  predictions: PredictionRow[];
  findings: Finding[];
}

/** Runs records through the engine and keeps every row in memory (tests only). */
export function replay(records: RawRecord[], options: Partial<EngineOptions> = {}): Collected {
  const out: Collected = { perRequest: [], perIteration: [], perIterationRequests: [], events: [], transitions: [], predictions: [], findings: [] };
  const sink: RowSink = {
    perRequest: (r) => out.perRequest.push(r),
    perIteration: (r) => out.perIteration.push(r),
    perIterationRequest: (r) => out.perIterationRequests.push(r),
    event: (r) => out.events.push(r),
    stateTransition: (r) => out.transitions.push(r),
    prediction: (r) => out.predictions.push(r),
    finding: (f) => out.findings.push(f),
  };
  const [header, ...rest] = records;
  if (header.type !== "header") throw new Error("first record must be the header");
  const engine = createEngine(header as HeaderRecord, sink, { ...DEFAULT_ENGINE_OPTIONS, ...options });
  rest.forEach((r, i) => engine.push(r, i + 2));
  engine.end();
  return out;
}

/** The report of records replayed in memory, the first record the header of the one source. */
export function replayReport(records: RawRecord[]): Promise<ReportData> {
  const out = replay(records);
  const { type: _t, ...header } = records[0] as HeaderRecord;
  return computeReport(memorySource({ per_request: out.perRequest, per_iteration: out.perIteration, per_iteration_requests: out.perIterationRequests }, {
    sources: [{ path: "t.jsonl", header, timeOffsetNs: 0 }],
  }));
}
