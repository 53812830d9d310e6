import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import { buildTimeline, type TimelineSink, type TimelineTotals } from "../../analysis/timeline/index.js";
import { ChromeJsonRenderer } from "../../render/perfetto/chrome-json.js";
import { ChunkedFileWriter } from "../../render/perfetto/proto.js";
import { TrackEventRenderer } from "../../render/perfetto/trackevent.js";
import { formatFinding } from "../../render/findings-text.js";
import { openTables, type TraceSource } from "../../tables/index.js";
import { InputError, UsageError } from "../errors.js";
import { warn } from "../io.js";
import { examples } from "../examples.js";

export const TIMELINE_FORMATS = ["proto", "json"] as const;
type Format = (typeof TIMELINE_FORMATS)[number];

interface TimelineCliOptions {
  out: string;
  format?: Format;
  from?: string;
  to?: string;
  requests?: string;
  lenient?: boolean;
  quiet?: boolean;
}

export function registerTimeline(program: Command): void {
  program
    .command("timeline")
    .description(
      "The run as a Perfetto trace: per DP rank an iterations track, counter tracks, and request lanes whose slices say when each request waited (and why), prefilled, decoded or was preempted. Open it at ui.perfetto.dev (docs/timeline.md).",
    )
    .argument("<inputs...>", "one logs directory written by vsched convert, or raw trace files (.jsonl, .jsonl.gz) / directories holding them")
    .requiredOption("-o, --out <file>", "output file (written whole or not at all)")
    .addOption(
      new Option("--format <format>", "proto (Perfetto's TrackEvent protobuf) or json (Chrome JSON, for small runs); default: json when -o ends in .json, else proto").choices(
        TIMELINE_FORMATS,
      ),
    )
    .option("--from <time>", "keep what overlaps the window from this time since t=0 (e.g. 90s, 1500ms)")
    .option("--to <time>", "… up to this time since t=0")
    .option("--requests <ids>", "only these requests: a comma-separated list, or @FILE with one id per line")
    .option("--lenient", "raw traces: skip malformed lines instead of stopping at the first")
    .option("-q, --quiet", "no summary line on stderr (warnings are still printed)")
    .addHelpText("after", examples("vsched timeline fixtures/e2e-vllm-cpu/trace -o run.perfetto-trace", "vsched timeline logs/ -o window.json --format json --from 1s --to 3s"))
    .action(async (inputs: string[], o: TimelineCliOptions) => {
      await runTimeline(inputs, o);
    });
}

async function runTimeline(inputs: string[], opts: TimelineCliOptions): Promise<void> {
  const o = { ...opts, format: opts.format ?? (opts.out.toLowerCase().endsWith(".json") ? "json" : "proto") } as const;
  const fromNs = o.from !== undefined ? parseTime("--from", o.from) : null;
  const toNs = o.to !== undefined ? parseTime("--to", o.to) : null;
  if (fromNs !== null && toNs !== null && toNs < fromNs) throw new UsageError(`--to ${o.to} is before --from ${o.from}`);
  const requests = o.requests !== undefined ? parseRequests(o.requests) : null;
  const source = await openTables(inputs, { lenient: o.lenient });
  const target = path.resolve(o.out);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.vsched-tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, "w");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" || code === "EPERM" ? "permission denied" : code === "EISDIR" ? "it is a directory" : code;
    throw new InputError(`cannot write the output: ${why}`, "OUT_UNWRITABLE", o.out);
  }
  let totals: TimelineTotals;
  let bytes: number;
  const stopOnSignal = () => {
    rmSync(tmp, { force: true });
    process.stderr.write(`vsched: interrupted; ${o.out} not written\n`);
    process.exit(130);
  };
  process.once("SIGINT", stopOnSignal);
  try {
    const writer = new ChunkedFileWriter((b) => writeAll(fd, b));
    const sink: TimelineSink = o.format === "json" ? new ChromeJsonRenderer(writer) : new TrackEventRenderer(writer);
    totals = await buildTimeline(source, { fromNs, toNs, requests }, sink);
    bytes = writer.bytes;
    closeSync(fd);
    renameSync(tmp, target);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    process.off("SIGINT", stopOnSignal);
  }
  const replayed = "lastReplay" in source ? (source as TraceSource).lastReplay : null;
  for (const w of replayed?.warnings ?? []) warn(formatFinding(w), { file: w.file, line: w.line, code: w.code });
  const say = (code: string, args: Record<string, string | number> = {}) => warn(formatFinding({ code, args }), { code });
  if (replayed && replayed.findings.errors > 0) say("TIMELINE_ENGINE_ERRORS", { count: replayed.findings.errors, inputs: inputs.join(" ") });
  if (!totals.causes) say("TIMELINE_NO_CAUSES");
  if (totals.requested_missing > 0) say("TIMELINE_REQUESTS_MISSING", { count: totals.requested_missing });
  if (!o.quiet) {
    process.stderr.write(
      `vsched: wrote ${o.out} (${o.format}, ${formatBytes(bytes)}): ${plural(totals.requests, "request")}, ${plural(totals.iterations, "iteration")}, ${plural(totals.flows, "preemption flow")}\n`,
    );
  }
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, min: 60e9 };

/** `90s`, `1500ms`, `0` → ns since t=0 */
export function parseTime(flag: string, text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s|min)?\s*$/i.exec(text);
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) {
    throw new UsageError(`${flag}: cannot read '${text}'; expected a time since t=0 with a unit (ns, us, ms, s, min), e.g. ${flag} 90s`);
  }
  return Math.round(Number(m[1]) * (m[2] ? UNITS[m[2].toLowerCase()] : 1));
}

function parseRequests(text: string): Set<string> {
  let ids: string[];
  if (text.startsWith("@")) {
    const file = text.slice(1);
    if (!existsSync(file)) throw new InputError("no such file (--requests @FILE: one request id per line)", "REQUESTS_FILE_NOT_FOUND", file);
    ids = readFileSync(file, "utf8").split(/\r?\n/);
  } else ids = text.split(",");
  const set = new Set(ids.map((s) => s.trim()).filter((s) => s !== ""));
  if (set.size === 0) throw new UsageError("--requests: no request id given (a comma-separated list, or @FILE)");
  return set;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
