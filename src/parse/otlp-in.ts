import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InputError } from "../core/errors.js";

/**
 * OTLP/JSON in (seed 004 §5): vLLM's journey tracing (request events QUEUED, SCHEDULED,
 * FIRST_TOKEN, PREEMPTED, FINISHED) and step tracing (step.BATCH_SUMMARY,
 * step.REQUEST_SNAPSHOT), as an OTel collector's file exporter writes them, turned into a
 * raw trace of the emitter's schema (level summary) that the engine replays like any
 * other. What the translation assumes and what stays empty is in docs/otlp.md. The file
 * is read whole: OTLP spans arrive in completion order, not in time order.
 */
type Attrs = Map<string, string | number | boolean>;
interface OtlpEvent {
  t: bigint;
  name: string;
  attrs: Attrs;
  span: Attrs;
}

const JOURNEY = new Set(["QUEUED", "SCHEDULED", "FIRST_TOKEN", "PREEMPTED", "FINISHED"]);
const FINISH: Record<string, string> = { stopped: "stop", stop: "stop", length: "length", aborted: "abort", abort: "abort", ignored: "ignored", error: "error" };

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

const num = (a: Attrs, k: string): number | null => (typeof a.get(k) === "number" ? (a.get(k) as number) : null);
const reqId = (e: OtlpEvent): string | null => {
  const v = e.attrs.get("request.id") ?? e.span.get("request.id") ?? e.span.get("gen_ai.request.id");
  return v === undefined ? null : String(v);
};

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

function buildRecords(
  steps: number[],
  summaries: Map<number, OtlpEvent>,
  snapshots: Map<number, Map<string, Attrs>>,
  journey: OtlpEvent[],
  rel: (t: bigint) => number,
  maxBatched: number,
): Record<string, unknown>[] {
  const byStep = new Map<number, OtlpEvent[]>();
  const out: { t: number; order: number; rec: Record<string, unknown> }[] = [];
  const admitted = new Set<string>();
  for (const e of journey) {
    const s = num(e.attrs, "scheduler.step");
    if (e.name === "QUEUED") {
      out.push({
        t: rel(e.t),
        order: 0,
        rec: { type: "arrival", t: rel(e.t), req: reqId(e), vllm_arrival_epoch_ns: null, prompt_tokens: num(e.attrs, "prefill_total_tokens") ?? 0, max_tokens: num(e.attrs, "decode_max_tokens"), priority: 0, lora: null, status: "WAITING" },
      });
    } else if (s !== null) {
      if (!byStep.has(s)) byStep.set(s, []);
      byStep.get(s)!.push(e);
      if (e.name === "SCHEDULED") admitted.add(reqId(e)!);
    } else if (e.name === "FINISHED") {
      // finished outside a step (aborted while waiting)
      out.push({ t: rel(e.t), order: 3, rec: { type: "finish", t: rel(e.t), req: reqId(e), reason: FINISH[String(e.attrs.get("finish.status"))] ?? "abort", output_tokens: num(e.attrs, "decode_done_tokens") ?? 0, from: admitted.has(reqId(e)!) ? "running" : "waiting" } });
    }
  }
  for (const s of steps) {
    const sum = summaries.get(s)!.attrs;
    const snaps = snapshots.get(s) ?? new Map<string, Attrs>();
    const evs = byStep.get(s) ?? [];
    const sched = [...snaps].filter(([, a]) => (num(a, "request.scheduled_tokens_this_step") ?? 0) > 0).map(([id, a]) => {
      const n = num(a, "request.scheduled_tokens_this_step")!;
      return [id, n, (num(a, "request.num_computed_tokens") ?? n) - n] as [string, number, number];
    });
    const before = new Map(sched.map(([id, , b]) => [id, b]));
    const admittedAs = (kind: string) => evs.filter((e) => e.name === "SCHEDULED" && String(e.attrs.get("schedule.kind") ?? "FIRST") === kind).map((e) => [reqId(e), before.get(reqId(e)!) ?? 0]);
    // vLLM stamps SCHEDULED and PREEMPTED events with the step's scheduled_timestamp
    const scheduledAt = evs.find((e) => e.name === "SCHEDULED" || e.name === "PREEMPTED");
    const tStart = rel(BigInt(String(sum.get("step.ts_start_ns") ?? 0)));
    const tEnd = rel(BigInt(String(sum.get("step.ts_end_ns") ?? sum.get("step.ts_start_ns") ?? 0)));
    const total = num(sum, "kv.blocks_total_gpu") ?? 0;
    const free = num(sum, "kv.blocks_free_gpu") ?? total;
    const waiting = num(sum, "queue.waiting_depth") ?? 0;
    const running = num(sum, "queue.running_depth") ?? 0;
    const finished = evs.filter((e) => e.name === "FINISHED").map((e) => [reqId(e), FINISH[String(e.attrs.get("finish.status"))] ?? "stop", num(e.attrs, "decode_done_tokens") ?? 0]);
    out.push({
      t: tStart,
      order: 1,
      rec: {
        type: "step",
        step: s,
        t_start: tStart,
        t_end: tStart,
        sched_t: scheduledAt ? rel(scheduledAt.t) : null,
        sched,
        new: admittedAs("FIRST"),
        resumed: admittedAs("RESUME"),
        preempted: evs.filter((e) => e.name === "PREEMPTED").map(reqId),
        kv_fail: [],
        free_blocks: free,
        // after schedule(): the scheduled requests are the running list; the queue as after the step
        running: sched.length,
        waiting,
        budget_left: maxBatched - sched.reduce((a, [, n]) => a + n, 0),
      },
    });
    // without speculative decoding a scheduled request samples one token once all its
    // prompt and earlier output are computed (a recomputing request only then)
    const tokens = [...snaps]
      .filter(([, a]) => (num(a, "request.scheduled_tokens_this_step") ?? 0) > 0 && (num(a, "request.num_computed_tokens") ?? 0) >= (num(a, "request.num_prompt_tokens") ?? 0) + (num(a, "request.num_output_tokens") ?? 0))
      .map(([id]) => [id, 1]);
    out.push({ t: tEnd, order: 2, rec: { type: "update", step: s, t_start: tEnd, t_end: tEnd, out_t: tEnd, tokens, finished, free_blocks: free, running, waiting } });
  }
  out.sort((a, b) => a.t - b.t || a.order - b.order);
  const last = out.length ? out[out.length - 1].t : 0;
  return [...out.map((o) => o.rec), { type: "end", t: last, steps: steps.length, records: out.length + 2, dropped: 0 }];
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
