import { describe, expect, test } from "vitest";
import type { HeaderRecord, RawRecord, StepRecord, UpdateRecord } from "../src/schema/raw.js";
import { epochFormatter } from "../src/engine/epoch.js";
import { replay } from "./helpers/collect.js";

// Each test feeds the few records one rule needs. Whole-trace behaviour is proven
// against vLLM's own figures on recorded fixtures in test/oracle.test.ts.

function header(over: Partial<HeaderRecord["config"]> = {}, level: "full" | "summary" = "full"): HeaderRecord {
  return {
    type: "header", schema_version: "1.0", emitter_version: "t", vllm_version: "t", pid: 1, dp_rank: 0, level,
    clock: { epoch_ns: "1700000000123456789", monotonic_ns: "5000" },
    config: {
      scheduler_class: "Scheduler", policy: "fcfs", max_num_seqs: 2, max_num_batched_tokens: 100, max_model_len: 1000,
      max_loras: null, num_gpu_blocks: 11, block_size: 4, bytes_per_block: 64, enable_chunked_prefill: true,
      enable_prefix_caching: true, async_scheduling: false, long_prefill_token_threshold: 0, num_spec_tokens: 0, log_stats: true,
      ...over,
    },
    capabilities: {}, not_captured: [],
  };
}
const arrival = (req: string, t: number, prompt = 8, priority = 0, epoch = String(1700000000000000000 + t)): RawRecord => ({
  type: "arrival", t, req, vllm_arrival_epoch_ns: epoch, prompt_tokens: prompt, max_tokens: 4, priority, lora: null, status: "WAITING",
});
function step(step: number, t: number, over: Partial<StepRecord>): StepRecord {
  return {
    type: "step", step, t_start: t, t_end: t + 10, sched_t: t + 1, sched: [], new: [], resumed: [], preempted: [], kv_fail: [],
    free_blocks: 10, running: 0, waiting: 0, budget_left: 100, stop: null, skipped: [], blocks: [], order: null, ...over,
  };
}
function update(step: number, t: number, over: Partial<UpdateRecord>): UpdateRecord {
  return { type: "update", step, t_start: t, t_end: t + 5, out_t: t + 4, tokens: [], finished: [], free_blocks: 10, running: 0, waiting: 0, ...over };
}

describe("waiting queue order", () => {
  test("FCFS: preempted requests go to the head in reverse preemption order, arrivals to the tail", () => {
    const out = replay([
      header({ max_num_seqs: 4 }),
      arrival("a", 0), arrival("b", 1), arrival("c", 2),
      step(0, 10, { new: [["a", 0], ["b", 0]], sched: [["a", 8, 0], ["b", 8, 0]], running: 2, waiting: 1, stop: { cause: "kv_full", req: "c" } }),
      update(0, 30, { tokens: [["a", 1], ["b", 1]], running: 2, waiting: 1 }),
      arrival("d", 40),
      step(1, 50, { preempted: ["b", "a"], running: 0, waiting: 4, stop: { cause: "preemption", req: null } }),
      update(1, 70, { running: 0, waiting: 4 }),
    ]);
    const rows = out.perIterationRequests.filter((r) => r.iteration_id === 1).sort((x, y) => (x.queue_position ?? 0) - (y.queue_position ?? 0));
    expect(rows.map((r) => r.request_id)).toEqual(["a", "b", "c", "d"]);
    expect(rows.map((r) => r.waiting_reason)).toEqual(["preempted", "preempted", "memory_insufficient", "memory_insufficient"]);
    expect(rows.map((r) => r.state)).toEqual(["preempted", "preempted", "waiting", "waiting"]);
  });

  test("a recorded order replaces the rule's order", () => {
    const out = replay([
      header(), arrival("a", 0), arrival("b", 1),
      step(0, 10, { waiting: 2, order: ["b", "a"], stop: { cause: "empty", req: null }, skipped: [["a", "lora_slots"], ["b", "grammar_compiling"]] }),
    ]);
    const rows = out.perIterationRequests;
    expect(rows.map((r) => [r.request_id, r.queue_position, r.waiting_reason])).toEqual([["b", 0, "grammar_compiling"], ["a", 1, "lora_slots"]]);
  });

  test("priority: order is (priority, vLLM arrival time, id), and outranked requests say so", () => {
    const out = replay([
      header({ policy: "priority", max_num_seqs: 1 }),
      arrival("late-urgent", 5, 8, 0), arrival("early-low", 1, 8, 5), arrival("mid", 3, 8, 1),
      step(0, 10, { new: [["late-urgent", 0]], sched: [["late-urgent", 8, 0]], running: 1, waiting: 2, stop: { cause: "max_num_seqs", req: null } }),
    ]);
    const waiting = out.perIterationRequests.filter((r) => r.state === "waiting");
    expect(waiting.map((r) => [r.request_id, r.queue_position, r.waiting_reason])).toEqual([
      ["mid", 0, "priority_outranked"],
      ["early-low", 1, "priority_outranked"],
    ]);
  });
});

describe("waiting reasons", () => {
  test("token budget used by running requests is decode_priority; used by admissions is max_num_batched_tokens", () => {
    const base = [header({ max_num_seqs: 8, max_num_batched_tokens: 8 }), arrival("a", 0), arrival("b", 1)];
    const admitted = replay([
      ...base,
      step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, budget_left: 0, stop: { cause: "token_budget", req: null } }),
    ]);
    expect(admitted.perIterationRequests.find((r) => r.request_id === "b")?.waiting_reason).toBe("max_num_batched_tokens");
    const decode = replay([
      ...base,
      step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, budget_left: 0, stop: { cause: "token_budget", req: null } }),
      update(0, 20, { tokens: [["a", 1]], running: 1, waiting: 1 }),
      step(1, 30, { sched: [["a", 8, 8]], running: 1, waiting: 1, budget_left: 0, stop: { cause: "token_budget", req: null } }),
    ]);
    expect(decode.perIterationRequests.find((r) => r.request_id === "b" && r.iteration_id === 1)?.waiting_reason).toBe("decode_priority");
  });

  test("KV failure labels the head memory_insufficient and those behind head_of_line_blocked", () => {
    const out = replay([
      header({ max_num_seqs: 8 }), arrival("a", 0), arrival("b", 1), arrival("c", 2),
      step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], kv_fail: [["b", "waiting"]], running: 1, waiting: 2, stop: { cause: "kv_full", req: "b" } }),
    ]);
    const reasons = Object.fromEntries(out.perIterationRequests.map((r) => [r.request_id, r.waiting_reason]));
    expect(reasons).toEqual({ a: null, b: "memory_insufficient", c: "head_of_line_blocked" });
  });

  test("a preemption between steps (reset_prefix_cache) does not freeze admissions the way an in-step one does", () => {
    const out = replay([
      header({ max_num_seqs: 1 }), arrival("a", 0), arrival("b", 1),
      step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, stop: { cause: "max_num_seqs", req: null } }),
      step(1, 30, { preempted: ["a"], resumed: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, stop: { cause: "max_num_seqs", req: null } }),
    ]);
    const b = out.perIterationRequests.filter((r) => r.request_id === "b").map((r) => r.waiting_reason);
    expect(b).toEqual(["max_num_seqs", "max_num_seqs"]);
  });

  test("summary-level traces infer the cause from the limits", () => {
    const out = replay([
      header({ max_num_seqs: 1 }, "summary"), arrival("a", 0), arrival("b", 1),
      step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, stop: undefined, skipped: undefined, blocks: undefined }),
    ]);
    expect(out.perIterationRequests.find((r) => r.request_id === "b")?.waiting_reason).toBe("max_num_seqs");
  });
});

describe("per-request accounting", () => {
  const trace = (): RawRecord[] => [
    header({ max_num_seqs: 4 }),
    arrival("a", 0, 8),
    step(0, 100, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, blocks: [["a", 2]] }),
    update(0, 200, { tokens: [["a", 1]], running: 1, out_t: 204 }),
    step(1, 300, { sched: [["a", 1, 8]], running: 1, blocks: [["a", 3]] }),
    update(1, 400, { tokens: [["a", 1]], running: 1, out_t: 404 }),
    step(2, 500, { preempted: ["a"], running: 0, waiting: 1, blocks: [["a", 0]], stop: { cause: "preemption", req: null } }),
    update(2, 600, { running: 0, waiting: 1, out_t: null }),
    step(3, 700, { resumed: [["a", 8]], sched: [["a", 2, 8]], running: 1, waiting: 0, blocks: [["a", 3]] }),
    update(3, 800, { tokens: [["a", 1]], finished: [["a", "length", 3]], running: 0, out_t: 804 }),
  ];

  test("waiting, preemption, recompute, eviction and vLLM's intervals", () => {
    const [r] = replay(trace()).perRequest;
    // waits: arrival 0 → admission at sched_t 101; preempted at 501 → resumed at 701
    expect(r.waiting_time).toBe(101 + 200);
    expect(r.wait_arrived_after_decision_ns).toBe(101);
    expect(r.wait_preempted_ns).toBe(200);
    expect(r.longest_wait).toBe(200);
    expect(r.e2e_latency).toBe(804);
    expect(r.execution_time).toBe(804 - 301);
    expect(r.ttft).toBe(204);
    expect(r.tpot).toBe(Math.round((804 - 204) / 2));
    expect(r.preemption_count).toBe(1);
    // 9 tokens computed before preemption; 8 found at resume: full blocks (8) survived
    expect(r.recomputed_tokens).toBe(1);
    expect(r.eviction_count).toBe(0);
    expect(r.kv_cache_blocks).toBe(3);
    expect(r.kv_cache_memory_bytes).toBe(3 * 64);
    expect(r.vllm_queued_time).toBe(101);
    expect(r.vllm_prefill_time).toBe(204 - 101);
    expect(r.vllm_decode_time).toBe(600);
    expect(r.vllm_mean_tpot).toBe(300);
    expect(r.finish_reason).toBe("length");
    expect(r.arrival_time_epoch_ns).toBe("1700000000123456789");
  });

  test("per-iteration rows: KV usage, prefill/decode split and recompute", () => {
    const it = replay(trace()).perIteration;
    expect(it.map((r) => r.scheduler_action)).toEqual(["admit_new", "continue", "preempt", "resume+finish"]);
    expect(it[0].kv_cache_used).toBe(0);
    expect(it[0].kv_cache_total).toBe(10);
    expect(it[3].prefill_tokens).toBe(1);
    expect(it[3].recompute_tokens).toBe(1);
    expect(it[3].decode_tokens).toBe(1);
    expect(it[0].forward_duration).toBe(200 - 110);
  });

  test("an abort while waiting ends the wait at the abort", () => {
    const out = replay([header(), arrival("a", 0), { type: "finish", t: 50, req: "a", reason: "abort", output_tokens: 0, from: "waiting" }]);
    const [r] = out.perRequest;
    expect([r.waiting_time, r.execution_time, r.e2e_latency, r.finish_reason, r.first_scheduled_time]).toEqual([50, 0, 50, "abort", null]);
  });

  test("unknown requests and token-count disagreements become findings, not crashes", () => {
    const out = replay([header(), step(0, 10, { sched: [["ghost", 4, 0]] }), update(0, 20, { finished: [["ghost", "stop", 1]] })]);
    expect(out.findings.map((f) => f.code)).toContain("ENGINE_UNKNOWN_REQUEST");
  });
});

describe("absolute time", () => {
  test("epoch formatting is exact beyond 2^53", () => {
    const f = epochFormatter(1700000000999999999n);
    expect(f(0)).toBe("1700000000999999999");
    expect(f(1)).toBe("1700000001000000000");
    expect(f(86_400_000_000_123)).toBe((1700000000999999999n + 86_400_000_000_123n).toString());
  });
});

describe("re-preemption while recomputing", () => {
  // a computes 12 tokens, is preempted, recomputes 8 of them and is preempted again
  const trace = (): RawRecord[] => [
    header({ max_num_seqs: 4, enable_prefix_caching: false }),
    arrival("a", 0, 12),
    step(0, 100, { new: [["a", 0]], sched: [["a", 12, 0]], running: 1 }),
    update(0, 200, { tokens: [["a", 1]], running: 1 }),
    step(1, 300, { preempted: ["a"], running: 0, waiting: 1, stop: { cause: "preemption", req: null } }),
    update(1, 400, { running: 0, waiting: 1, out_t: null }),
    step(2, 500, { resumed: [["a", 0]], sched: [["a", 8, 0]], running: 1 }),
    update(2, 600, { running: 1, out_t: null }),
    step(3, 700, { preempted: ["a"], running: 0, waiting: 1, stop: { cause: "preemption", req: null } }),
    update(3, 800, { running: 0, waiting: 1, out_t: null }),
    step(4, 900, { resumed: [["a", 0]], sched: [["a", 13, 0]], running: 1 }),
    update(4, 1000, { tokens: [["a", 1]], finished: [["a", "length", 2]], running: 0 }),
  ];

  test("each preemption reports what was computed then; recomputation is counted chunk by chunk", () => {
    const out = replay(trace());
    const details = (type: string) => out.events.filter((e) => e.event_type === type).map((e) => JSON.parse(e.details));
    expect(details("request_preempted").map((d) => d.computed_tokens)).toEqual([12, 8]);
    expect(details("request_evicted").map((d) => d.computed_before_preemption)).toEqual([12, 8]);
    // recomputed: positions 0-7 after the first preemption, 0-11 after the second (position 12 is new output)
    const [r] = out.perRequest;
    expect(r.recomputed_tokens).toBe(8 + 12);
    expect(out.perIteration.map((it) => it.recompute_tokens)).toEqual([0, 0, 8, 0, 12]);
    expect(out.perIterationRequests.filter((x) => x.iteration_id === 2).map((x) => x.running_reason)).toEqual(["recomputation"]);
  });
});

describe("vLLM arrival_time that is not epoch time", () => {
  test("offline callers' arrival_time (vLLM's tests pass 1.0) leaves the derived columns empty, with one warning", () => {
    const out = replay([
      header(), arrival("a", 0, 8, 0, "1000000000"), arrival("b", 1, 8, 0, "1000000000"), arrival("c", 2),
      step(0, 10, { new: [["a", 0], ["b", 0], ["c", 0]], sched: [["a", 8, 0], ["b", 8, 0], ["c", 8, 0]], running: 3 }),
      update(0, 20, { tokens: [["a", 1], ["b", 1], ["c", 1]], running: 3 }),
    ]);
    const rows = Object.fromEntries(out.perRequest.map((r) => [r.request_id, r]));
    expect([rows.a.vllm_arrival_time_epoch_ns, rows.a.ttft_from_vllm_arrival]).toEqual([null, null]);
    expect(rows.b.ttft_from_vllm_arrival).toBeNull();
    // c's arrival_time is epoch time, 5000 ns of monotonic anchor aside
    expect(rows.c.ttft_from_vllm_arrival).not.toBeNull();
    expect(Math.abs(rows.c.ttft_from_vllm_arrival!)).toBeLessThan(2 ** 53);
    const codes = out.findings.filter((f) => f.code !== "ENGINE_UNFINISHED_REQUESTS").map((f) => [f.code, f.severity, f.args.of ?? f.args.request_id]);
    expect(codes).toEqual([["ENGINE_VLLM_ARRIVAL_NOT_EPOCH", "warning", "a"], ["ENGINE_REPEATED", "info", "ENGINE_VLLM_ARRIVAL_NOT_EPOCH"]]);
  });
});

describe("streaming-input sessions (vLLM >= 0.33, Request.resumable)", () => {
  // The record sequence the emitter wrote for vLLM's own test_resumable_request_handoff
  // (tests/v1/core/test_async_scheduler.py, AsyncScheduler, queue of 3 batches): a 10-token
  // turn ends on its first token (update 0), then the 12-token continuation is admitted again as
  // "new" with 10 computed tokens (step 3); updates 1 and 2 are stale.
  const trace = (): RawRecord[] => [
    header({ max_num_seqs: 4, async_scheduling: true }),
    arrival("s", 100, 10),
    step(0, 200, { sched_t: 250, new: [["s", 0]], sched: [["s", 10, 0]], running: 1 }),
    step(1, 300, { sched_t: null, sched: [["s", 1, 10]], running: 1 }),
    step(2, 400, { sched_t: null, sched: [["s", 1, 11]], running: 1 }),
    update(0, 500, { out_t: 520, tokens: [["s", 1]], running: 0 }),
    step(3, 600, { sched_t: 640, new: [["s", 10]], sched: [["s", 12, 10]], running: 1 }),
    update(1, 700, { out_t: 710, running: 1 }),
    update(2, 720, { out_t: 730, running: 1 }),
    update(3, 740, { out_t: 750, tokens: [["s", 1]], running: 1 }),
  ];

  test("the next turn is not a second first admission: intervals stay positive and the waits add up", () => {
    const out = replay(trace());
    const [r] = out.perRequest;
    expect(r.first_scheduled_time).toBe(250);
    expect(r.vllm_queued_time).toBe(250 - 100);
    expect(r.vllm_prefill_time).toBe(520 - 250);
    // first wait 100→250, then between turns: its turn's last token (520) → the next admission (640)
    expect(r.waiting_time).toBe(150 + 120);
    expect(r.wait_streaming_input_ns).toBe(120);
    expect(r.wait_arrived_after_decision_ns).toBe(150);
    expect(r.iterations_scheduled).toBe(4);
    // one running row per step: the session is in the running list once
    const step3 = out.perIterationRequests.filter((x) => x.iteration_id === 3);
    expect(step3.map((x) => [x.state, x.scheduled_tokens, x.computed_tokens])).toEqual([["running", 12, 22]]);
    expect(out.perIteration[3].batch_size).toBe(1);
    // the new input chunk is prefill, not decode
    expect([out.perIteration[3].prefill_tokens, out.perIteration[3].decode_tokens]).toEqual([12, 0]);
    expect(out.transitions.map((t) => [t.from_state, t.to_state, t.detail])).toEqual([
      [null, "waiting", "arrival"], ["waiting", "running", "admit"], ["running", "running", "next_turn"],
    ]);
    const admitted = out.events.filter((e) => e.event_type === "request_admitted").map((e) => JSON.parse(e.details));
    expect(admitted).toEqual([{ cached_tokens: 0 }, { cached_tokens: 10, turn: 1 }]);
  });
});
