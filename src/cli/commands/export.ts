import type { Command } from "commander";
import { buildTimeline } from "../../analysis/timeline/index.js";
import { OtlpJsonRenderer } from "../../render/otlp/otlp-json.js";
import { SeedEvents } from "../../render/otlp/otlp-seed-events.js";
import type { RunInfo } from "../../tables/types.js";
import { formatFinding } from "../../render/findings-text.js";
import { openTables, type TraceSource } from "../../tables/index.js";
import { VERSION } from "../../version.js";
import { warn } from "../io.js";
import { examples } from "../examples.js";
import { writeFileAtomicStreamed } from "../../sinks/write-file-atomic.js";

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
      const { totals, spans } = await writeFileAtomicStreamed(o.otlp, o.otlp, async (write) => {
        const sink = new OtlpJsonRenderer(write, { epochZeroNs, serviceName: o.serviceName, scopeVersion: VERSION, config: configAttributes(source.info) });
        const totals = await buildTimeline(source, { fromNs: null, toNs: null, requests: null }, sink);
        // one rank: also seed 004's journey and step events, which convert reads back
        if (source.info.sources.length === 1) {
          const seed = new SeedEvents((_scope, name, events) => sink.eventSpan(source.info.sources[0].header.dp_rank, name, events), epochZeroNs.toString());
          await source.scan({ events: (r) => seed.onEvent(r) });
          await source.scan({ per_iteration: (r) => seed.onIteration(r), per_iteration_requests: (r) => seed.onIterationRequest(r) });
          seed.end();
        }
        sink.finish();
        return { totals, spans: sink.spans };
      });
      const replayed = "lastReplay" in source ? (source as TraceSource).lastReplay : null;
      for (const w of replayed?.warnings ?? []) warn(formatFinding(w), { file: w.file, line: w.line, code: w.code });
      if (!totals.causes) warn(formatFinding({ code: "TIMELINE_NO_CAUSES", args: {} }), { code: "TIMELINE_NO_CAUSES" });
      if (!o.quiet) process.stderr.write(`vsched: wrote ${o.otlp} (OTLP/JSON): ${spans} spans, ${totals.requests} requests, ${totals.iterations} steps\n`);
    });
}

/** what convert's OTLP reader takes from the resource (docs/otlp.md) */
function configAttributes(info: RunInfo): Record<string, number | string> {
  const h = info.sources[0]?.header;
  if (!h || info.sources.length !== 1) return {};
  return {
    "service.version": h.vllm_version,
    "vllm.dp_rank": h.dp_rank,
    "vllm.config.max_num_seqs": h.config.max_num_seqs,
    "vllm.config.max_num_batched_tokens": h.config.max_num_batched_tokens,
    "vllm.config.block_size": h.config.block_size,
    "vllm.config.max_model_len": h.config.max_model_len,
    "vllm.config.policy": h.config.policy,
  };
}
