import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { computeReport } from "../../analysis/report/index.js";
import { MissingTableError } from "../../analysis/summary/index.js";
import { renderReportHtml } from "../../render/html/page.js";
import { requireChromium } from "../../render/html/browser.js";
import { writePngs } from "../../render/html/png.js";
import { openTables } from "../../tables/open.js";
import { formatFinding } from "../../render/findings-text.js";
import type { TraceSource } from "../../tables/from-trace.js";
import type { TableSource } from "../../tables/types.js";
import { InputError, UsageError } from "../errors.js";
import { warn, writeFileAtomic } from "../io.js";
import { parseSlo } from "./summary.js";
import { examples } from "../examples.js";

interface ReportOpts {
  output?: string;
  title?: string;
  slo?: string;
  png?: string;
  lenient?: boolean;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("One self-contained HTML page (no network at view time) with seed 002's statistics and charts, waiting by cause over time, latency distributions, fairness and a per-request drill-down.")
    .argument("<input...>", "a logs directory written by vsched convert, or raw traces (files or directories of .jsonl / .jsonl.gz)")
    .requiredOption("-o, --output <file>", "the HTML file to write")
    .option("--title <text>", "page title (default: vsched report: INPUT)")
    .option("--slo <list>", "goodput SLOs drawn on the latency charts, e.g. ttft=500ms,tpot=50ms,e2e=10s")
    .option("--png <dir>", "also write every chart as PNG and the statistics as statistics.csv into DIR (needs Chromium)")
    .option("--lenient", "raw traces: skip malformed lines (counted) instead of failing")
    .addHelpText("after", examples("vsched report fixtures/e2e-vllm-cpu/trace -o report.html", "vsched report logs/ -o report.html --title fcfs-16-seqs --slo ttft=500ms,tpot=50ms", "vsched report logs/ -o report.html --png figures/"))
    .action(async (inputs: string[], opts: ReportOpts) => {
      const out = opts.output!;
      if (!out.endsWith(".html") && !out.endsWith(".htm")) throw new UsageError(`-o ${out}: the report is one HTML file; name it *.html`);
      const slo = opts.slo !== undefined ? parseSlo(opts.slo) : undefined;
      if (opts.png) requireChromium("--png");
      const source = await openTables(inputs, { lenient: opts.lenient });
      let data;
      try {
        data = await computeReport(source, { title: opts.title, slo });
      } catch (err) {
        if (err instanceof MissingTableError) {
          throw new InputError(`${err.message}; run vsched validate ${source.info.label} for details`, err.column ? "SUMMARY_COLUMN_MISSING" : "SUMMARY_TABLE_MISSING", source.info.label);
        }
        throw err;
      }
      const findings = traceFindings(source);
      const html = renderReportHtml(data);
      await mkdir(path.dirname(path.resolve(out)), { recursive: true });
      await writeFileAtomic(out, html, "REPORT_WRITE_FAILED");
      const mb = (Buffer.byteLength(html) / 1e6).toFixed(1);
      process.stderr.write(
        `vsched: wrote ${out} (${mb} MB): ${data.summary.requests.total} requests, ${data.summary.scheduler.iterations} steps, ${data.ranks.length} rank${data.ranks.length === 1 ? "" : "s"}; open it in a browser (works offline)\n`,
      );
      if (opts.png) {
        const files = await writePngs(html, data, opts.png);
        process.stderr.write(`vsched: wrote ${files.length - 1} charts as PNG and statistics.csv into ${opts.png.replace(/\/+$/, "")}/\n`);
      }
      // as timeline: the page is written and the warning says the trace contradicted itself
      if (findings.errors > 0) {
        const args = { count: findings.errors, codes: Object.keys(findings.byCode).join(", ") };
        warn(formatFinding({ code: "REPORT_ENGINE_ERRORS", args }), { code: "REPORT_ENGINE_ERRORS" });
      }
    });
}

/** reader warnings of a raw-trace source (each printed as convert does) and its engine findings */
function traceFindings(source: TableSource): { errors: number; byCode: Record<string, number> } {
  const r = (source as Partial<TraceSource>).lastReplay;
  if (!r) return { errors: 0, byCode: {} };
  for (const w of r.warnings) warn(formatFinding(w), { file: w.file, line: w.line, code: w.code });
  const byCode: Record<string, number> = {};
  for (const f of r.findings.listed) if (f.severity === "error") byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  return { errors: r.findings.errors, byCode };
}
