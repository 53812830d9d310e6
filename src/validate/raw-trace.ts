import type { TraceInput } from "../parse/inputs.js";
import { InputError } from "../core/errors.js";
import { LineSplitter, LineTooLongError } from "../parse/lines.js";
import { msg, PARSE_CODES } from "../parse/messages.js";
import { streamFile } from "../parse/node.js";
import { RAW_RECORD_TYPES, RawRecord, TRACE_SCHEMA_MAJOR, type RawRecordType } from "../schema/raw.js";
import type { Findings } from "./collector.js";
import { IntByIndex } from "./collector.js";

/**
 * Validates one raw trace file record by record (streaming; memory: one entry per
 * request id and one byte per step). Unlike convert, it never stops at the first
 * problem: every line is judged and reported with its 1-based line number.
 */
export class RawTraceChecker {
  private records = 0;
  /** lines that could not be judged: a later count mismatch may only echo them */
  private broken = 0;
  private first = true;
  private stop = false;
  private lastStep = -1;
  private stepRecords = 0;
  private readonly steps = new IntByIndex(0);
  /** request id → line of its arrival (ever arrived) */
  private readonly arrived = new Map<string, number>();
  private readonly finished = new Set<string>();
  private readonly unknownTypes = new Map<string, { count: number; line: number }>();
  private schemaVersion: string | null = null;
  private end: { line: number; steps: number; dropped: number } | null = null;

  constructor(
    private readonly file: string,
    private readonly findings: Findings,
  ) {}

  private add(code: string, severity: "error" | "warning" | "info", line: number | undefined, args: Record<string, string | number | boolean | null> = {}) {
    this.findings.add(code, severity, this.file, line, args);
  }

  /** one complete line */
  line = (text: string, line: number): void => {
    if (this.stop) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      this.add("RAW_MALFORMED_LINE", "error", line, { reason: (e as Error).message });
      this.broken++;
      this.first = false;
      return;
    }
    this.record(json, line);
  };

  /** the unterminated last piece of the file, if any */
  tail(text: string, line: number): void {
    if (this.stop) return;
    try {
      this.record(JSON.parse(text), line);
    } catch {
      this.add("RAW_TRUNCATED_TAIL", "error", line, { bytes: Buffer.byteLength(text) });
    }
  }

  private record(json: unknown, line: number): void {
    this.records++;
    if (typeof json !== "object" || json === null || Array.isArray(json) || typeof (json as { type?: unknown }).type !== "string") {
      this.add("RAW_NOT_A_RECORD", "error", line);
      this.first = false;
      return;
    }
    const obj = json as Record<string, unknown> & { type: string };
    const wasFirst = this.first;
    this.first = false;
    if (wasFirst && obj.type !== "header") this.add("RAW_MISSING_HEADER", "error", line, { type: obj.type });
    if (!(RAW_RECORD_TYPES as readonly string[]).includes(obj.type)) {
      const u = this.unknownTypes.get(obj.type) ?? { count: 0, line };
      u.count++;
      this.unknownTypes.set(obj.type, u);
      return;
    }
    const parsed = RawRecord.safeParse(obj);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.add("RAW_RECORD_INVALID", "error", line, { type: obj.type, path: issue.path.join("."), reason: issue.message });
      this.broken++;
      this.registerLoosely(obj as Record<string, unknown>, line);
      return;
    }
    this.semantic(parsed.data, line, wasFirst);
  }

  /** keep ids of an invalid record so one bad record does not cascade into many findings */
  private registerLoosely(obj: Record<string, unknown>, line: number): void {
    if (obj.type === "arrival" && typeof obj.req === "string") this.arrived.set(obj.req, line);
    if (obj.type === "step" && typeof obj.step === "number" && Number.isInteger(obj.step) && obj.step >= 0) {
      this.steps.set(obj.step, 1);
      this.lastStep = Math.max(this.lastStep, obj.step);
      this.stepRecords++;
    }
  }

  private semantic(r: RawRecord, line: number, wasFirst: boolean): void {
    const ref = (id: string | null | undefined, type: RawRecordType, field: string) => {
      if (id !== null && id !== undefined && !this.arrived.has(id)) this.add("RAW_UNKNOWN_REQUEST", "error", line, { request_id: id, type, field });
    };
    switch (r.type) {
      case "header": {
        if (!wasFirst) {
          this.add("RAW_DUPLICATE_HEADER", "error", line);
          return;
        }
        this.schemaVersion = r.schema_version;
        const major = Number(r.schema_version.split(".")[0]);
        if (major !== TRACE_SCHEMA_MAJOR) {
          this.add("RAW_UNSUPPORTED_SCHEMA", "error", line, { found: r.schema_version, supported_major: TRACE_SCHEMA_MAJOR });
          this.stop = true; // nothing after it can be judged against this schema
        }
        return;
      }
      case "arrival": {
        const first = this.arrived.get(r.req);
        if (first !== undefined && !this.finished.has(r.req)) this.add("RAW_DUPLICATE_ARRIVAL", "error", line, { request_id: r.req, first_line: first });
        this.arrived.set(r.req, line);
        this.finished.delete(r.req);
        return;
      }
      case "step": {
        if (r.step <= this.lastStep) this.add("RAW_STEP_ORDER", "error", line, { step: r.step, previous: this.lastStep });
        this.lastStep = Math.max(this.lastStep, r.step);
        this.steps.set(r.step, 1);
        this.stepRecords++;
        for (const [id] of r.sched) ref(id, "step", "sched");
        for (const [id] of r.new) ref(id, "step", "new");
        for (const [id] of r.resumed) ref(id, "step", "resumed");
        for (const id of r.preempted) ref(id, "step", "preempted");
        for (const [id] of r.kv_fail) ref(id, "step", "kv_fail");
        for (const [id] of r.skipped ?? []) ref(id, "step", "skipped");
        for (const [id] of r.blocks ?? []) ref(id, "step", "blocks");
        for (const id of r.order ?? []) ref(id, "step", "order");
        ref(r.stop?.req, "step", "stop.req");
        return;
      }
      case "update": {
        if (this.steps.get(r.step) !== 1) this.add("RAW_UPDATE_UNKNOWN_STEP", "error", line, { step: r.step });
        for (const [id] of r.tokens) ref(id, "update", "tokens");
        for (const [id] of r.blocks ?? []) ref(id, "update", "blocks");
        for (const [id] of r.finished) {
          ref(id, "update", "finished");
          this.finished.add(id);
        }
        return;
      }
      case "finish":
        ref(r.req, "finish", "req");
        this.finished.add(r.req);
        return;
      case "score":
        ref(r.req, "score", "req");
        return;
      case "end":
        this.end = { line, steps: r.steps, dropped: r.dropped };
        return;
      case "dropped":
      case "emitter_error":
        return;
    }
  }

  /** whole-file checks; call after the last line */
  finish(): void {
    if (this.records === 0 && !this.stop) {
      this.add("RAW_EMPTY", "error", 1);
      return;
    }
    for (const [type, u] of [...this.unknownTypes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      this.add("RAW_UNKNOWN_TYPE", "warning", u.line, { count: u.count, types: type, schema_version: this.schemaVersion });
    }
    if (this.stop) return;
    if (!this.end) this.add("RAW_END_MISSING", "warning", undefined);
    else if (this.end.dropped === 0 && this.broken === 0 && this.end.steps !== this.stepRecords) {
      this.add("RAW_END_MISMATCH", "warning", this.end.line, { field: "steps", end: this.end.steps, actual: this.stepRecords });
    }
  }
}

/** Streams one trace file through the checker. I/O errors propagate as InputError (exit 2). */
export async function validateRawTrace(input: TraceInput, findings: Findings): Promise<number> {
  const checker = new RawTraceChecker(input.display, findings);
  const splitter = new LineSplitter();
  try {
    await streamFile(input, (chunk) => splitter.push(chunk, checker.line));
  } catch (e) {
    if (e instanceof LineTooLongError) throw new InputError(msg.lineTooLong(e.limit), PARSE_CODES.lineTooLong, input.display, e.line);
    throw e;
  }
  const tail = splitter.end();
  if (tail) checker.tail(tail.text, tail.line);
  checker.finish();
  return splitter.lines + (tail ? 1 : 0);
}
