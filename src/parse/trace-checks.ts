import type { Finding } from "../core/finding.js";
import type { RawRecord } from "../schema/raw.js";

/**
 * Whole-trace facts no single record shows: steps that do not increase, and an end
 * record that disagrees with the file. Run by the one reader, so convert and validate
 * report them alike.
 */
const STAMP_SLACK_NS = 1_000_000;

export class TraceChecks {
  private lastStep = -1;
  private lastT = -Infinity;
  private lastTLine = 0;
  private lastGpuT = -Infinity;
  private lastGpuLine = 0;
  private steps = 0;
  private end: { line: number; steps: number; dropped: number } | null = null;

  constructor(
    private readonly file: string,
    private readonly report: (f: Finding) => void,
  ) {}

  record(rec: RawRecord, line: number): void {
    this.timeOrder(rec, line);
    if (rec.type === "step") {
      if (rec.step <= this.lastStep) this.report({ code: "RAW_STEP_ORDER", severity: "error", file: this.file, line, args: { step: rec.step, previous: this.lastStep } });
      this.lastStep = Math.max(this.lastStep, rec.step);
      this.steps++;
    } else if (rec.type === "end") this.end = { line, steps: rec.steps, dropped: rec.dropped };
  }

  /**
   * The emitter stamps every record on the scheduler thread as it writes it, so record
   * times never go back in file order and a step or update ends after it starts; a trace
   * where they do cannot be replayed into meaningful durations.
   */
  private timeOrder(rec: RawRecord, line: number): void {
    if (rec.type === "gpu") return this.gpuTimeOrder(rec.t, line);
    const start = "t" in rec ? rec.t : "t_start" in rec ? rec.t_start : null;
    if (start === null) return;
    const [prevT, prevLine] = [this.lastT, this.lastTLine];
    if (start < this.lastT) {
      this.report({ code: "RAW_TIME_ORDER", severity: "error", file: this.file, line, args: { field: "t" in rec ? "t" : "t_start", t: start, previous: this.lastT, previous_line: this.lastTLine } });
    } else {
      this.lastT = start;
      this.lastTLine = line;
    }
    // vLLM stamps a step's output after the step: never before the record preceding it
    if (rec.type === "update" && rec.out_t !== null && rec.out_t < prevT) {
      this.report({ code: "RAW_TIME_ORDER", severity: "error", file: this.file, line, args: { field: "out_t", t: rec.out_t, previous: prevT, previous_line: prevLine } });
    }
    if ("t_end" in rec && rec.t_end < rec.t_start) {
      this.report({ code: "RAW_TIME_ORDER", severity: "error", file: this.file, line, args: { field: "t_end", t: rec.t_end, previous: rec.t_start, previous_line: line } });
    }
    // vLLM takes both stamps inside the call the record times (its float seconds: 1 ms slack)
    const inner = rec.type === "step" ? ["sched_t", rec.sched_t] as const : rec.type === "update" ? ["out_t", rec.out_t] as const : null;
    // (an out_t before the record is RAW_TIME_ORDER above)
    const early = (t: number) => rec.type === "step" && t < rec.t_start - STAMP_SLACK_NS;
    if (inner && inner[1] !== null && "t_end" in rec && (early(inner[1]) || inner[1] > rec.t_end + STAMP_SLACK_NS)) {
      this.report({ code: "RAW_TIME_OUTSIDE_RECORD", severity: "error", file: this.file, line, args: { field: inner[0], t: inner[1], t_start: rec.t_start, t_end: rec.t_end } });
      // not used: the replay goes on as for a vLLM that does not expose the stamp
      if (rec.type === "step") rec.sched_t = null;
      else if (rec.type === "update") rec.out_t = null;
    }
  }

  /**
   * gpu records come from the emitter's sampler thread, stamped before they are queued: one
   * may land just before or after a scheduler record stamped earlier or later. They keep an
   * order of their own and leave the scheduler records' order alone.
   */
  private gpuTimeOrder(t: number, line: number): void {
    if (t < this.lastGpuT) {
      this.report({ code: "RAW_TIME_ORDER", severity: "error", file: this.file, line, args: { field: "t", t, previous: this.lastGpuT, previous_line: this.lastGpuLine } });
      return;
    }
    this.lastGpuT = t;
    this.lastGpuLine = line;
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
