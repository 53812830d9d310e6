import type { Command } from "commander";
import { buildTimeline } from "../../analysis/timeline.js";
import { OtlpJsonRenderer } from "../../render/otlp/otlp-json.js";
import { formatFinding } from "../../render/findings-text.js";
import { openTables, type TraceSource } from "../../tables/index.js";
import { VERSION } from "../../version.js";
import { warn } from "../io.js";
import { examples } from "../examples.js";
import { writeStagedFile } from "../staged-file.js";

interface ExportCliOptions {
  otlp: string;
  serviceName: string;
  lenient?: boolean;
  quiet?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "The run in another tool's format. --otlp: OpenTelemetry spans as OTLP/JSON lines (what an OTel collector's file exporter reads): each request a trace whose llm_request span has children queue (one per waiting interval, with its cause), prefill, decode and preempted, and per rank a scheduler span with one step span per iteration (docs/otlp.md).",
    )
    .argument("<inputs...>", "one logs directory written by vsched convert, or raw trace files (.jsonl, .jsonl.gz) / directories holding them")
    .requiredOption("--otlp <file>", "write OTLP/JSON here (one ExportTraceServiceRequest per line; written whole or not at all)")
    .option("--service-name <name>", "the resource's service.name", "vllm")
    .option("--lenient", "raw traces: skip malformed lines instead of stopping at the first")
    .option("-q, --quiet", "no summary line on stderr (warnings are still printed)")
    .addHelpText("after", examples("vsched export fixtures/e2e-vllm-cpu/trace --otlp run.otlp.jsonl", "vsched export logs/ --otlp spans.jsonl --service-name my-vllm"))
    .action(async (inputs: string[], o: ExportCliOptions) => {
      const source = await openTables(inputs, { lenient: o.lenient });
      const epochZeroNs = BigInt(source.info.epochZeroNs ?? "0");
      const { totals, spans } = await writeStagedFile(o.otlp, o.otlp, async (write) => {
        const sink = new OtlpJsonRenderer(write, { epochZeroNs, serviceName: o.serviceName, scopeVersion: VERSION });
        const totals = await buildTimeline(source, { fromNs: null, toNs: null, requests: null }, sink);
        return { totals, spans: sink.spans };
      });
      const replayed = "lastReplay" in source ? (source as TraceSource).lastReplay : null;
      for (const w of replayed?.warnings ?? []) warn(formatFinding(w), { file: w.file, line: w.line, code: w.code });
      if (!totals.causes) warn(formatFinding({ code: "TIMELINE_NO_CAUSES", args: {} }), { code: "TIMELINE_NO_CAUSES" });
      if (!o.quiet) process.stderr.write(`vsched: wrote ${o.otlp} (OTLP/JSON): ${spans} spans, ${totals.requests} requests, ${totals.iterations} steps\n`);
    });
}
