import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { tablesMarkdown } from "../src/render/tables-doc.js";
import { tableColumns } from "../src/schema/tables.js";

test("docs/tables.md is generated from the current schema (npm run docs:tables)", () => {
  expect(readFileSync(join(import.meta.dirname, "..", "docs", "tables.md"), "utf8")).toBe(tablesMarkdown());
});

test("the seed's columns come first, in the seed's order", () => {
  // seed 000 §5, verbatim
  const seed = {
    per_request: "request_id,arrival_time,first_scheduled_time,completion_time,waiting_time,execution_time,e2e_latency,input_tokens,output_tokens,ttft,tpot,throughput,preemption_count,eviction_count,kv_cache_blocks",
    per_iteration: "iteration_id,start_time,end_time,duration,scheduling_overhead,forward_duration,batch_size,total_tokens,prefill_tokens,decode_tokens,kv_cache_used,kv_cache_total,running_count,waiting_count,preempted_count,scheduler_action",
    per_iteration_requests: "iteration_id,request_id,state,queue_position,waiting_reason,tokens_generated,kv_cache_blocks,time_in_state",
    events: "timestamp,event_type,request_id,details",
  } as const;
  for (const [table, cols] of Object.entries(seed)) {
    const want = cols.split(",");
    expect(tableColumns(table as keyof typeof seed).slice(0, want.length)).toEqual(want);
  }
});
