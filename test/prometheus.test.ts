import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { replay } from "./helpers/collect.js";
import { FIXTURES, readTrace, traceFiles } from "./helpers/fixtures.js";

/**
 * The trace of a real `vllm serve` (CPU build, emitter loaded as a general plugin in its
 * EngineCore process) against that server's own Prometheus metrics, scraped at the end of
 * the run (fixtures/e2e-vllm-cpu, recorded by emitter/e2e/run_e2e.py).
 */
const dir = join(FIXTURES, "e2e-vllm-cpu");

function prom(text: string): (name: string, label?: string) => number {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_:]+)(\{[^}]*\})? ([-+0-9.e]+)$/i.exec(line);
    if (!m) continue;
    const key = m[1];
    const labels = m[2] ?? "";
    values.set(key, (values.get(key) ?? 0) + Number(m[3]));
    const reason = /finished_reason="([a-z]+)"/.exec(labels);
    if (reason) values.set(`${key}|${reason[1]}`, Number(m[3]));
  }
  return (name, label) => {
    const v = values.get(label ? `${name}|${label}` : name);
    if (v === undefined) throw new Error(`metric ${name} ${label ?? ""} not in metrics.prom`);
    return v;
  };
}

describe("a real vllm serve run", () => {
  const metric = prom(readFileSync(join(dir, "metrics.prom"), "utf8"));
  const out = replay(readTrace(traceFiles("e2e-vllm-cpu").find((f) => f.includes("/trace/"))!));
  const rows = out.perRequest;
  const sumS = (col: keyof (typeof rows)[number]) => rows.reduce((a, r) => a + (r[col] as number), 0) / 1e9;

  test("every request the server finished is in per_request, with the same finish reasons and tokens", () => {
    expect(rows.length).toBe(metric("vllm:request_queue_time_seconds_count"));
    expect(rows.filter((r) => r.finish_reason === "length").length).toBe(metric("vllm:request_success_total", "length"));
    expect(rows.reduce((a, r) => a + r.output_tokens, 0)).toBe(metric("vllm:request_generation_tokens_sum"));
    expect(rows.reduce((a, r) => a + r.input_tokens, 0)).toBe(metric("vllm:request_prompt_tokens_sum"));
  });

  test("preemptions equal vllm:num_preemptions_total", () => {
    expect(rows.reduce((a, r) => a + r.preemption_count, 0)).toBe(metric("vllm:num_preemptions_total"));
    expect(out.perIteration.reduce((a, r) => a + r.preempted_count, 0)).toBe(metric("vllm:num_preemptions_total"));
  });

  test("queue, prefill, decode and inference time sums equal vLLM's histograms (same engine clock)", () => {
    expect(sumS("vllm_queued_time")).toBeCloseTo(metric("vllm:request_queue_time_seconds_sum"), 6);
    expect(sumS("vllm_prefill_time")).toBeCloseTo(metric("vllm:request_prefill_time_seconds_sum"), 6);
    expect(sumS("vllm_decode_time")).toBeCloseTo(metric("vllm:request_decode_time_seconds_sum"), 6);
    expect(sumS("vllm_inference_time")).toBeCloseTo(metric("vllm:request_inference_time_seconds_sum"), 6);
  });

  test("vLLM's TTFT (API server clock) lies between the engine-side TTFT and the one from vLLM's arrival time plus the return trip", () => {
    const engineSide = sumS("ttft");
    const fromArrival = sumS("ttft_from_vllm_arrival");
    const vllm = metric("vllm:time_to_first_token_seconds_sum");
    expect(engineSide).toBeLessThan(vllm);
    expect(fromArrival).toBeLessThanOrEqual(vllm);
    // what remains is the engine→API-server return trip: milliseconds per request, not seconds
    expect((vllm - fromArrival) / rows.length).toBeLessThan(0.05);
  });

  test("the final KV usage and queue counts equal the scraped gauges", () => {
    const last = out.perIteration[out.perIteration.length - 1];
    expect(last.kv_cache_utilization).toBeCloseTo(metric("vllm:kv_cache_usage_perc"), 9);
    expect(last.running_count_after_update).toBe(metric("vllm:num_requests_running"));
    expect(last.waiting_count_after_update).toBe(metric("vllm:num_requests_waiting"));
  });
});
