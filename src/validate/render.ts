import { EXIT } from "../core/errors.js";
import { formatFinding, formatFindingLine } from "../render/findings-text.js";
import { PLAIN, type Style } from "../render/style.js";
import type { ValidateResult } from "./index.js";

export type ValidateFormat = "text" | "json" | "github";
export const VALIDATE_FORMATS = ["text", "json", "github"] as const satisfies readonly ValidateFormat[];

/** 0 clean, 1 when an error-severity finding exists (or any warning under --strict). */
export function validateExitCode(r: ValidateResult, opts: { strict?: boolean } = {}): number {
  if (r.counts.error > 0 || (opts.strict && r.counts.warning > 0)) return EXIT.findings;
  return EXIT.ok;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

export function renderValidateText(r: ValidateResult, style: Style = PLAIN): string {
  const out: string[] = [];
  for (const f of r.findings) {
    const line = formatFindingLine(f);
    out.push(f.severity === "error" ? style.error(line) : f.severity === "warning" ? style.warning(line) : style.dim(line));
  }
  const what = r.kind === "logs" ? `${plural(r.files, "file")}, ${plural(r.rows, "row")}` : `${plural(r.files, "trace file")}, ${plural(r.rows, "line")}`;
  const c = r.counts;
  if (c.error + c.warning + c.info === 0) out.push(style.ok(`ok: ${r.inputs.join(" ")} (${what}) has no findings`));
  else out.push(`${r.inputs.join(" ")} (${what}): ${plural(c.error, "error")}, ${plural(c.warning, "warning")}, ${plural(c.info, "note")}`);
  return `${out.join("\n")}\n`;
}

export function renderValidateJson(r: ValidateResult): string {
  const body = {
    ok: r.counts.error === 0,
    kind: r.kind,
    inputs: r.inputs,
    files: r.files,
    rows: r.rows,
    counts: r.counts,
    findings: r.findings.map((f) => ({ code: f.code, severity: f.severity, file: f.file ?? null, line: f.line ?? null, args: f.args, message: formatFinding(f) })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** GitHub Actions workflow commands: one annotation per finding. */
export function renderValidateGithub(r: ValidateResult): string {
  const kind = { error: "error", warning: "warning", info: "notice" } as const;
  const out = r.findings.map((f) => {
    const props = [f.file !== undefined ? `file=${escapeProperty(f.file)}` : null, f.line !== undefined ? `line=${f.line}` : null, `title=${escapeProperty(f.code)}`]
      .filter(Boolean)
      .join(",");
    return `::${kind[f.severity]} ${props}::${escapeData(formatFinding(f))}`;
  });
  const c = r.counts;
  out.push(`vsched validate: ${plural(c.error, "error")}, ${plural(c.warning, "warning")}, ${plural(c.info, "note")}`);
  return `${out.join("\n")}\n`;
}

const escapeData = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
