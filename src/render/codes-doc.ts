import { CODES, type CodeSection } from "../core/codes.js";

const BEGIN = "<!-- codes:begin (generated from src/core/codes.ts by `npm run docs:tables`; do not edit) -->";
const END = "<!-- codes:end -->";

const HEADINGS: Record<CodeSection, string> = {
  logs: "### Logs directory findings",
  raw: "### Raw trace findings (the reader; convert and validate alike)",
  engine: "### Engine findings (contradictions the replay finds; convert and validate alike)",
  input: "### Input errors (exit 2, one stderr line; never a finding)",
  command: "### Command warnings (one stderr line; the command still succeeds)",
};

/** The code tables of docs/validate.md, one per section, from the registry. */
export function codesMarkdown(): string {
  const out = [BEGIN];
  for (const section of Object.keys(HEADINGS) as CodeSection[]) {
    out.push("", HEADINGS[section], "", "| code | severity | where | meaning | args |", "|---|---|---|---|---|");
    for (const [code, e] of Object.entries(CODES)) {
      if (e.section !== section) continue;
      const cell = (s: string) => s.replace(/\|/g, "\\|");
      out.push(`| \`${code}\` | ${e.severity === "input" ? "exit 2" : e.severity} | ${cell(e.where)} | ${cell(e.meaning)} | ${cell(e.args)} |`);
    }
  }
  out.push("", END);
  return out.join("\n");
}

/** docs/validate.md with its generated part replaced (the prose around it is hand-written). */
export function validateDocWithCodes(doc: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error("docs/validate.md lacks the codes:begin / codes:end markers");
  return doc.slice(0, a) + codesMarkdown() + doc.slice(b + END.length);
}
