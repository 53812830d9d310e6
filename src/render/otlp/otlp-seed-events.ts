import type { EventRow, PerIterationRequestRow, PerIterationRow } from "../../schema/tables.js";
import { attr } from "./otlp-json.js";

/**
 * The run also as seed 004 §5's journey and step tracing (span events QUEUED, SCHEDULED,
 * FIRST_TOKEN, PREEMPTED, FINISHED; step.BATCH_SUMMARY and step.REQUEST_SNAPSHOT), so that
 * what `vsched export --otlp` writes is what `vsched convert` reads (src/parse/otlp-in.ts):
 * the two directions round-trip. Fed from the tables in two passes: the events table first
 * (journey, prompts, and the token times of the steps that carry them), then per_iteration
 * and per_iteration_requests. Events are grouped into spans of at most GROUP events.
 */
interface SpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: NonNullable<ReturnType<typeof attr>>[];
}

const GROUP = 256;
const STATUS: Record<string, string> = { stop: "stopped", length: "length", abort: "aborted", ignored: "ignored", error: "error", repetition: "stopped" };

type Emit = (scope: string, name: string, events: SpanEvent[]) => void;

export class SeedEvents {
  private readonly prompts = new Map<string, number>();
  /** token time (out_t) of the steps whose update a first token or a finish is known of */
  private readonly tokenTimes = new Map<number, string>();
  private journey: SpanEvent[] = [];
  private steps: SpanEvent[] = [];

  constructor(
    private readonly emit: Emit,
    /** epoch ns of t=0: the time of the snapshots (the reader's t=0 is its earliest event) */
    private readonly zeroEpochNs: string,
  ) {}

  private event(name: string, t: string, entries: [string, number | string | null | undefined][]): SpanEvent {
    return { timeUnixNano: t, name, attributes: entries.map(([k, v]) => attr(k, v)).filter((a): a is NonNullable<typeof a> => a !== null) };
  }

  private add(list: "journey" | "steps", e: SpanEvent): void {
    this[list].push(e);
    if (this[list].length >= GROUP) this.flush(list);
  }

  private flush(list: "journey" | "steps"): void {
    if (!this[list].length) return;
    this.emit(list === "journey" ? "vllm.scheduler" : "vllm.scheduler.step", list === "journey" ? "llm_core" : "scheduler_steps", this[list]);
    this[list] = [];
  }

  /** pass 1: the events table */
  onEvent(r: EventRow): void {
    if (r.request_id === null || r.timestamp_epoch_ns === null) return;
    const d = JSON.parse(r.details) as Record<string, number | string>;
    const step: [string, number | null] = ["scheduler.step", r.iteration_id];
    const id: [string, string] = ["request.id", r.request_id];
    const t = r.timestamp_epoch_ns;
    switch (r.event_type) {
      case "request_arrived":
        this.prompts.set(r.request_id, Number(d.prompt_tokens));
        return this.add("journey", this.event("QUEUED", t, [id, ["prefill_total_tokens", d.prompt_tokens], ["decode_max_tokens", d.max_tokens ?? null]]));
      case "request_admitted":
        return this.add("journey", this.event("SCHEDULED", t, [id, step, ["schedule.kind", "FIRST"]]));
      case "request_resumed":
        return this.add("journey", this.event("SCHEDULED", t, [id, step, ["schedule.kind", "RESUME"]]));
      case "request_preempted":
        return this.add("journey", this.event("PREEMPTED", t, [id, step]));
      case "first_token_generated":
        if (r.iteration_id !== null) this.tokenTimes.set(r.iteration_id, t);
        return this.add("journey", this.event("FIRST_TOKEN", t, [id, step]));
      case "request_completed":
        if (r.iteration_id !== null && d.from === "running") this.tokenTimes.set(r.iteration_id, t);
        return this.add("journey", this.event("FINISHED", t, [id, d.from === "running" ? step : ["scheduler.step", null], ["finish.status", STATUS[String(d.reason)] ?? String(d.reason)], ["decode_done_tokens", d.output_tokens]]));
    }
  }

  /** pass 2: one BATCH_SUMMARY per step */
  onIteration(r: PerIterationRow): void {
    if (r.start_time_epoch_ns === null) return;
    const start = BigInt(r.start_time_epoch_ns);
    const end = this.tokenTimes.get(r.iteration_id) ?? (start + BigInt((r.end_time ?? r.start_time) - r.start_time)).toString();
    this.add("steps", this.event("step.BATCH_SUMMARY", start.toString(), [
      ["step.id", r.iteration_id],
      ["step.ts_start_ns", start.toString()],
      ["step.ts_end_ns", end],
      ["queue.running_depth", r.running_count_after_update ?? r.running_count],
      ["queue.waiting_depth", r.waiting_count_after_update ?? r.waiting_count],
      ["batch.scheduled_tokens", r.total_tokens],
      ["batch.num_prefill_reqs", r.num_prefill_reqs],
      ["batch.num_decode_reqs", r.num_decode_reqs],
      ["batch.num_preempted", r.preempted_count],
      ["kv.blocks_total_gpu", r.kv_cache_total + 1], // vLLM's pool, its null block included
      ["kv.blocks_free_gpu", r.kv_cache_total - r.kv_cache_used],
    ]));
  }

  /** pass 2: one REQUEST_SNAPSHOT per request scheduled in a step */
  onIterationRequest(r: PerIterationRequestRow): void {
    if (r.scheduled_tokens <= 0) return;
    this.add("steps", this.event("step.REQUEST_SNAPSHOT", this.zeroEpochNs, [
      ["step.id", r.iteration_id],
      ["request.id", r.request_id],
      ["request.num_prompt_tokens", this.prompts.get(r.request_id) ?? null],
      ["request.num_computed_tokens", r.computed_tokens],
      ["request.num_output_tokens", r.tokens_generated],
      ["request.scheduled_tokens_this_step", r.scheduled_tokens],
    ]));
  }

  end(): void {
    this.flush("journey");
    this.flush("steps");
  }
}
