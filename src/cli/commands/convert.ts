import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type { EngineOptions } from "../../engine/types.js";
import { resolveInputs } from "../../parse/inputs.js";
import { planReplay, replay, type ReplayResult } from "../../pipeline/replay.js";
import { formatFinding } from "../../render/findings-text.js";
import { CsvTableSet, tableFileName } from "../../sinks/csv-tables.js";
import { buildManifest, manifestJson, type ManifestInput } from "../../sinks/manifest.js";
import { createProgress, NO_PROGRESS } from "../../render/progress.js";
import { TABLE_NAMES, type TableName } from "../../schema/tables.js";
import { VERSION } from "../../version.js";
import { EXIT, UsageError } from "../errors.js";
import { outputError, progressEnabled, StagedOutputDir, warn } from "../io.js";
import { examples } from "../examples.js";

export interface ConvertOptions {
  inputs: string[];
  out: string;
  lenient: boolean;
  versionHeader: boolean;
  iterationRequests: EngineOptions["iterationRequests"];
  iterationRequestsEvery: number;
  scheduledEvents: boolean;
  /** prefix text cells a spreadsheet would run as formulas with ' (readers of vsched strip it) */
  spreadsheetSafe?: boolean;
  quiet: boolean;
  /** for tests: the directory inputs and -o are relative to, and where diagnostics go */
  cwd?: string;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description(
      "Replay raw traces into per_request, per_iteration, per_iteration_requests, events and state_transitions CSVs plus manifest.json. " +
        "Several files (one per scheduler process / DP rank) share one t=0, the earliest clock anchor; their rows are grouped by file, then by time.",
    )
    .argument("<inputs...>", "trace files (.jsonl or .jsonl.gz) or directories holding them")
    .requiredOption("-o, --out <dir>", "output directory (created; existing tables in it are replaced only on success)")
    .option("--lenient", "skip malformed lines (counted in manifest.json) instead of stopping at the first")
    .option("--version-header", "start each CSV with '# vsched <version> schema <n> table <name>' (pandas then needs comment='#')")
    .addOption(
      new Option("--iteration-requests <which>", "rows of per_iteration_requests.csv: every request each step, only running ones, or none")
        .choices(["all", "running", "none"])
        .default("all"),
    )
    .option("--iteration-requests-every <n>", "per_iteration_requests.csv: keep only iterations whose id is a multiple of n", parsePositiveInt, 1)
    .option("--no-scheduled-events", "leave the per-step request_scheduled events out of events.csv (the largest share of it)")
    .option("--spreadsheet-safe", "prefix text cells that start with = + - @ TAB CR or ' with ' so a spreadsheet shows them instead of running them (vsched's own readers strip it; pandas sees the ')")
    .option("-q, --quiet", "no progress bar and no summary line (warnings are still printed)")
    .addHelpText("after", examples("vsched convert fixtures/e2e-vllm-cpu/trace -o logs/", "vsched convert fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl -o logs-lean/ --iteration-requests none --no-scheduled-events"))
    .action(async (inputs: string[], o: Record<string, unknown>) => {
      process.exitCode = await runConvert({
        inputs,
        out: o.out as string,
        lenient: o.lenient === true,
        versionHeader: o.versionHeader === true,
        iterationRequests: o.iterationRequests as ConvertOptions["iterationRequests"],
        iterationRequestsEvery: o.iterationRequestsEvery as number,
        scheduledEvents: o.scheduledEvents !== false,
        spreadsheetSafe: o.spreadsheetSafe === true,
        quiet: o.quiet === true,
      });
    });
}

function parsePositiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("expected a positive integer");
  return Number(v);
}

/** The command: options → replay → CSV sinks → manifest → exit code (1 when the engine reported errors in the data). */
export async function runConvert(o: ConvertOptions): Promise<number> {
  const cwd = o.cwd ?? process.cwd();
  const stderr = (o.stderr ?? process.stderr) as NodeJS.WriteStream;
  if (o.out.trim() === "") throw new UsageError("-o/--out: the output directory must not be empty");
  const plan = await planReplay(await resolveInputs(o.inputs, cwd));
  const outDisplay = o.out.replace(/\/+$/, "") || "/";
  const staged = await StagedOutputDir.create(path.resolve(cwd, o.out), outDisplay);
  const tables = new CsvTableSet(staged.staging, { versionHeader: o.versionHeader ? VERSION : null, spreadsheetSafe: o.spreadsheetSafe });
  const progress = !o.quiet && progressEnabled(stderr) ? createProgress({ total: plan.inputs.reduce((a, i) => a + i.size, 0), stream: stderr }) : NO_PROGRESS;
  const stopOnSignal = () => {
    progress.done();
    stderr.write(`vsched: interrupted; nothing written to ${outDisplay}/\n`);
    tables.destroy();
    void staged.abort().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  try {
    const result = await replay(plan, o, tables.sink, {
      afterChunk: () => (tables.needsDrain ? tables.drain() : undefined),
      shouldPause: () => tables.needsDrain,
      onRawBytes: progress.add,
      onWarning: (w) => {
        progress.done();
        warn(formatFinding(w), { file: w.file, line: w.line, code: w.code }, stderr);
      },
    });
    await tables.close();
    const rows = tables.rowCounts();
    if (tables.guard.formulaCells > 0 && !o.spreadsheetSafe) {
      const w = { code: "OUT_FORMULA_CELLS", severity: "warning", args: { count: tables.guard.formulaCells } } as const;
      result.warnings.push(w);
      warn(formatFinding(w), { code: w.code }, stderr);
    }
    const manifest = buildManifest({
      vschedVersion: VERSION,
      options: manifestOptions(o),
      epochZeroNs: result.epochZeroNs,
      rows,
      sources: result.sources,
      warnings: result.warnings.map((w) => ({ ...w, message: formatFinding(w) })),
      findings: result.findings,
    });
    await staged.writeFile("manifest.json", manifestJson(manifest));
    await staged.commit([...TABLE_NAMES.map(tableFileName), "manifest.json"]);
    progress.done();
    if (!o.quiet) stderr.write(convertedLine(result, rows, outDisplay));
    return result.findings.errors > 0 ? EXIT.findings : EXIT.ok;
  } catch (e) {
    progress.done();
    tables.destroy();
    await staged.abort();
    throw outputError(e, outDisplay);
  } finally {
    process.off("SIGINT", stopOnSignal);
  }
}

function manifestOptions(o: ConvertOptions): ManifestInput["options"] {
  return {
    lenient: o.lenient,
    versionHeader: o.versionHeader,
    iterationRequests: o.iterationRequests,
    iterationRequestsEvery: o.iterationRequestsEvery,
    scheduledEvents: o.scheduledEvents,
    spreadsheetSafe: o.spreadsheetSafe === true,
  };
}

/** `vsched: converted 1 file (…) into logs/: …`: the one line a successful convert prints. */
function convertedLine(r: ReplayResult, rows: Record<TableName, number>, outDisplay: string): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  const sum = (f: (s: ReplayResult["sources"][number]) => number) => r.sources.reduce((a, s) => a + f(s), 0);
  const records = sum((s) => Object.values(s.records).reduce((x, y) => x + y, 0));
  const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
  const f = r.findings;
  const tail = [plural(r.warnings.length, "warning"), ...(f.total ? [`${plural(f.total, "finding")} (${f.errors ? `${plural(f.errors, "error")}; ` : ""}see manifest.json)`] : [])];
  return (
    `vsched: converted ${plural(r.sources.length, "file")} (${plural(records, "record")}) into ${outDisplay}/: ` +
    `${plural(sum((s) => s.engine.requests), "request")}, ${plural(sum((s) => s.engine.iterations), "iteration")}, ` +
    `${plural(totalRows, "row")} in ${TABLE_NAMES.length} tables; ${tail.join(", ")}\n`
  );
}
