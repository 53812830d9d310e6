import type { Finding } from "../core/finding.js";
import type { RowSink } from "./types.js";

/**
 * Engine findings, aggregated per code: the first occurrence is reported with its
 * location and facts, and end() reports how many more followed, so a systematic
 * problem in a long trace is one finding, not a million.
 */
export class FindingCollector {
  private readonly counts = new Map<string, number>();
  constructor(
    private readonly sink: RowSink,
    private readonly file: string | undefined,
  ) {}

  report(code: string, severity: Finding["severity"], line: number | undefined, args: Finding["args"]): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n === 1) this.sink.finding({ code, severity, file: this.file, line, args });
  }

  end(): void {
    for (const [code, n] of this.counts) {
      if (n > 1) this.sink.finding({ code: "ENGINE_REPEATED", severity: "info", file: this.file, args: { of: code, more: n - 1 } });
    }
  }
}
