import os from "node:os";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type { EngineOptions } from "../../engine/types.js";
import { resolveInputs } from "../../parse/inputs.js";
import { planReplay, replay, type ReplayPlan, type ReplayResult } from "../../pipeline/replay.js";
import { ThreadedReplay } from "../../threads/threaded-replay.js";
import { formatFinding } from "../../render/findings-text.js";
import { csvFileName, MANIFEST_FILE, type PartitionColumn } from "../../logs/layout.js";
import { CsvTableSet } from "../../sinks/csv-tables.js";
import { ParquetTableSet } from "../../sinks/parquet-tables.js";
import { TeeTableSet, type TableSetLike } from "../../sinks/table-sets.js";
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
  /** which files: CSV (default), Parquet, or both */
  format?: OutputFormat;
  /** Parquet only: hive-style directories per value of this column */
  partitionBy?: PartitionColumn | null;
  /** worker threads (default: one per input, up to os.availableParallelism()); 1 converts on the main thread alone */
  threads?: number;
  /** for tests: the directory inputs and -o are relative to, and where diagnostics go */
  cwd?: string;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export type OutputFormat = "csv" | "parquet" | "both";

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
    .addOption(new Option("--format <format>", "tables as CSV, Parquet (typed, compressed) or both").choices(["csv", "parquet", "both"]).default("csv"))
    .addOption(new Option("--partition-by <column>", "Parquet: one hive-style directory per value, e.g. per_request/dp_rank=0/part-0.parquet").choices(["dp_rank"]))
    .option("--threads <n>", "threads to convert on (default: one per input, up to the available cores); inputs convert in parallel and CSV encoding runs beside the replay; 1 = one thread; the output is the same bytes for any n", parsePositiveInt)
    .option("-q, --quiet", "no progress bar and no summary line (warnings are still printed)")
    .addHelpText("after", examples("vsched convert fixtures/e2e-vllm-cpu/trace -o logs/", "vsched convert fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl -o logs-lean/ --iteration-requests none --no-scheduled-events", "vsched convert fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl fixtures/dp-rank-1/vsched-1-dp1.jsonl -o logs-dp/ --threads 2"))
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
        format: o.format as OutputFormat,
        partitionBy: (o.partitionBy as PartitionColumn | undefined) ?? null,
        threads: o.threads as number | undefined,
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
  const format = o.format ?? "csv";
  if (o.partitionBy && format === "csv") throw new UsageError("--partition-by applies to Parquet output: add --format parquet or --format both");
  const plan = await planReplay(await resolveInputs(o.inputs, cwd));
  const outDisplay = o.out.replace(/\/+$/, "") || "/";
  const staged = await StagedOutputDir.create(path.resolve(cwd, o.out), outDisplay);
  // measured (bench/convert-threads.mjs): on one input the threaded path costs more CPU and
  // memory than it saves, so threads go to inputs (one per data-parallel rank) by default
  const threads = o.threads ?? Math.min(os.availableParallelism(), plan.inputs.length);
  const csv = format === "parquet" ? null : { versionHeader: o.versionHeader ? VERSION : null, spreadsheetSafe: o.spreadsheetSafe === true };
  const parquet = format === "csv" ? null : new ParquetTableSet(staged.staging, { vschedVersion: VERSION, partitionBy: o.partitionBy ?? null });
  const progress = !o.quiet && progressEnabled(stderr) ? createProgress({ total: plan.inputs.reduce((a, i) => a + i.size, 0), stream: stderr }) : NO_PROGRESS;
  const onWarning = (w: ReplayResult["warnings"][number]) => {
    progress.done();
    warn(formatFinding(w), { file: w.file, line: w.line, code: w.code }, stderr);
  };
  const run = threads > 1 ? threadedRun(plan, o, staged.staging, csv, parquet, threads, progress === NO_PROGRESS ? undefined : progress.add, onWarning) : singleRun(plan, o, staged.staging, csv, parquet, progress.add, onWarning);
  const stopOnSignal = () => {
    progress.done();
    stderr.write(`vsched: interrupted; nothing written to ${outDisplay}/\n`);
    run.destroy();
    void staged.abort().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);
  try {
    const { result, rows, formulaCells } = await run.done;
    if (csv && formulaCells > 0 && !o.spreadsheetSafe) {
      const w = { code: "OUT_FORMULA_CELLS", severity: "warning", args: { count: formulaCells } } as const;
      result.warnings.push(w);
      warn(formatFinding(w), { code: w.code }, stderr);
    }
    // records lost to the emitter's buffer cap: the tables are usable (exit 0), but the user must see it
    for (const src of result.sources) {
      if (src.engine.droppedByEmitter > 0) {
        const w = { code: "ENGINE_EMITTER_DROPPED", severity: "warning", file: src.path, args: { count: src.engine.droppedByEmitter } } as const;
        warn(formatFinding(w), { file: w.file, code: w.code }, stderr);
      }
    }
    const manifest = buildManifest({
      vschedVersion: VERSION,
      options: manifestOptions(o),
      epochZeroNs: result.epochZeroNs,
      rows,
      sources: result.sources,
      warnings: result.warnings.map((w) => ({ ...w, message: formatFinding(w) })),
      findings: result.findings,
      csv: csv !== null,
      parquet: parquet && { files: parquet.files(), partitionBy: parquet.partitionBy },
    });
    await staged.writeFile(MANIFEST_FILE, manifestJson(manifest));
    await staged.commit([...(csv ? TABLE_NAMES.map(csvFileName) : []), ...(parquet?.entries() ?? []), MANIFEST_FILE]);
    progress.done();
    if (!o.quiet) stderr.write(convertedLine(result, rows, outDisplay));
    return result.findings.errors > 0 ? EXIT.findings : EXIT.ok;
  } catch (e) {
    progress.done();
    run.destroy();
    await staged.abort();
    throw outputError(e, outDisplay);
  } finally {
    process.off("SIGINT", stopOnSignal);
  }
}

interface TablesRun {
  done: Promise<{ result: ReplayResult; rows: Record<TableName, number>; formulaCells: number }>;
  /** after a failure or an interrupt: stop, and release the files (their content is discarded) */
  destroy(): void;
}

type CsvChoice = { versionHeader: string | null; spreadsheetSafe: boolean } | null;

/** --threads 1: reader, engine and writers on this thread, one input after another. */
function singleRun(plan: ReplayPlan, o: ConvertOptions, dir: string, csvChoice: CsvChoice, parquet: ParquetTableSet | null, onRawBytes: (n: number) => void, onWarning: (w: ReplayResult["warnings"][number]) => void): TablesRun {
  const csv = csvChoice && new CsvTableSet(dir, csvChoice);
  const tables: TableSetLike = new TeeTableSet([csv, parquet].filter((s) => s !== null));
  const done = (async () => {
    const result = await replay(plan, o, tables.sink, {
      afterChunk: () => (tables.needsDrain ? tables.drain() : undefined),
      shouldPause: () => tables.needsDrain,
      onRawBytes,
      onWarning,
    });
    await tables.close();
    return { result, rows: tables.rowCounts(), formulaCells: csv?.guard.formulaCells ?? 0 };
  })();
  return { done, destroy: () => tables.destroy() };
}

/** --threads n > 1: src/threads/ (one worker per input, CSV encoders beside them); the same bytes. */
function threadedRun(plan: ReplayPlan, o: ConvertOptions, dir: string, csv: CsvChoice, parquet: ParquetTableSet | null, threads: number, onRawBytes: ((n: number) => void) | undefined, onWarning: (w: ReplayResult["warnings"][number]) => void): TablesRun {
  const t = new ThreadedReplay(plan, o, { csv: csv && { dir, ...csv }, rows: parquet }, threads, { onRawBytes, onWarning });
  const done = (async () => {
    const r = await t.run();
    await parquet?.close();
    return r;
  })();
  return {
    done,
    destroy: () => {
      t.destroy();
      parquet?.destroy();
    },
  };
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
