/** Tiny synthetic raw traces for reader tests (they test parsing, not scheduling). */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StepRecord, UpdateRecord } from "../../src/schema/raw.js";

const MS = 1_000_000;

export function header(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "header",
    schema_version: "1.0",
    emitter_version: "0.1.0",
    vllm_version: "0.11.0",
    pid: 100,
    dp_rank: 0,
    level: "full",
    clock: { epoch_ns: "1760000000000000000", monotonic_ns: "5000000000000" },
    config: {
      scheduler_class: "Scheduler",
      policy: "fcfs",
      max_num_seqs: 4,
      max_num_batched_tokens: 64,
      max_model_len: 256,
      max_loras: null,
      num_gpu_blocks: 65,
      block_size: 16,
      bytes_per_block: null,
      enable_chunked_prefill: true,
      enable_prefix_caching: false,
      async_scheduling: false,
      long_prefill_token_threshold: 0,
      num_spec_tokens: 0,
      log_stats: true,
    },
    capabilities: { waiting_order: true },
    not_captured: [],
    ...over,
  };
}

export const arrival = (req: string, t: number) => ({
  type: "arrival",
  t,
  req,
  vllm_arrival_epoch_ns: null,
  prompt_tokens: 8,
  max_tokens: 2,
  priority: 0,
  lora: null,
  status: "WAITING",
});

export const jsonl = (...records: unknown[]): string => records.map((r) => (typeof r === "string" ? r : JSON.stringify(r)) + "\n").join("");

export const tmpDir = (): string => mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));

/** a step record of an empty batch: schedule() entered at t, returned 1 ms later */
export const stepRecord = (n: number, t: number): StepRecord => ({
  type: "step", step: n, t_start: t, t_end: t + 1 * MS, sched_t: null, sched: [], new: [], resumed: [], preempted: [], kv_fail: [],
  free_blocks: 10, running: 0, waiting: 0, budget_left: 100, stop: null, skipped: [], blocks: [], order: null,
});

/** step n's update record, entered at t and 1 ms long; `gpu` (trace schema 1.6's update.gpu) left out when undefined */
export const updateRecord = (n: number, t: number, gpu?: UpdateRecord["gpu"]): UpdateRecord => ({
  type: "update", step: n, t_start: t, t_end: t + 1 * MS, out_t: null, tokens: [], finished: [], free_blocks: 10, running: 0, waiting: 0,
  ...(gpu === undefined ? {} : { gpu }),
});
