import type { Finding } from "../core/finding.js";
import type { RawRecord } from "../schema/raw.js";

/**
 * Whole-trace facts no single record shows: steps that do not increase, and an end
 * record that disagrees with the file. Run by the one reader, so convert and validate
 * report them alike.
 */
export class TraceChecks {
  private lastStep = -1;
  private steps = 0;
  private end: { line: number; steps: number; dropped: number } | null = null;

  constructor(
    private readonly file: string,
    private readonly report: (f: Finding) => void,
  ) {}

  record(rec: RawRecord, line: number): void {
    if (rec.type === "step") {
      if (rec.step <= this.lastStep) this.report({ code: "RAW_STEP_ORDER", severity: "error", file: this.file, line, args: { step: rec.step, previous: this.lastStep } });
      this.lastStep = Math.max(this.lastStep, rec.step);
      this.steps++;
    } else if (rec.type === "end") this.end = { line, steps: rec.steps, dropped: rec.dropped };
  }

  /** `skipped`: lines the reader could not use (a count mismatch may only echo them) */
  finish(skipped: number): void {
    // vLLM SIGKILLs the engine core at shutdown, so a real server's trace has no end record
    if (!this.end) this.report({ code: "RAW_END_MISSING", severity: "info", file: this.file, args: {} });
    else if (this.end.dropped === 0 && skipped === 0 && this.end.steps !== this.steps) {
      this.report({ code: "RAW_END_MISMATCH", severity: "warning", file: this.file, line: this.end.line, args: { field: "steps", end: this.end.steps, actual: this.steps } });
    }
  }
}
