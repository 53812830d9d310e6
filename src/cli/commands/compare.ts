import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { chalkFor, colorEnabled, writeAll, writeFileAtomic } from "../io.js";
import { parseSlo } from "./summary.js";
import { compareRuns } from "../../analysis/compare/index.js";
import { renderCompareText, PLAIN_STYLE, type TextStyle } from "../../render/compare-text.js";
import { renderCompareHtml } from "../../render/compare-html/index.js";
import { openTables } from "../../tables/open.js";
import { examples } from "../examples.js";

interface Opts {
  json?: boolean;
  html?: string;
  slo?: string;
  resamples: string;
  seed: string;
}

const intOption = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name}: expected an integer >= ${min}, got '${text}'`);
  return n;
};

export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("Compare runs against a baseline (the first): per-request differences with 95% CIs (moving-block bootstrap), Wilcoxon p for paired runs, queue occupancy and predictor quality.")
    .argument("<runs...>", "two or more runs, each a logs directory (vsched convert) or a trace file / directory of traces; the first is the baseline")
    .option("--json", "print the comparison as JSON (times in ns, keys ending _ns)")
    .option("--html <file>", "also write a self-contained HTML page with the runs overlaid")
    .option("--slo <list>", "goodput SLOs, e.g. ttft=500ms,tpot=50ms,e2e=10s (units ns, us, ms, s)")
    .option("--resamples <n>", "bootstrap resamples", "2000")
    .option("--seed <n>", "bootstrap seed (same seed, same intervals)", "1")
    .addHelpText(
      "after",
      examples(
        "vsched compare fixtures/ab-fcfs fixtures/ab-isrtf-oracle",
        "vsched compare fixtures/ab-fcfs fixtures/ab-isrtf-noisy0.5 fixtures/ab-fcfs-jitter1 --slo e2e=60s --json",
        "vsched compare fixtures/ab-fcfs fixtures/ab-isrtf-learned --html compare.html",
      ),
    )
    .action(async (args: string[], opts: Opts) => {
      if (args.length < 2) throw new UsageError("compare needs at least two runs: a baseline and one to compare with it");
      const resamples = intOption("--resamples", opts.resamples, 100);
      const seed = intOption("--seed", opts.seed, 0);
      const slo = opts.slo !== undefined ? parseSlo(opts.slo) : undefined;
      const sources = [];
      for (const a of args) sources.push(await openTables([a]));
      const result = await compareRuns(sources, { resamples, seed, slo });
      if (opts.html) await writeFileAtomic(opts.html, renderCompareHtml(result));
      await writeAll(process.stdout, opts.json ? `${JSON.stringify(result, null, 2)}\n` : renderCompareText(result, style()));
    });
}

function style(): TextStyle {
  if (!colorEnabled(process.stdout)) return PLAIN_STYLE;
  const c = chalkFor(process.stdout);
  return { heading: (s) => c.bold(s), dim: (s) => c.dim(s) };
}
