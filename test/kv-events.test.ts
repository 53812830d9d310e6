import { describe, expect, test } from "vitest";
import type { HeaderRecord, KvRecord, RawRecord, StepRecord, UpdateRecord } from "../src/schema/raw.js";
import { replay } from "./helpers/collect.js";

// KV-connector records (trace schema 1.4, emitter/src/vsched_emitter/kv_connector.py): each one
// an events row, and a request whose asynchronous load is in flight waits as remote_kv_transfer
// until the load ends, whatever else holds the queue.

const header: HeaderRecord = {
  type: "header", schema_version: "1.4", emitter_version: "t", vllm_version: "t", pid: 1, dp_rank: 0, level: "full",
  clock: { epoch_ns: "1700000000000000000", monotonic_ns: "5000" },
  config: {
    scheduler_class: "Scheduler", policy: "fcfs", max_num_seqs: 1, max_num_batched_tokens: 100, max_model_len: 1000,
    max_loras: null, num_gpu_blocks: 65, block_size: 4, bytes_per_block: 64, enable_chunked_prefill: true,
    enable_prefix_caching: true, async_scheduling: false, long_prefill_token_threshold: 0, num_spec_tokens: 0, log_stats: true,
  },
  capabilities: { kv_connector_transfers: true, kv_connector_jobs: true }, not_captured: [],
};
const arrival = (req: string, t: number): RawRecord => ({
  type: "arrival", t, req, vllm_arrival_epoch_ns: null, prompt_tokens: 8, max_tokens: 4, priority: 0, lora: null, status: "WAITING",
});
const step = (n: number, t: number, over: Partial<StepRecord>): StepRecord => ({
  type: "step", step: n, t_start: t, t_end: t + 2, sched_t: null, sched: [], new: [], resumed: [], preempted: [], kv_fail: [],
  free_blocks: 60, running: 0, waiting: 0, budget_left: 100, stop: null, skipped: [], blocks: [], order: null, ...over,
});
const update = (n: number, t: number, over: Partial<UpdateRecord> = {}): UpdateRecord => ({
  type: "update", step: n, t_start: t, t_end: t + 2, out_t: null, tokens: [], finished: [], free_blocks: 60, running: 0, waiting: 0, ...over,
});
const kv = (t: number, req: string, event: KvRecord["event"], over: Partial<KvRecord> = {}): KvRecord => ({
  type: "kv", t, req, event, tokens: null, async: null, job: null, direction: null, blocks: null, ...over,
});

describe("KV-connector records", () => {
  const records: RawRecord[] = [
    header,
    arrival("a", 0), arrival("b", 1),
    // a runs (the one seat); b's blocks are allocated and its 8 tokens load asynchronously
    step(0, 10, { new: [["a", 0]], sched: [["a", 8, 0]], running: 1, waiting: 1, stop: { cause: "max_num_seqs", req: null } }),
    kv(11, "b", "load_start", { tokens: 8, async: true }),
    kv(11, "b", "transfer_start", { job: 7, direction: "load", blocks: 2 }),
    update(0, 20, { tokens: [["a", 1]], running: 1, waiting: 1 }),
    step(1, 30, { sched: [["a", 1, 8]], running: 1, waiting: 1, stop: { cause: "max_num_seqs", req: null } }),
    update(1, 40, { tokens: [["a", 1]], running: 1, waiting: 1 }),
    kv(41, "b", "transfer_end", { job: 7, direction: "load" }),
    kv(41, "b", "load_end"),
    step(2, 50, { sched: [["a", 1, 9]], running: 1, waiting: 1, stop: { cause: "max_num_seqs", req: null } }),
    update(2, 60, { tokens: [["a", 1]], running: 1, waiting: 1 }),
  ];
  const out = replay(records);

  test("each record is an events row with its details", () => {
    const rows = out.events.filter((e) => e.event_type.startsWith("kv_") && e.event_type !== "kv_cache_allocated");
    expect(rows.map((e) => [e.timestamp, e.event_type, e.request_id, JSON.parse(e.details)])).toEqual([
      [11, "kv_load_started", "b", { tokens: 8, async: true }],
      [11, "kv_transfer_started", "b", { job: 7, direction: "load", blocks: 2 }],
      [41, "kv_transfer_finished", "b", { job: 7, direction: "load" }],
      [41, "kv_load_finished", "b", {}],
    ]);
  });

  test("from the step after its async load started until the load ended, b waits for the remote KV", () => {
    const b = out.perIterationRequests.filter((r) => r.request_id === "b").map((r) => [r.iteration_id, r.waiting_reason]);
    expect(b).toEqual([[0, "max_num_seqs"], [1, "remote_kv_transfer"], [2, "max_num_seqs"]]);
    const pr = out.perRequest.find((r) => r.request_id === "b")!;
    expect(pr.wait_remote_kv_transfer_ns).toBeGreaterThan(0);
  });
});

test("a kv record of a request the trace never saw is an error finding, not a row", () => {
  const out = replay([header, { type: "kv", t: 5, req: "ghost", event: "store_end", tokens: null, async: null, job: null, direction: null, blocks: null }]);
  expect(out.events).toEqual([]);
  expect(out.findings.map((f) => [f.code, f.severity, f.args])).toEqual([["ENGINE_UNKNOWN_REQUEST", "error", { request_id: "ghost", record: "kv" }]]);
});
