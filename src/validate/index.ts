import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { InputError } from "../core/errors.js";
import type { Finding } from "../core/finding.js";
import { resolveInputs } from "../parse/inputs.js";
import { Findings } from "./collector.js";
import { validateLogsDir } from "./logs-dir.js";
import { isLogsDir } from "../logs/layout.js";
import { validateRawTraces } from "./raw-trace.js";

/** What `vsched validate` found: a plain object the renderers and the exit code read. */
export interface ValidateResult {
  kind: "logs" | "raw";
  inputs: string[];
  /** files read and rows (CSV) or lines (trace) checked */
  files: number;
  rows: number;
  findings: Finding[];
  counts: { error: number; warning: number; info: number };
}

export interface ValidateOptions {
  /** findings kept per (file, code); more are counted */
  maxPerCode?: number;
  cwd?: string;
}

/**
 * One logs directory, or raw trace files / directories of them. Unreadable input (missing
 * path, a directory that is neither) throws InputError: exit 2, not findings.
 */
export async function validateInputs(args: readonly string[], opts: ValidateOptions = {}): Promise<ValidateResult> {
  const cwd = opts.cwd ?? process.cwd();
  const findings = new Findings(opts.maxPerCode ?? 50);
  const display = (a: string) => path.normalize(a).split(path.sep).join("/");
  let result: Omit<ValidateResult, "findings" | "counts">;
  const first = path.resolve(cwd, args[0]);
  if (args.length === 1 && existsSync(first) && statSync(first).isDirectory() && isLogsDir(first)) {
    const shown = display(args[0]);
    const c = await validateLogsDir(first, shown, findings);
    result = { kind: "logs", inputs: [shown], files: c.files, rows: c.rows };
  } else {
    for (const a of args) {
      const abs = path.resolve(cwd, a);
      if (/\.csv$|(^|\/)manifest\.json$/.test(a)) {
        throw new InputError("this is one file of a logs directory: validate the directory that holds it", "VALIDATE_NOT_A_TRACE", a);
      }
      if (args.length > 1 && existsSync(abs) && statSync(abs).isDirectory() && isLogsDir(abs)) {
        throw new InputError("a logs directory is validated on its own: pass it as the only argument", "VALIDATE_MIXED_INPUTS", a);
      }
    }
    const inputs = await resolveInputs(args, cwd);
    const rows = await validateRawTraces(inputs, findings);
    result = { kind: "raw", inputs: inputs.map((i) => i.display), files: inputs.length, rows };
  }
  const list = findings.result();
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of list) counts[f.severity]++;
  return { ...result, findings: list, counts };
}
