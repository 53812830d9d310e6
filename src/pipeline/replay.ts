import { createEngine } from "../engine/index.js";
import type { TableRowSink } from "../engine/table-sink.js";
import type { EngineOptions, EngineTotals, RowSink } from "../engine/types.js";
import type { Finding } from "../core/finding.js";
import type { TraceInput } from "../parse/inputs.js";
import { readTraceFile, readTraceHeader } from "../parse/node.js";
import { explainRecordFailure } from "../parse/records.js";
import { msg, PARSE_CODES } from "../parse/messages.js";
import { InputError } from "../core/errors.js";
import type { HeaderRecord, RawRecord } from "../schema/raw.js";
import { FindingTally } from "./finding-tally.js";
import { guardRows } from "./row-guard.js";

/**
 * Trace files → engine → row sinks: the one place that wires the reader to the engine.
 * No process, no stderr, no exit codes: it returns what happened and throws InputError
 * for input that cannot be read. Every command that needs rows goes through here
 * (convert's CSV and Parquet sinks, and TableSources built straight from a trace).
 */
export type ReplayRowSink = TableRowSink;

export interface ReplayOptions {
  lenient: boolean;
  /** report every malformed or invalid line here and skip it (validate), instead of stopping or counting */
  onFault?: (fault: Finding) => void;
  iterationRequests: EngineOptions["iterationRequests"];
  iterationRequestsEvery: number;
  scheduledEvents: boolean;
}

export interface ReplayHooks {
  /** awaited after each input chunk when it returns a promise: the sinks' backpressure */
  afterChunk?: () => void | Promise<void>;
  /** checked after every record: true stops reading until afterChunk's promise resolves */
  shouldPause?: () => boolean;
  /** on-disk bytes read, for progress */
  onRawBytes?: (n: number) => void;
  /** a reader warning (truncated tail, unknown types, skipped lines), as soon as a file ends */
  onWarning?: (w: Finding) => void;
}

/** One input as replayed: everything the manifest says about a source. */
export interface ReplaySource {
  path: string;
  bytes: number;
  sha256: string;
  gzip: boolean;
  /** added to this file's relative times to put them on the output's t=0 */
  timeOffsetNs: number;
  header: HeaderRecord;
  records: Record<string, number>;
  unknownTypes: Record<string, number>;
  skippedLines: number;
  skippedLineNumbers: number[];
  truncatedTail: number | null;
  engine: EngineTotals;
}

export interface ReplayResult {
  /** absolute epoch ns of the output's t=0: the earliest clock anchor among the inputs */
  epochZeroNs: bigint;
  sources: ReplaySource[];
  /** reader warnings, each with the file it concerns */
  warnings: Finding[];
  /** engine findings (bounded) */
  findings: FindingTally;
}

/** The headers of every input, read before any record, so t=0 is known up front. */
export interface ReplayPlan {
  inputs: TraceInput[];
  headers: HeaderRecord[];
  epochZeroNs: bigint;
  /** per input: its anchor minus t=0 (ns; small enough for a number) */
  offsetsNs: number[];
}

/**
 * `distinctRanks` (default): the inputs are one run, merged into one set of tables, so two
 * with one dp_rank are refused; validate checks each trace file on its own and passes false.
 */
export async function planReplay(inputs: TraceInput[], { distinctRanks = true } = {}): Promise<ReplayPlan> {
  const headers: HeaderRecord[] = [];
  for (const input of inputs) headers.push(await readTraceHeader(input));
  if (distinctRanks) refuseRepeatedRanks(inputs, headers);
  // BigInt: epoch ns exceed 2^53; the differences between ranks' anchors do not.
  const epochs = headers.map((h) => BigInt(h.clock.epoch_ns));
  const epochZeroNs = epochs.reduce((a, b) => (b < a ? b : a));
  return { inputs, headers, epochZeroNs, offsetsNs: epochs.map((e) => Number(e - epochZeroNs)) };
}

/**
 * One trace per scheduler process: two inputs with one dp_rank are the same trace twice (as
 * .jsonl and .jsonl.gz, say) or two runs in one directory, and replaying both would merge
 * two schedulers' iterations and requests into one rank's tables.
 */
function refuseRepeatedRanks(inputs: TraceInput[], headers: HeaderRecord[]): void {
  const seen = new Map<number, number>();
  headers.forEach((h, i) => {
    const first = seen.get(h.dp_rank);
    if (first === undefined) seen.set(h.dp_rank, i);
    else throw new InputError(msg.repeatedRank(h.dp_rank, inputs[first].display), PARSE_CODES.repeatedRank, inputs[i].display);
  });
}

export async function replay(plan: ReplayPlan, options: ReplayOptions, sink: ReplayRowSink, hooks: ReplayHooks = {}): Promise<ReplayResult> {
  const findings = new FindingTally();
  const sources: ReplaySource[] = [];
  const warnings: Finding[] = [];
  for (let i = 0; i < plan.inputs.length; i++) {
    const source = await replayInput(plan, i, options, sink, findings, hooks);
    for (const w of source.warnings) {
      warnings.push(w);
      hooks.onWarning?.(w);
    }
    sources.push(source.source);
  }
  return { epochZeroNs: plan.epochZeroNs, sources, warnings, findings };
}

/**
 * One input of the plan, its rows checked (guardRows) and its findings added to `findings`:
 * replay() runs it for each input in turn; convert's worker threads run it one input each.
 */
export async function replayInput(plan: ReplayPlan, i: number, options: ReplayOptions, sink: ReplayRowSink, findings: FindingTally, hooks: ReplayHooks = {}): Promise<{ source: ReplaySource; warnings: Finding[] }> {
  const guard = guardRows(sink, (f) => findings.add({ ...f, file: plan.inputs[i].relative }));
  const source = await replayOne(plan, i, options, { ...guard.sink, finding: findings.add }, hooks);
  guard.end();
  return source;
}

async function replayOne(plan: ReplayPlan, i: number, options: ReplayOptions, sink: RowSink, hooks: ReplayHooks) {
  const input = plan.inputs[i];
  const engine = createEngine(plan.headers[i], sink, {
    timeOffsetNs: plan.offsetsNs[i],
    epochZeroNs: plan.epochZeroNs,
    iterationRequests: options.iterationRequests,
    iterationRequestsEvery: options.iterationRequestsEvery,
    scheduledEvents: options.scheduledEvents,
    file: input.relative,
  });
  const push = (rec: RawRecord, line: number) => {
    try {
      engine.push(rec, line);
    } catch (e) {
      throw explainRecordFailure(rec, input.display, line, e);
    }
  };
  const r = await readTraceFile(input, { lenient: options.lenient, onFault: options.onFault }, push, { afterChunk: hooks.afterChunk, onRawBytes: hooks.onRawBytes, shouldPause: hooks.shouldPause });
  const totals = engine.end();
  for (const f of r.checks) sink.finding(f);
  const source: ReplaySource = {
    path: input.relative,
    bytes: r.bytes,
    sha256: r.sha256,
    gzip: r.gzip,
    timeOffsetNs: plan.offsetsNs[i],
    header: plan.headers[i],
    records: r.records,
    unknownTypes: r.unknownTypes,
    skippedLines: r.skippedLines,
    skippedLineNumbers: r.skippedLineNumbers,
    truncatedTail: r.truncatedTail,
    engine: totals,
  };
  return { source, warnings: r.warnings.map((w) => ({ ...w, file: input.relative })) };
}
