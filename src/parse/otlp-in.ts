import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InputError } from "../core/errors.js";
import { buildRecords, num, reqId, type Attrs, type OtlpEvent } from "./otlp-records.js";

/**
 * OTLP/JSON in (seed 004 §5): vLLM's journey tracing (request events QUEUED, SCHEDULED,
 * FIRST_TOKEN, PREEMPTED, FINISHED) and step tracing (step.BATCH_SUMMARY,
 * step.REQUEST_SNAPSHOT), as an OTel collector's file exporter writes them, turned into a
 * raw trace of the emitter's schema (level summary) that the engine replays like any
 * other. What the translation assumes and what stays empty is in docs/otlp.md. The file
 * is read whole: OTLP spans arrive in completion order, not in time order.
 */

const JOURNEY = new Set(["QUEUED", "SCHEDULED", "FIRST_TOKEN", "PREEMPTED", "FINISHED"]);

/** true when the file starts like an OTLP/JSON export (`{"resourceSpans"`) */
export async function isOtlpJson(file: string): Promise<boolean> {
  // a file that cannot be opened is not sniffed: the trace reader reports it
  const fh = await open(file, "r").catch(() => null);
  if (!fh) return false;
  try {
    const b = Buffer.alloc(64);
    const { bytesRead } = await fh.read(b, 0, 64, 0);
    return /^\s*\{\s*"resourceSpans"/.test(b.subarray(0, bytesRead).toString("utf8"));
  } finally {
    await fh.close();
  }
}

function value(v: Record<string, unknown> | undefined): string | number | boolean | null {
  if (!v) return null;
  if ("stringValue" in v) return String(v.stringValue);
  if ("intValue" in v) {
    // epoch ns exceed 2^53: such values stay decimal strings (read with BigInt)
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("boolValue" in v) return Boolean(v.boolValue);
  return null;
}

function attrsOf(list: unknown): Attrs {
  const m: Attrs = new Map();
  for (const a of Array.isArray(list) ? (list as { key: string; value: Record<string, unknown> }[]) : []) {
    const v = value(a.value);
    if (v !== null) m.set(a.key, v);
  }
  return m;
}

/** Every span event of the file, with its span's and resource's attributes. */
function readEvents(text: string, display: string): { events: OtlpEvent[]; resource: Attrs; spans: number } {
  const events: OtlpEvent[] = [];
  const resource: Attrs = new Map();
  let spans = 0;
  const lines = text.trim().startsWith("{") ? text.split("\n").filter((l) => l.trim()) : [];
  lines.forEach((line, i) => {
    let doc: { resourceSpans?: unknown[] };
    try {
      doc = JSON.parse(line);
    } catch {
      throw new InputError("not OTLP/JSON: a line that is not one JSON ExportTraceServiceRequest", "OTLP_INVALID", display, i + 1);
    }
    for (const rs of (doc.resourceSpans ?? []) as { resource?: { attributes?: unknown }; scopeSpans?: { spans?: unknown[] }[] }[]) {
      for (const [k, v] of attrsOf(rs.resource?.attributes)) resource.set(k, v);
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of (ss.spans ?? []) as { attributes?: unknown; events?: { timeUnixNano?: string | number; name?: string; attributes?: unknown }[] }[]) {
          spans++;
          const spanAttrs = attrsOf(span.attributes);
          for (const e of span.events ?? []) {
            if (e.timeUnixNano === undefined || !e.name) continue;
            events.push({ t: BigInt(e.timeUnixNano), name: e.name.replace(/^journey\./, ""), attrs: attrsOf(e.attributes), span: spanAttrs });
          }
        }
      }
    }
  });
  return { events, resource, spans };
}


/** The OTLP file as raw trace records (header first), in the order an emitter would write them. */
export async function otlpToRecords(file: string, display: string): Promise<Record<string, unknown>[]> {
  const { events, resource, spans } = readEvents(await readFile(file, "utf8"), display);
  const summaries = new Map<number, OtlpEvent>();
  const snapshots = new Map<number, Map<string, Attrs>>();
  const journey = events.filter((e) => JOURNEY.has(e.name) && reqId(e) !== null);
  for (const e of events) {
    const step = num(e.attrs, "step.id");
    if (step === null) continue;
    if (e.name === "step.BATCH_SUMMARY") summaries.set(step, e);
    if (e.name === "step.REQUEST_SNAPSHOT") {
      if (!snapshots.has(step)) snapshots.set(step, new Map());
      snapshots.get(step)!.set(String(e.attrs.get("request.id")), e.attrs);
    }
  }
  if (!summaries.size) {
    const why = spans ? "it has request spans but no step tracing (step.BATCH_SUMMARY events)" : "it holds no spans";
    throw new InputError(`OTLP/JSON that vsched cannot replay: ${why}; record with --step-tracing-enabled --step-tracing-sample-rate 1.0 --step-tracing-rich-subsample-rate 1.0 (docs/otlp.md)`, "OTLP_NO_STEPS", display);
  }
  const steps = [...summaries.keys()].sort((a, b) => a - b);
  // every step from 0, each scheduling step with its request snapshots
  const gap = steps.findIndex((s, i) => s !== i || (!snapshots.has(s) && num(summaries.get(s)!.attrs, "batch.scheduled_tokens") !== 0));
  if (gap >= 0) {
    const what = steps[gap] !== gap ? `step ${gap} missing` : `the request snapshots of step ${gap} missing`;
    throw new InputError(`OTLP/JSON with sampled steps (${what}): vsched replays every step; record with --step-tracing-sample-rate 1.0 --step-tracing-rich-subsample-rate 1.0 (docs/otlp.md)`, "OTLP_SAMPLED", display);
  }
  const anchor = events.reduce((m, e) => (e.t < m ? e.t : m), events[0].t);
  const rel = (t: bigint) => Number(t - anchor);
  const first = summaries.get(steps[0])!.attrs;
  const totalBlocks = num(first, "kv.blocks_total_gpu") ?? 0;
  const maxBatched = num(resource, "vllm.config.max_num_batched_tokens") ?? Math.max(...steps.map((s) => num(summaries.get(s)!.attrs, "batch.scheduled_tokens") ?? 0));
  const header = {
    type: "header",
    schema_version: "1.0",
    emitter_version: "otlp-json",
    vllm_version: String(resource.get("service.version") ?? "unknown"),
    pid: 0,
    dp_rank: num(resource, "vllm.dp_rank") ?? 0,
    level: "summary",
    clock: { epoch_ns: anchor.toString(), monotonic_ns: anchor.toString() },
    config: {
      scheduler_class: "unknown (OTLP input)",
      policy: String(resource.get("vllm.config.policy") ?? "fcfs"),
      max_num_seqs: num(resource, "vllm.config.max_num_seqs") ?? Math.max(...steps.map((s) => num(summaries.get(s)!.attrs, "queue.running_depth") ?? 0)),
      max_num_batched_tokens: maxBatched,
      max_model_len: num(resource, "vllm.config.max_model_len") ?? 0,
      max_loras: null,
      num_gpu_blocks: totalBlocks,
      block_size: num(resource, "vllm.config.block_size") ?? 16,
      bytes_per_block: null,
      enable_chunked_prefill: true,
      enable_prefix_caching: resource.get("vllm.config.enable_prefix_caching") === true,
      async_scheduling: false,
      long_prefill_token_threshold: 0,
      num_spec_tokens: 0,
      log_stats: true,
    },
    capabilities: {},
    not_captured: [
      { what: "waiting causes", why: "OTLP step tracing has no skip or stop causes: waits are labelled from counts only (level summary)" },
      { what: "schedule() duration", why: "step.BATCH_SUMMARY has the step's start and end, not schedule()'s return" },
    ],
  };
  return [header, ...buildRecords(steps, summaries, snapshots, journey, rel, maxBatched)];
}

const temps: string[] = [];

/**
 * An OTLP/JSON input stands in the pipeline as the raw trace it translates to: a temporary
 * JSONL file (removed at exit) that every reader reads as it reads the emitter's files.
 * Messages keep naming the OTLP file.
 */
export async function asTraceFile<T extends { path: string; display: string; size: number }>(input: T): Promise<T> {
  if (!(await isOtlpJson(input.path))) return input;
  const records = await otlpToRecords(input.path, input.display);
  const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-otlp-"));
  if (!temps.length) process.once("exit", () => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));
  temps.push(dir);
  const file = path.join(dir, path.basename(input.path).replace(/\.json$/, "") + ".jsonl");
  const text = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
  writeFileSync(file, text);
  return { ...input, path: file, size: Buffer.byteLength(text) };
}
