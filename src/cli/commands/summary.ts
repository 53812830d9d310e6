import type { Command } from "commander";
import { InputError, UsageError } from "../errors.js";
import { writeAll } from "../io.js";
import { computeSummary, MissingTableError, type Slo } from "../../analysis/summary/index.js";
import { renderSummaryText } from "../../render/summary-text.js";
import { terminalStyle } from "../../render/style.js";
import { openTables } from "../../tables/index.js";
import { examples } from "../examples.js";

export function registerSummary(program: Command): void {
  program
    .command("summary")
    .description("One screen of latency, throughput, scheduler, KV, waiting and fairness figures, from a logs directory or straight from raw traces.")
    .argument("<inputs...>", "a logs directory written by vsched convert, or trace files / directories of traces (replayed, no CSV written)")
    .option("--json", "print the same figures as JSON (times in ns, keys ending _ns)")
    .option("--slo <list>", "goodput SLOs, e.g. ttft=500ms,tpot=50ms,e2e=10s (units ns, us, ms, s)")
    .addHelpText("after", examples("vsched summary logs/", "vsched summary fixtures/e2e-vllm-cpu/trace --json --slo ttft=500ms,tpot=50ms"))
    .action(async (inputs: string[], opts: { json?: boolean; slo?: string }) => {
      const slo = opts.slo !== undefined ? parseSlo(opts.slo) : undefined;
      const source = await openTables(inputs);
      let summary;
      try {
        summary = await computeSummary(source, { slo });
      } catch (err) {
        if (err instanceof MissingTableError) {
          throw new InputError(`${err.message}; run vsched validate ${source.info.label} for details`, err.column ? "SUMMARY_COLUMN_MISSING" : "SUMMARY_TABLE_MISSING", source.info.label);
        }
        throw err;
      }
      await writeAll(process.stdout, opts.json ? `${JSON.stringify(summary, null, 2)}\n` : renderSummaryText(summary, source.info.label, terminalStyle()));
    });
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9 };
const SLO_KEYS = { ttft: "ttft_ns", tpot: "tpot_ns", e2e: "e2e_ns" } as const satisfies Record<string, keyof Slo>;

/** `ttft=500ms,tpot=50ms,e2e=10s` → nanosecond bounds. */
export function parseSlo(text: string): Slo {
  const slo: Slo = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9]+)\s*=\s*([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s)$/i.exec(part);
    const key = m ? SLO_KEYS[m[1].toLowerCase() as keyof typeof SLO_KEYS] : undefined;
    if (!m || !key) {
      throw new UsageError(`--slo: cannot read '${part}'; expected NAME=VALUEUNIT with NAME one of ttft, tpot, e2e and UNIT one of ns, us, ms, s (e.g. ttft=500ms)`);
    }
    slo[key] = Math.round(Number(m[2]) * UNITS[m[3].toLowerCase()]);
  }
  if (!Object.keys(slo).length) throw new UsageError("--slo: no SLO given (e.g. --slo ttft=500ms,tpot=50ms)");
  return slo;
}

