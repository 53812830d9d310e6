import { InputError } from "../../core/errors.js";
import { WAITING_REASONS } from "../../schema/waiting.js";
import type { RunInfo, TableRow, TableSource } from "../../tables/types.js";
import { LanePacker } from "./lanes.js";
import { RequestBuilder } from "./request.js";
import type { IterationSlice, RequestSlice, TimelineProcess, TimelineSink, TimelineTotals } from "./types.js";

export * from "./types.js";

export interface TimelineOptions {
  /** keep what overlaps [fromNs, toNs] (ns since t=0); null: unbounded */
  fromNs: number | null;
  toNs: number | null;
  /** only these request ids (iterations and counters are kept whole) */
  requests: ReadonlySet<string> | null;
}

/**
 * The run as a timeline, streamed to `sink`. Iterations go out as they are read; a
 * request goes out as soon as everything about it is in, so memory follows the live
 * requests, not the run:
 * - from a trace, one replay delivers every table's rows in the engine's order, and a
 *   request is complete when both its final transition and its per_request row are in;
 * - from a logs directory, whose tables are read one after another, state_transitions is
 *   read first (a few numbers per request), then per_request, per_iteration and
 *   per_iteration_requests, where a request's `completed` row closes it.
 */
export async function buildTimeline(source: TableSource, opts: TimelineOptions, sink: TimelineSink): Promise<TimelineTotals> {
  const fromLogs = source.info.origin === "logs";
  const b = new Builder(source.info, opts, sink, fromLogs);
  if (fromLogs) await source.scan({ state_transitions: (r) => b.onTransition(r) });
  await source.scan({
    per_request: (r) => b.onRequestRow(r),
    per_iteration: (r) => b.onIteration(r),
    per_iteration_requests: (r) => b.onIterationRequest(r),
    ...(fromLogs ? {} : { state_transitions: (r: TableRow<"state_transitions">) => b.onTransition(r) }),
  });
  return b.finish();
}

class Builder {
  private readonly live = new Map<string, RequestBuilder>();
  private readonly done = new Set<string>();
  private readonly processes = new Map<number, TimelineProcess>();
  private readonly requestLanes = new Map<number, LanePacker>();
  private readonly iterationLanes = new Map<number, LanePacker>();
  private readonly causes: boolean;
  private readonly seenRequested = new Set<string>();
  private flows = 0;
  private requests = 0;
  private iterations = 0;

  constructor(
    private readonly info: RunInfo,
    private readonly opts: TimelineOptions,
    private readonly sink: TimelineSink,
    /** transitions were read up front: a request is complete at its `completed` row */
    private readonly transitionsFirst: boolean,
  ) {
    // causes are known only when every step's waiting rows are in per_iteration_requests
    this.causes = info.options.iterationRequests === "all" && info.options.iterationRequestsEvery === 1;
  }

  builder(rank: number, id: string): RequestBuilder | undefined {
    const key = `${rank}\u0000${id}`;
    let b = this.live.get(key);
    if (b) return b;
    if (this.done.has(key)) return undefined;
    if (this.opts.requests && !this.opts.requests.has(id)) return undefined;
    const own = detach(id);
    b = new RequestBuilder(rank, own);
    this.live.set(`${rank}\u0000${own}`, b);
    return b;
  }

  onRequestRow(r: TableRow<"per_request">): void {
    const b = this.builder(r.dp_rank, r.request_id);
    if (!b) return;
    // an unfinished request ends where the trace did: arrival + waiting + execution
    const end = r.completion_time ?? r.arrival_time + r.waiting_time + r.execution_time;
    b.figures = { start_ns: r.arrival_time, end_ns: end, first_token_ns: r.first_token_time, args: requestArgs(r) };
    if (b.completed && !this.transitionsFirst) this.emitRequest(b);
  }

  onTransition(r: TableRow<"state_transitions">): void {
    const b = this.builder(r.dp_rank, r.request_id);
    if (!b) return;
    b.addTransition(r);
    if (r.to_state === "completed" && b.figures && !this.transitionsFirst) this.emitRequest(b);
  }

  onIterationRequest(r: TableRow<"per_iteration_requests">): void {
    const b = this.builder(r.dp_rank, r.request_id);
    if (!b) return;
    b.addRow(r);
    if (r.state === "completed" && this.transitionsFirst && b.figures) this.emitRequest(b);
  }

  onIteration(r: TableRow<"per_iteration">): void {
    const unfinished = r.end_time === null;
    const end = r.end_time ?? r.start_time + r.scheduling_overhead;
    if (!this.inWindow(r.start_time, end)) return;
    nonNegative(r.start_time, "per_iteration", "start_time");
    const rank = r.dp_rank;
    this.ensureProcess(rank);
    const lane = lanes(this.iterationLanes, rank).place(r.start_time, end);
    const it: IterationSlice = {
      rank,
      lane,
      step: r.iteration_id,
      start_ns: r.start_time,
      end_ns: end,
      unfinished,
      batch_size: r.batch_size,
      prefill_tokens: r.prefill_tokens,
      decode_tokens: r.decode_tokens,
      scheduling_overhead_ns: r.scheduling_overhead,
      scheduler_action: r.scheduler_action,
      counters: [r.kv_cache_used, r.kv_cache_total, r.running_count, r.waiting_count, r.preempted_count, r.prefill_tokens, r.decode_tokens, r.token_budget_left],
    };
    this.iterations++;
    this.sink.iteration(it);
  }

  private emitRequest(b: RequestBuilder): void {
    const key = `${b.rank}\u0000${b.id}`;
    this.live.delete(key);
    this.done.add(key);
    if (this.opts.requests) this.seenRequested.add(b.id);
    const f = b.figures!;
    const start = f.start_ns;
    const end = f.end_ns;
    if (!this.inWindow(start, end)) return;
    nonNegative(start, "per_request", "arrival_time");
    this.ensureProcess(b.rank);
    const children = b.children(end, f.first_token_ns, this.causes, () => ++this.flows);
    const slice: RequestSlice = {
      rank: b.rank,
      lane: lanes(this.requestLanes, b.rank).place(start, end),
      id: b.id,
      start_ns: start,
      end_ns: end,
      args: f.args,
      children,
      first_token_ns: f.first_token_ns,
    };
    this.requests++;
    this.sink.request(slice);
  }

  finish(): TimelineTotals {
    // unfinished requests, and any whose final transition never came: by arrival
    const rest = [...this.live.values()].filter((b) => b.figures !== null);
    rest.sort((x, y) => x.figures!.start_ns - y.figures!.start_ns || x.rank - y.rank);
    for (const b of rest) this.emitRequest(b);
    const totals: TimelineTotals = {
      requests: this.requests,
      iterations: this.iterations,
      flows: this.flows,
      requested_missing: this.opts.requests ? [...this.opts.requests].filter((id) => !this.seenRequested.has(id)).length : 0,
      causes: this.causes,
    };
    this.sink.end(totals);
    return totals;
  }

  private inWindow(start: number, end: number): boolean {
    return (this.opts.toNs === null || start <= this.opts.toNs) && (this.opts.fromNs === null || end >= this.opts.fromNs);
  }

  private ensureProcess(rank: number): void {
    if (this.processes.has(rank)) return;
    const src = this.info.sources.find((s) => s.header.dp_rank === rank);
    const v = src?.header.vllm_version;
    const pid = src?.header.pid;
    const p: TimelineProcess = { rank, name: `${v ? `vLLM ${v} ` : ""}DP rank ${rank}${pid !== undefined ? ` (pid ${pid})` : ""}` };
    this.processes.set(rank, p);
    this.sink.process(p);
  }
}

function lanes(m: Map<number, LanePacker>, rank: number): LanePacker {
  let p = m.get(rank);
  if (!p) m.set(rank, (p = new LanePacker()));
  return p;
}

/** per_request figures carried on the request slice; the dominant cause is the one it waited longest for. */
function requestArgs(r: TableRow<"per_request">): RequestSlice["args"] {
  const args: RequestSlice["args"] = {
    ttft_ns: r.ttft,
    e2e_ns: r.e2e_latency,
    tpot_ns: r.tpot,
    waiting_ns: r.waiting_time,
    preemptions: r.preemption_count,
    dominant_wait_cause: null,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    finish_reason: detach(r.finish_reason),
  };
  let best = 0;
  for (const c of WAITING_REASONS) {
    const ns = r[`wait_${c}_ns`];
    if (ns > 0) args[`wait_${c}_ns`] = ns;
    if (ns > best) {
      best = ns;
      args.dominant_wait_cause = c;
    }
  }
  return args;
}

function nonNegative(t: number, table: string, column: string): void {
  if (t < 0) throw new InputError(`${column} ${t} is before the run's t=0; a timeline cannot start before it`, "TIMELINE_NEGATIVE_TIME", table);
}

/**
 * A copy of `s` that does not point into the text it was cut from: V8 may represent a
 * substring as a slice of its parent, so an id cut from a CSV chunk and held until its
 * request ends would keep the whole chunk alive.
 */
function detach(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, "utf8").toString("utf8");
}
