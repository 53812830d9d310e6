import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { createEngine } from "../../engine/index.js";
import type { EngineOptions } from "../../engine/types.js";
import { resolveInputs } from "../../parse/inputs.js";
import { formatFinding } from "../../report/findings-text.js";
import { readTraceFile, readTraceHeader } from "../../parse/node.js";
import { explainRecordFailure } from "../../parse/records.js";
import type { RawRecord } from "../../schema/raw.js";
import { CsvTableSet, tableFileName } from "../../report/csv-tables.js";
import { ParquetTableSet, type PartitionColumn } from "../../sinks/parquet-tables.js";
import { TeeTableSet, type TableSetLike } from "../../sinks/table-sets.js";
import { buildManifest, FindingCollector, manifestJson, type ManifestInput, type ManifestSource } from "../../report/manifest.js";
import { createProgress, NO_PROGRESS } from "../../report/progress.js";
import { TABLE_NAMES } from "../../schema/tables.js";
import { VERSION } from "../../version.js";
import { EXIT, UsageError } from "../errors.js";
import { progressEnabled, StagedOutputDir, warn } from "../io.js";

export interface ConvertOptions {
  inputs: string[];
  out: string;
  lenient: boolean;
  versionHeader: boolean;
  iterationRequests: EngineOptions["iterationRequests"];
  iterationRequestsEvery: number;
  scheduledEvents: boolean;
  quiet: boolean;
  /** which files: CSV (default), Parquet, or both */
  format?: OutputFormat;
  /** Parquet only: hive-style directories per value of this column */
  partitionBy?: PartitionColumn | null;
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
    .addOption(new Option("--format <format>", "tables as CSV, Parquet (typed, compressed) or both").choices(["csv", "parquet", "both"]).default("csv"))
    .addOption(new Option("--partition-by <column>", "Parquet: one hive-style directory per value, e.g. per_request/dp_rank=0/part-0.parquet").choices(["dp_rank"]))
    .option("-q, --quiet", "no progress bar and no summary line (warnings are still printed)")
    .action(async (inputs: string[], o: Record<string, unknown>) => {
      process.exitCode = await runConvert({
        inputs,
        out: o.out as string,
        lenient: o.lenient === true,
        versionHeader: o.versionHeader === true,
        iterationRequests: o.iterationRequests as ConvertOptions["iterationRequests"],
        iterationRequestsEvery: o.iterationRequestsEvery as number,
        scheduledEvents: o.scheduledEvents !== false,
        quiet: o.quiet === true,
        format: o.format as OutputFormat,
        partitionBy: (o.partitionBy as PartitionColumn | undefined) ?? null,
      });
    });
}

function parsePositiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("expected a positive integer");
  return Number(v);
}

/** The command: returns the exit code (0, or 1 when the engine reported errors in the data). */
export async function runConvert(o: ConvertOptions): Promise<number> {
  const cwd = o.cwd ?? process.cwd();
  const stderr = o.stderr ?? process.stderr;
  const format = o.format ?? "csv";
  if (o.partitionBy && format === "csv") throw new UsageError("--partition-by applies to Parquet output: add --format parquet or --format both");
  const inputs = await resolveInputs(o.inputs, cwd);
  const headers = [];
  for (const input of inputs) headers.push(await readTraceHeader(input));
  // t=0 of the output: the earliest anchor. BigInt: epoch ns exceed 2^53; the
  // differences between ranks' anchors do not, so each engine gets a plain number.
  const epochs = headers.map((h) => BigInt(h.clock.epoch_ns));
  const epochZeroNs = epochs.reduce((a, b) => (b < a ? b : a));

  const outDisplay = o.out.replace(/\/+$/, "") || "/";
  const staged = await StagedOutputDir.create(path.resolve(cwd, o.out), outDisplay);
  const csv = format === "parquet" ? null : new CsvTableSet(staged.staging, { versionHeader: o.versionHeader ? VERSION : null });
  const parquet = format === "csv" ? null : new ParquetTableSet(staged.staging, { vschedVersion: VERSION, partitionBy: o.partitionBy ?? null });
  const tables: TableSetLike = new TeeTableSet([csv, parquet].filter((s) => s !== null));
  const show = !o.quiet && progressEnabled(stderr);
  const progress = show ? createProgress({ total: inputs.reduce((a, i) => a + i.size, 0), stream: stderr as NodeJS.WriteStream }) : NO_PROGRESS;
  const stopOnSignal = () => {
    progress.done();
    stderr.write(`vsched: interrupted; nothing written to ${outDisplay}/\n`);
    tables.destroy();
    void staged.abort().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopOnSignal);

  const sources: ManifestSource[] = [];
  const warnings: ManifestInput["warnings"] = [];
  const findings = new FindingCollector();
  try {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      const timeOffsetNs = Number(epochs[i] - epochZeroNs);
      const engine = createEngine(
        headers[i],
        { ...tables.sink, finding: findings.add },
        {
          timeOffsetNs,
          epochZeroNs,
          iterationRequests: o.iterationRequests,
          iterationRequestsEvery: o.iterationRequestsEvery,
          scheduledEvents: o.scheduledEvents,
          file: input.relative,
        },
      );
      const push = (rec: RawRecord, line: number) => {
        try {
          engine.push(rec, line);
        } catch (e) {
          throw explainRecordFailure(rec, input.display, line, e);
        }
      };
      const r = await readTraceFile(input, { lenient: o.lenient }, push, {
        afterChunk: () => (tables.needsDrain ? tables.drain() : undefined),
        onRawBytes: progress.add,
      });
      const totals = engine.end();
      for (const w of r.warnings) {
        const message = formatFinding(w);
        warnings.push({ ...w, file: input.relative, message });
        progress.done();
        warn(message, { file: w.file, line: w.line, code: w.code }, stderr as NodeJS.WriteStream);
      }
      sources.push({
        path: input.relative,
        bytes: r.bytes,
        sha256: r.sha256,
        gzip: r.gzip,
        timeOffsetNs,
        header: headers[i],
        records: r.records,
        unknownTypes: r.unknownTypes,
        skippedLines: r.skippedLines,
        skippedLineNumbers: r.skippedLineNumbers,
        truncatedTail: r.truncatedTail,
        engine: totals,
      });
    }
    await tables.close();
    const rows = tables.rowCounts();
    const manifest = buildManifest({
      vschedVersion: VERSION,
      options: {
        lenient: o.lenient,
        versionHeader: o.versionHeader,
        iterationRequests: o.iterationRequests,
        iterationRequestsEvery: o.iterationRequestsEvery,
        scheduledEvents: o.scheduledEvents,
      },
      epochZeroNs,
      rows,
      sources,
      warnings,
      findings,
      csv: csv !== null,
      parquet: parquet && { files: parquet.files(), partitionBy: parquet.partitionBy },
    });
    await staged.writeFile("manifest.json", manifestJson(manifest));
    await staged.commit([...(csv ? TABLE_NAMES.map(tableFileName) : []), ...(parquet?.entries() ?? []), "manifest.json"]);
    progress.done();

    const errors = findings.errors;
    if (!o.quiet) {
      const records = sources.reduce((a, s) => a + Object.values(s.records).reduce((x, y) => x + y, 0), 0);
      const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
      const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
      const tail = [plural(warnings.length, "warning"), ...(findings.total ? [`${plural(findings.total, "finding")} (${errors ? `${plural(errors, "error")}; ` : ""}see manifest.json)`] : [])];
      stderr.write(
        `vsched: converted ${plural(inputs.length, "file")} (${plural(records, "record")}) into ${outDisplay}/: ` +
          `${plural(sources.reduce((a, s) => a + s.engine.requests, 0), "request")}, ${plural(sources.reduce((a, s) => a + s.engine.iterations, 0), "iteration")}, ` +
          `${plural(totalRows, "row")} in ${TABLE_NAMES.length} tables; ${tail.join(", ")}\n`,
      );
    }
    return errors > 0 ? EXIT.findings : EXIT.ok;
  } catch (e) {
    progress.done();
    tables.destroy();
    await staged.abort();
    throw e;
  } finally {
    process.off("SIGINT", stopOnSignal);
  }
}
