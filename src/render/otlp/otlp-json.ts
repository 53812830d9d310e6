import { createHash } from "node:crypto";
import type { ChildSlice, IterationSlice, RequestSlice, TimelineProcess, TimelineSink, TimelineTotals } from "../../analysis/timeline/types.js";
import { TIMELINE_COUNTERS } from "../../analysis/timeline/types.js";

/**
 * The timeline as OpenTelemetry spans in OTLP/JSON, the form an OTel collector's file
 * exporter writes and reads (one ExportTraceServiceRequest per line; trace and span ids
 * as hex, 64-bit integers and epoch ns as decimal strings). vLLM users asked for nested
 * phases of a request (vLLM #9952): each request is a trace whose root span
 * `llm_request` has children `queue` (one per waiting interval, with its cause),
 * `prefill`, `decode` and `preempted`; each rank's steps are `step` spans under one
 * `scheduler` span. Ids are derived from the run (hashes), so the output is reproducible.
 */
export interface OtlpOptions {
  /** absolute epoch ns of the timeline's t=0 */
  epochZeroNs: bigint;
  serviceName: string;
  scopeVersion: string;
  /** resource attributes convert's OTLP reader takes the scheduler config from (one rank) */
  config?: Record<string, number | string>;
}

type AttrValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
interface Attr {
  key: string;
  value: AttrValue;
}
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attr[];
  events?: { timeUnixNano: string; name: string; attributes: Attr[] }[];
}

/** SPAN_KIND_INTERNAL: the scheduler's own work, not an RPC */
const INTERNAL = 1;
/** spans per ExportTraceServiceRequest line */
const BATCH = 512;

const hex = (text: string, bytes: number): string => createHash("sha256").update(text).digest("hex").slice(0, 2 * bytes);

export function attr(key: string, v: number | string | boolean | null | undefined): Attr | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return { key, value: { boolValue: v } };
  if (typeof v === "string") return { key, value: { stringValue: v } };
  if (!Number.isFinite(v)) return null;
  return { key, value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } };
}

const attrs = (entries: [string, number | string | boolean | null | undefined][]): Attr[] => entries.map(([k, v]) => attr(k, v)).filter((a): a is Attr => a !== null);

/** queue spans carry the cause; the others are named after the state */
function childName(c: ChildSlice): { name: string; cause: string | null } {
  if (c.name === "waiting") return { name: "queue", cause: null };
  if (c.name.startsWith("waiting:")) return { name: "queue", cause: c.name.slice("waiting:".length) };
  return { name: c.name, cause: null };
}

export class OtlpJsonRenderer implements TimelineSink {
  private readonly pending = new Map<number, Span[]>();
  private readonly ranks = new Map<number, { name: string; traceId: string; rootId: string; start: number; end: number }>();
  spans = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly o: OtlpOptions,
  ) {}

  private time(ns: number): string {
    return (this.o.epochZeroNs + BigInt(ns)).toString();
  }

  /** one span of `rank`: ids, parent (none for a root), name, times in ns since t=0 */
  private span(rank: number, ids: { traceId: string; spanId: string; parentSpanId?: string }, name: string, startNs: number, endNs: number, attributes: Attr[]): void {
    this.push(rank, { ...ids, name, kind: INTERNAL, startTimeUnixNano: this.time(startNs), endTimeUnixNano: this.time(endNs), attributes });
  }

  /** a span that carries span events (the seed-004 form, src/render/otlp/otlp-seed-events.ts); it spans its events */
  eventSpan(rank: number, name: string, events: NonNullable<Span["events"]>): void {
    const times = events.map((e) => BigInt(e.timeUnixNano));
    const min = times.reduce((a, b) => (b < a ? b : a));
    const max = times.reduce((a, b) => (b > a ? b : a));
    const traceId = hex(`events\0${rank}\0${this.spans}`, 16);
    this.push(rank, { traceId, spanId: hex(`${traceId}\0root`, 8), name, kind: INTERNAL, startTimeUnixNano: min.toString(), endTimeUnixNano: max.toString(), attributes: [], events });
  }

  private push(rank: number, span: Span): void {
    let list = this.pending.get(rank);
    if (!list) this.pending.set(rank, (list = []));
    list.push(span);
    this.spans++;
    if (list.length >= BATCH) this.flush(rank);
  }

  private flush(rank: number): void {
    const spans = this.pending.get(rank);
    if (!spans?.length) return;
    const p = this.ranks.get(rank);
    const request = {
      resourceSpans: [
        {
          resource: { attributes: attrs([["service.name", this.o.serviceName], ["vsched.dp_rank", rank], ["vsched.process", p?.name ?? null], ...Object.entries(this.o.config ?? {})]) },
          scopeSpans: [{ scope: { name: "vsched", version: this.o.scopeVersion }, spans }],
        },
      ],
    };
    this.write(JSON.stringify(request) + "\n");
    this.pending.set(rank, []);
  }

  process(p: TimelineProcess): void {
    const traceId = hex(`scheduler\0${p.rank}\0${p.name}`, 16);
    this.ranks.set(p.rank, { name: p.name, traceId, rootId: hex(`${traceId}\0root`, 8), start: Infinity, end: -Infinity });
  }

  iteration(it: IterationSlice): void {
    const r = this.ranks.get(it.rank)!;
    r.start = Math.min(r.start, it.start_ns);
    r.end = Math.max(r.end, it.end_ns);
    const ids = { traceId: r.traceId, spanId: hex(`${r.traceId}\0step\0${it.step}\0${it.start_ns}`, 8), parentSpanId: r.rootId };
    this.span(it.rank, ids, "step", it.start_ns, it.end_ns, attrs([
      ["vsched.step", it.step],
      ["vsched.batch_size", it.batch_size],
      ["vsched.prefill_tokens", it.prefill_tokens],
      ["vsched.decode_tokens", it.decode_tokens],
      ["vsched.scheduling_overhead_ns", it.scheduling_overhead_ns],
      ["vsched.scheduler_action", it.scheduler_action],
      ["vsched.unfinished", it.unfinished ? true : null],
      // the counters, less the two the step already carries
      ...TIMELINE_COUNTERS.flatMap((c, i) => (c.key === "prefill_tokens" || c.key === "decode_tokens" ? [] : [[`vsched.${c.key}`, it.counters[i]] as [string, number]])),
    ]));
  }

  request(req: RequestSlice): void {
    const traceId = hex(`request\0${req.rank}\0${req.id}\0${req.start_ns}`, 16);
    const rootId = hex(`${traceId}\0root`, 8);
    const args = Object.entries(req.args).map(([k, v]) => [`vsched.${k}`, v] as [string, number | string | null]);
    this.span(req.rank, { traceId, spanId: rootId }, "llm_request", req.start_ns, req.end_ns, attrs([["gen_ai.request.id", req.id], ["vsched.dp_rank", req.rank], ...args]));
    let holder = rootId;
    req.children.forEach((c, i) => {
      const spanId = hex(`${traceId}\0${i}`, 8);
      const { name, cause } = childName(c);
      const childArgs = Object.entries(c.args).map(([k, v]) => [`vsched.${k}`, v] as [string, number | string]);
      this.span(req.rank, { traceId, spanId, parentSpanId: c.depth === 2 ? holder : rootId }, name, c.start_ns, c.end_ns, attrs([["vsched.waiting_reason", cause], ...childArgs]));
      if (c.depth === 1) holder = spanId;
    });
  }

  end(_totals: TimelineTotals): void {
    for (const [rank, r] of this.ranks) {
      if (r.start <= r.end) {
        this.span(rank, { traceId: r.traceId, spanId: r.rootId }, "scheduler", r.start, r.end, attrs([["vsched.dp_rank", rank], ["vsched.process", r.name]]));
      }
      this.flush(rank);
    }
  }

  /** writes what eventSpan() left pending after end() */
  finish(): void {
    for (const rank of this.pending.keys()) this.flush(rank);
  }
}
