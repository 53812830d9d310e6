/**
 * OTLP events → raw trace records (src/parse/otlp-in.ts reads the file): the journey
 * events become arrivals, admissions, preemptions and finishes; each step's
 * BATCH_SUMMARY and REQUEST_SNAPSHOTs become its step and update records. docs/otlp.md
 * lists the assumptions.
 */
export type Attrs = Map<string, string | number | boolean>;
export interface OtlpEvent {
  t: bigint;
  name: string;
  attrs: Attrs;
  span: Attrs;
}

export const FINISH: Record<string, string> = { stopped: "stop", stop: "stop", length: "length", aborted: "abort", abort: "abort", ignored: "ignored", error: "error" };

export const num = (a: Attrs, k: string): number | null => (typeof a.get(k) === "number" ? (a.get(k) as number) : null);
export const reqId = (e: OtlpEvent): string | null => {
  const v = e.attrs.get("request.id") ?? e.span.get("request.id") ?? e.span.get("gen_ai.request.id");
  return v === undefined ? null : String(v);
};

interface Timed {
  t: number;
  /** at one time: arrivals, then the step, its update, finishes */
  order: number;
  rec: Record<string, unknown>;
}

/** Arrivals and out-of-step finishes in `out`; the other journey events by step. */
function journeyRecords(journey: OtlpEvent[], rel: (t: bigint) => number, out: Timed[]): Map<number, OtlpEvent[]> {
  const byStep = new Map<number, OtlpEvent[]>();
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
  return byStep;
}

export interface StepEvents {
  summary: Attrs;
  snapshots: Map<string, Attrs>;
  journey: OtlpEvent[];
}

/** One step's `step` and `update` records. */
function stepRecords(s: number, ev: StepEvents, rel: (t: bigint) => number, maxBatched: number, out: Timed[]): void {
  const sum = ev.summary;
  const snaps = ev.snapshots;
  const evs = ev.journey;
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

/** Every record after the header, in the order an emitter would write them, and the end record. */
export function buildRecords(steps: number[], summaries: Map<number, OtlpEvent>, snapshots: Map<number, Map<string, Attrs>>, journey: OtlpEvent[], rel: (t: bigint) => number, maxBatched: number): Record<string, unknown>[] {
  const out: Timed[] = [];
  const byStep = journeyRecords(journey, rel, out);
  for (const s of steps) stepRecords(s, { summary: summaries.get(s)!.attrs, snapshots: snapshots.get(s) ?? new Map(), journey: byStep.get(s) ?? [] }, rel, maxBatched, out);
  out.sort((a, b) => a.t - b.t || a.order - b.order);
  const last = out.length ? out[out.length - 1].t : 0;
  return [...out.map((o) => o.rec), { type: "end", t: last, steps: steps.length, records: out.length + 2, dropped: 0 }];
}
