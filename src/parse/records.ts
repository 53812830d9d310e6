import { InputError } from "../core/errors.js";
import type { Finding } from "../core/finding.js";
import { compileChecker, type Checker } from "../schema/fast-check.js";
import { HeaderRecord, INTERNED_SINCE_MINOR, RAW_RECORD_TYPES, RawRecord, TRACE_SCHEMA_MAJOR, WireRecord, type RawRecordType } from "../schema/raw.js";
import { InternedDecoder } from "./interned.js";
import type { UnterminatedTail } from "./lines.js";
import { TraceChecks } from "./trace-checks.js";
import { msg, PARSE_CODES } from "./messages.js";

/**
 * Lines → records for one trace file, the one reader of convert, validate and every
 * replay. Push-style like LineSplitter: call line() for every line and end() with the
 * splitter's tail. Every record of a known type is checked against its declaration in
 * src/schema/raw.ts (compiled by fast-check) before anything sees it, so the engine only
 * ever gets records of the contract. A fault is one code whoever reads: convert stops
 * at it (exit 2) or, with --lenient, skips and counts it; validate reports it.
 */
export interface ParseOptions {
  /** skip (and count) malformed lines instead of failing */
  lenient: boolean;
  /** report every fault here as an error finding and skip the line (validate) */
  onFault?: (fault: Finding) => void;
}

const CHECKERS = Object.fromEntries(RawRecord.options.map((o) => [o.shape.type.value, compileChecker(o)])) as Record<RawRecordType, Checker>;
/** schema 1.3 on: records may hold handles and deltas (decoded by InternedDecoder before anything sees them) */
const WIRE_CHECKERS = Object.fromEntries(WireRecord.options.map((o) => [o.shape.type.value, compileChecker(o)])) as Record<RawRecordType, Checker>;

/** Receives every record after the header (the header goes to onHeader / parser.header). */
export type RecordHandler = (record: RawRecord, line: number) => void;

/** What the reader saw in one file: goes to the manifest. */
export interface ParseStats {
  /** records delivered, by type (known types only, header included) */
  records: Record<string, number>;
  /** records skipped because their type is unknown to this vsched, by type */
  unknownTypes: Record<string, number>;
  /** lines skipped under --lenient (malformed JSON, non-records, extra headers) */
  skippedLines: number;
  /** first few skipped line numbers, for the manifest */
  skippedLineNumbers: number[];
  /** line number of a dropped incomplete last line, or null */
  truncatedTail: number | null;
  /** lines read, the empty ones included */
  lines: number;
}

const SKIPPED_LINES_KEPT = 10;

export class TraceRecordParser {
  header: HeaderRecord | null = null;
  readonly warnings: Finding[] = [];
  /** contradictions across records (step order, end record): findings like the engine's */
  readonly checks: Finding[] = [];
  private readonly traceChecks: TraceChecks;
  private readonly counts: Record<string, number>;
  private readonly unknown: Record<string, number> = Object.create(null);
  private skipped = 0;
  private readonly skippedLineNumbers: number[] = [];
  private truncatedTail: number | null = null;
  private lastLine = 0;
  /** set by a header of schema 1.3 or later (feature detection on schema_version) */
  private decoder: InternedDecoder | null = null;
  private checkers = CHECKERS;

  constructor(
    readonly file: string,
    private readonly options: ParseOptions,
    private readonly onRecord: RecordHandler,
    private readonly onHeader?: (header: HeaderRecord, line: number) => void,
  ) {
    this.counts = Object.create(null);
    for (const t of RAW_RECORD_TYPES) this.counts[t] = 0;
    this.traceChecks = new TraceChecks(file, (f) => this.checks.push(f));
  }

  /** Bound to `this` so it can be handed to LineSplitter.push directly. */
  readonly line = (text: string, line: number): void => {
    this.lastLine = line;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (e) {
      const column = jsonErrorColumn(e, text);
      this.bad(line, PARSE_CODES.malformedLine, msg.malformedLine(column), { column });
      return;
    }
    this.accept(rec, line);
  };

  /** Ends the file; `tail` is the splitter's unterminated last piece. */
  end(tail: UnterminatedTail | null, totalLines: number): ParseStats {
    this.lastLine = Math.max(this.lastLine, totalLines);
    if (tail) {
      this.lastLine = tail.line;
      let rec: unknown;
      let ok = true;
      try {
        rec = JSON.parse(tail.text);
      } catch {
        ok = false;
      }
      if (ok && isRecordShape(rec)) this.accept(rec, tail.line);
      else if (tail.text.trim() !== "") {
        // A killed server leaves half a line: not an error, the rest of the trace is good.
        this.truncatedTail = tail.line;
        this.warnings.push({
          code: PARSE_CODES.truncatedTail,
          severity: "warning",
          file: this.file,
          line: tail.line,
          args: { bytes: Buffer.byteLength(tail.text) },
        });
      }
    }
    if (!this.header) {
      const cut = this.truncatedTail !== null;
      throw new InputError(cut ? msg.truncatedHeader() : msg.emptyFile(), PARSE_CODES.missingHeader, this.file, this.lastLine || 1);
    }
    const unknownTypes = sortedCounts(this.unknown);
    const nUnknown = Object.values(unknownTypes).reduce((a, b) => a + b, 0);
    if (nUnknown > 0) {
      this.warnings.push({
        code: PARSE_CODES.unknownType,
        severity: "warning",
        file: this.file,
        args: {
          count: nUnknown,
          types: Object.entries(unknownTypes)
            .map(([t, n]) => `'${t}' ×${n}`)
            .join(", "),
          schema_version: this.header.schema_version,
        },
      });
    }
    // validate reports each skipped line itself; the summary count is convert's --lenient note
    if (this.skipped > 0 && !this.options.onFault) {
      this.warnings.push({
        code: PARSE_CODES.skippedLines,
        severity: "warning",
        file: this.file,
        line: this.skippedLineNumbers[0],
        args: { count: this.skipped, first_line: this.skippedLineNumbers[0] },
      });
    }
    this.traceChecks.finish(this.skipped);
    const records: Record<string, number> = {};
    for (const t of RAW_RECORD_TYPES) records[t] = this.counts[t];
    return {
      records,
      unknownTypes,
      skippedLines: this.skipped,
      skippedLineNumbers: [...this.skippedLineNumbers],
      truncatedTail: this.truncatedTail,
      lines: this.lastLine,
    };
  }

  private accept(rec: unknown, line: number): void {
    if (!isRecordShape(rec)) {
      this.bad(line, PARSE_CODES.notARecord, msg.notARecord(), {});
      return;
    }
    const type = rec.type;
    if (this.header === null) {
      this.header = checkHeader(rec, this.file, line);
      if (Number(this.header.schema_version.split(".")[1]) >= INTERNED_SINCE_MINOR) {
        this.decoder = new InternedDecoder();
        this.checkers = WIRE_CHECKERS;
      }
      this.counts.header++;
      this.onHeader?.(this.header, line);
      return;
    }
    const n = this.counts[type];
    if (n === undefined) {
      this.unknown[type] = (this.unknown[type] ?? 0) + 1;
      return;
    }
    if (type === "header") {
      this.bad(line, PARSE_CODES.duplicateHeader, msg.duplicateHeader(), {});
      return;
    }
    const issue = this.checkers[type as RawRecordType](rec);
    if (issue) {
      const path = issue.path.join(".");
      this.bad(line, PARSE_CODES.invalidRecord, msg.invalidRecord(type, `${path || "(record)"}: ${issue.message}`), { type, path, reason: issue.message });
      return;
    }
    if (this.decoder) {
      const fault = this.decoder.decode(rec as WireRecord);
      if (fault) {
        this.bad(line, fault.code, msg.badReference(type, fault.path, fault.reason), { type, path: fault.path, reason: fault.reason });
        return;
      }
    }
    this.counts[type] = n + 1;
    this.traceChecks.record(rec as RawRecord, line);
    this.onRecord(rec as RawRecord, line);
  }

  private bad(line: number, code: string, message: string, args: Finding["args"]): void {
    // what a skipped line held is unknown: no delta may apply across it
    this.decoder?.broken();
    const report = this.options.onFault;
    if (report && this.header !== null) report({ code, severity: "error", file: this.file, line, args });
    else if (this.header === null || !this.options.lenient) {
      // before the header even --lenient cannot go on: a trace starts with its header
      const text = this.header === null ? `${message.replace(/; use --lenient to skip such (lines|records)$/, "")}, before any header: not a trace (--lenient skips bad lines only after the header)` : message;
      throw new InputError(text, code, this.file, line);
    }
    this.skipped++;
    if (this.skippedLineNumbers.length < SKIPPED_LINES_KEPT) this.skippedLineNumbers.push(line);
  }
}

/** V8's JSON.parse wording changes between Node versions; keep only the column (1-based). */
function jsonErrorColumn(e: unknown, text: string): number | null {
  const m = /position (\d+)/.exec(String((e as Error)?.message));
  if (m) return Number(m[1]) + 1;
  return /Unexpected end of JSON input/.test(String((e as Error)?.message)) ? text.length + 1 : null;
}

function isRecordShape(rec: unknown): rec is { type: string } {
  return rec !== null && typeof rec === "object" && typeof (rec as { type?: unknown }).type === "string";
}

function sortedCounts(c: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(c).sort()) out[k] = c[k];
  return out;
}

/**
 * The first record of a file: must be a header of a schema major this vsched reads.
 * The major is checked before the shape, so a newer trace gets the version message,
 * not a list of fields it renamed.
 */
export function checkHeader(rec: { type: string }, file: string, line: number): HeaderRecord {
  if (rec.type !== "header") throw new InputError(msg.missingHeader(rec.type), PARSE_CODES.missingHeader, file, line);
  const version = (rec as { schema_version?: unknown }).schema_version;
  if (typeof version !== "string" || !/^\d+\.\d+$/.test(version)) {
    throw new InputError(msg.badHeader(`schema_version must be "MAJOR.MINOR", got ${JSON.stringify(version ?? null)}`), PARSE_CODES.badHeader, file, line);
  }
  if (Number(version.split(".")[0]) !== TRACE_SCHEMA_MAJOR) {
    throw new InputError(msg.unsupportedSchema(version, TRACE_SCHEMA_MAJOR), PARSE_CODES.unsupportedSchema, file, line);
  }
  const parsed = HeaderRecord.safeParse(rec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.join(".") : "(record)";
    throw new InputError(msg.badHeader(`${where}: ${issue.message}`), PARSE_CODES.badHeader, file, line);
  }
  // zod strips unknown keys; keep the record as written (a newer minor may add fields)
  return rec as HeaderRecord;
}

/**
 * Records are only checked structurally on the fast path, so a record missing a field
 * can make the engine throw. When it does, validate that one record with zod: if it is
 * invalid the input is at fault (exit 2, file:line and the first issue); if it is valid
 * the engine is (the original error goes on as an internal error).
 */
export function explainRecordFailure(record: unknown, file: string, line: number, err: unknown): unknown {
  if (err instanceof InputError) return err;
  const parsed = RawRecord.safeParse(record);
  if (parsed.success) return err;
  const issue = parsed.error.issues[0];
  const where = issue.path.length ? issue.path.join(".") : "(record)";
  const type = (record as { type?: unknown }).type;
  return new InputError(msg.invalidRecord(String(type), `${where}: ${issue.message}`), PARSE_CODES.invalidRecord, file, line);
}
