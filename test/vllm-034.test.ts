import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { replay } from "./helpers/collect.js";
import { readOracle, readTrace, readWireRecords, traceFiles } from "./helpers/fixtures.js";

/**
 * vLLM 0.34's new scheduler paths and researchers' own scheduler classes, each recorded by
 * scripts/record-fixtures.sh on the real 0.34.0 scheduler. test/oracle.test.ts checks every
 * fixture against vLLM's own figures (intervals, SchedulerStats counts, the true queue order at
 * every step); here: that each path really fired in vLLM (the oracle's own records say so)
 * and that the trace and tables name it.
 */
interface OracleLine {
  type: string;
  step?: number;
  async_kv_waiting?: string[];
  running?: string[];
  waiting_order?: string[];
  before?: string[];
  after?: string[];
}
const oracleLines = (name: string) => readWireRecords(join("fixtures", name, "oracle.jsonl")) as unknown as OracleLine[];
const load = (name: string) => {
  const records = readTrace(traceFiles(name)[0]);
  return { records, header: records[0] as HeaderRecord, out: replay(records) };
};
const stepsOf = (records: RawRecord[]) => records.filter((r): r is Extract<RawRecord, { type: "step" }> => r.type === "step");

describe("v0.34-async-kv-cap: async_kv_waiting under --max-num-inflight-kv-loads", () => {
  const name = "v0.34-async-kv-cap";
  const { header, out } = load(name);
  const asyncAt = new Map(oracleLines(name).filter((l) => l.type === "step").map((l) => [l.step!, new Set(l.async_kv_waiting ?? [])]));

  test("vLLM kept requests in its third queue, and the header says the emitter captured it", () => {
    expect([...asyncAt.values()].filter((s) => s.size > 0).length).toBeGreaterThan(10);
    expect(header.capabilities.async_kv_waiting_queue).toBe(true);
    expect(header.capabilities.kv_load_cap).toBe(true);
    // loads started move to the KV-holding queue: positions only from full-level traces
    expect(header.capabilities.queue_order_rule).toBe(false);
  });

  test("kv_load_cap labels only requests vLLM held in async_kv_waiting at that step, and accounts for real time", () => {
    const capped = out.perIterationRequests.filter((r) => r.waiting_reason === "kv_load_cap");
    expect(capped.length).toBeGreaterThan(20);
    for (const r of capped) expect(asyncAt.get(r.iteration_id)?.has(r.request_id), `${r.request_id}@${r.iteration_id}`).toBe(true);
    expect(out.perRequest.reduce((s, r) => s + r.wait_kv_load_cap_ns, 0)).toBeGreaterThan(1e9);
  });
});

describe("v0.34-cache-aware: cache_aware_admission_window reorders the queue head", () => {
  const name = "v0.34-cache-aware";
  const { records, header, out } = load(name);
  const reorders = oracleLines(name).filter((l) => l.type === "reorder");
  const runningAt = new Map(oracleLines(name).filter((l) => l.type === "step").map((l) => [l.step!, new Set(l.running ?? [])]));

  test("vLLM reordered, and every reorder is a waiting_reordered event of its step with vLLM's own order", () => {
    expect(reorders.length).toBeGreaterThan(3);
    const events = out.events.filter((e) => e.event_type === "waiting_reordered");
    expect(events.map((e) => e.iteration_id)).toEqual(reorders.map((r) => r.step));
    events.forEach((e, i) => {
      const d = JSON.parse(e.details) as { cause: string; before: string[]; after: string[] };
      expect(d.cause).toBe("cache_aware_admission");
      expect(d.before).toEqual(reorders[i].before!.slice(0, d.before.length));
      expect(d.after).toEqual(reorders[i].after!.slice(0, d.after.length));
    });
    expect(stepsOf(records).filter((s) => s.reorder).length).toBe(reorders.length);
    expect([header.capabilities.cache_aware_reorder, header.capabilities.queue_order_rule]).toEqual([true, false]);
  });

  test("cache_aware_outranked: vLLM moved a request that it then admitted from behind this one to ahead of it", () => {
    const byStep = new Map(reorders.map((r) => [r.step!, r]));
    const outranked = out.perIterationRequests.filter((r) => r.waiting_reason === "cache_aware_outranked");
    expect(outranked.length).toBeGreaterThan(0);
    for (const row of outranked) {
      const r = byStep.get(row.iteration_id)!;
      expect(r, `step ${row.iteration_id}`).toBeDefined();
      const running = runningAt.get(row.iteration_id)!;
      const passedBy = r.before!.filter((id, i) => i > r.before!.indexOf(row.request_id) && running.has(id) && r.after!.indexOf(id) < r.after!.indexOf(row.request_id));
      expect(passedBy.length, `${row.request_id}@${row.iteration_id}`).toBeGreaterThan(0);
      expect(running.has(row.request_id)).toBe(false);
    }
  });
});

describe("v0.34-mid-step-inputs: arrivals and aborts while a step executes", () => {
  const { records } = load("v0.34-mid-step-inputs");

  test("requests arrive, and requests of the step in flight are aborted, between its schedule() and its update", () => {
    let inFlight: Set<string> | null = null;
    let arrivals = 0;
    let abortedInFlight = 0;
    for (const r of records) {
      if (r.type === "step") inFlight = new Set(r.sched.map((x) => x[0]));
      else if (r.type === "update") inFlight = null;
      else if (r.type === "arrival" && inFlight) arrivals++;
      else if (r.type === "finish" && inFlight?.has(r.req)) {
        expect(r.reason).toBe("abort");
        abortedInFlight++;
      }
    }
    expect(arrivals).toBeGreaterThan(10);
    expect(abortedInFlight).toBeGreaterThan(0);
  });
});

describe("researchers' scheduler classes (--scheduler-cls)", () => {
  test("schedule() overridden (shortest job first over AsyncScheduler): the header names the override and vLLM's order is not FCFS", () => {
    const { header } = load("v0.34-sjf-schedule");
    expect(header.config.scheduler_class).toBe("vsched_emitter.harness.research_schedulers.AsyncSJFScheduler");
    expect(header.config.async_scheduling).toBe(true);
    expect(header.capabilities.queue_order_rule).toBe(false);
    expect(header.not_captured.map((n) => n.what)).toContain("what ShortestJobFirst.schedule does around vLLM's own schedule");
    expect(reordered(readOracle("v0.34-sjf-schedule").steps)).toBe(true);
  });

  test("the request queue swapped after __init__: the header names the queue class as the policy", () => {
    const { header } = load("v0.34-queue-swap");
    expect(header.config.policy).toBe("ShortestPromptQueue");
    expect(header.capabilities.queue_order_rule).toBe(false);
    expect(header.not_captured).toEqual([]);
    expect(reordered(readOracle("v0.34-queue-swap").steps)).toBe(true);
  });
});

/** some step of vLLM's true waiting order is not in arrival order (request ids count up in arrival order) */
function reordered(steps: Map<number, { waiting_order: string[] }>): boolean {
  const rank = (id: string) => Number(id.replace(/\D/g, ""));
  return [...steps.values()].some((s) => s.waiting_order.some((id, i) => i > 0 && rank(id) < rank(s.waiting_order[i - 1])));
}
