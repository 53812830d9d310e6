import { describe, expect, test } from "vitest";
import type { HeaderRecord } from "../src/schema/raw.js";
import type { EventRow, PerRequestRow } from "../src/schema/tables.js";
import { replay } from "./helpers/collect.js";
import { lifetimeKey, readOracle, readTrace, traceFiles, type OracleRequest } from "./helpers/fixtures.js";

/**
 * Streaming-input sessions (vLLM ≥ 0.33) against vLLM's own figures. Each fixture drives vLLM's
 * real scheduler with resumable requests whose client sends more chunks, some while a turn runs
 * and some after it ended; oracle.jsonl holds vLLM's engine-core events (every QUEUED, SCHEDULED,
 * PREEMPTED), the EngineCoreOutputs timestamp of every chunk boundary and of each turn's first
 * output, as the frontend's OutputProcessor saw them.
 */
const FIXTURES = ["sessions-fcfs", "sessions-priority", "sessions-async"];

/** vLLM's float monotonic seconds → the trace's relative ns, as the emitter converts them */
const relNs = (seconds: number, anchor: bigint) => Number(BigInt(Math.round(seconds * 1e9)) - anchor);

/** wait intervals from vLLM's own stamps: [first QUEUED | PREEMPTED | turn end, next SCHEDULED) */
function vllmWaits(o: OracleRequest, anchor: bigint, endT: number | null): { total: number; forInput: number } {
  const marks: [number, string][] = [
    ...o.events.map(([kind, t]) => [relNs(t, anchor), kind] as [number, string]),
    ...o.turn_ends!.map(([t]) => [relNs(t, anchor), "TURN_END"] as [number, string]),
  ].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let forInput = 0;
  let since: number | null = null;
  let inputSince: number | null = null;
  let queuedOnce = false;
  for (const [t, kind] of marks) {
    if (kind === "SCHEDULED" && since !== null) {
      total += t - since;
      since = null;
    } else if (kind === "TURN_END" || kind === "PREEMPTED" || (kind === "QUEUED" && !queuedOnce)) {
      since ??= t;
      if (kind === "TURN_END") inputSince = t;
    }
    if (kind === "QUEUED" && queuedOnce && inputSince !== null) {
      forInput += Math.max(0, t - inputSince);
      inputSince = null;
    }
    if (kind === "QUEUED") queuedOnce = true;
    if (kind === "SCHEDULED") inputSince = null;
  }
  if (since !== null && endT !== null) total += endT - since;
  if (inputSince !== null && endT !== null) forInput += endT - inputSince;
  return { total, forInput };
}

describe.each(FIXTURES)("sessions fixture %s", (name) => {
  const records = readTrace(traceFiles(name)[0]);
  const header = records[0] as HeaderRecord;
  const anchor = BigInt(header.clock.monotonic_ns);
  const oracle = readOracle(name);
  const out = replay(records);
  const rows = new Map(out.perRequest.map((r) => [lifetimeKey(r.request_id, r.request_instance), r]));
  const sessions = [...oracle.requests.values()].filter((o) => o.turn_ends);
  const eventsOf = (o: OracleRequest, type: EventRow["event_type"]) =>
    out.events.filter((e) => e.request_id === o.req && (e.request_instance ?? 0) === (o.instance ?? 0) && e.event_type === type);
  const rowOf = (o: OracleRequest): PerRequestRow => rows.get(lifetimeKey(o.req, o.instance ?? 0))!;

  test("the trace is schema 1.3 (interned; sessions need 1.2 or later) with the session hook, and the run has sessions that waited for input and sessions whose chunk came while a turn ran", () => {
    expect(header.schema_version).toBe("1.3");
    expect(header.capabilities.session_hook).toBe(true);
    expect(sessions.length).toBeGreaterThanOrEqual(10);
    const chunks = records.filter((r) => r.type === "chunk");
    expect(chunks.filter((c) => c.t === c.queued_t).length).toBeGreaterThan(0); // commenced from add_request
    expect(chunks.filter((c) => c.t !== c.queued_t).length).toBeGreaterThan(0); // inside update_from_output
  });

  test("no errors or warnings: the running list, token counts and queue order all agree with the trace", () => {
    expect(out.findings.filter((f) => f.severity !== "info")).toEqual([]);
  });

  test("each chunk's request_chunk_queued is vLLM's QUEUED event of that turn, to the nanosecond", () => {
    for (const o of sessions) {
      const queued = o.events.filter(([k]) => k === "QUEUED").map(([, t]) => relNs(t, anchor));
      expect(rowOf(o).arrival_time, o.req).toBe(queued[0]);
      expect(eventsOf(o, "request_chunk_queued").map((e) => e.timestamp), o.req).toEqual(queued.slice(1));
      expect(rowOf(o).input_chunks, o.req).toBe(queued.length);
    }
  });

  test("admissions and resumptions are vLLM's SCHEDULED events; turn ends are its chunk-boundary outputs", () => {
    for (const o of sessions) {
      const scheduled = o.events.filter(([k]) => k === "SCHEDULED").map(([, t]) => relNs(t, anchor));
      const got = [...eventsOf(o, "request_admitted"), ...eventsOf(o, "request_resumed")].map((e) => e.timestamp).sort((a, b) => a - b);
      expect(got, o.req).toEqual(scheduled);
      const ends = eventsOf(o, "request_turn_ended");
      expect(ends.map((e) => e.timestamp), o.req).toEqual(o.turn_ends!.map(([t]) => relNs(t, anchor)));
      expect(ends.map((e) => JSON.parse(e.details).reason), o.req).toEqual(o.turn_ends!.map(([, reason]) => reason));
    }
  });

  test("each turn's first_token_generated is the timestamp of that turn's first output", () => {
    for (const o of sessions) {
      const firsts = eventsOf(o, "first_token_generated").map((e) => e.timestamp);
      expect(firsts, o.req).toEqual(o.turn_first_token_ts!.map((t) => relNs(t, anchor)));
    }
  });

  test("waiting_time and wait_streaming_input_ns follow from vLLM's stamps; e2e = waiting + execution", () => {
    let waitedForInput = 0;
    for (const o of sessions) {
      const r = rowOf(o);
      const w = vllmWaits(o, anchor, r.completion_time);
      expect(r.waiting_time, o.req).toBe(w.total);
      expect(r.wait_streaming_input_ns, o.req).toBe(w.forInput);
      expect(r.waiting_time + r.execution_time, o.req).toBe(r.e2e_latency);
      expect(r.output_tokens, o.req).toBe(o.num_generation_tokens);
      if (w.forInput > 0) waitedForInput++;
    }
    expect(waitedForInput).toBeGreaterThan(0);
    for (const r of out.perRequest) if (r.input_chunks === 1) expect(r.wait_streaming_input_ns, r.request_id).toBe(0);
  });

  test("a session's first-turn intervals are vLLM's first QUEUED → first SCHEDULED → first token", () => {
    for (const o of sessions) {
      const r = rowOf(o);
      const q = relNs(o.events.find(([k]) => k === "QUEUED")![1], anchor);
      const s = relNs(o.scheduled_ts, anchor);
      const f = relNs(o.turn_first_token_ts![0], anchor);
      expect(r.first_scheduled_time, o.req).toBe(s);
      expect(r.vllm_queued_time, o.req).toBe(s - q);
      expect(r.vllm_prefill_time, o.req).toBe(f - s);
      expect(r.ttft, o.req).toBe(f - q);
    }
  });
});
