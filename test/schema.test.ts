/**
 * `vsched schema`: the committed schema/*.json are exactly what the zod declarations
 * generate (regenerate with `npm run schema:export`), and the CLI prints / writes them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { schemaFileText } from "../src/cli/commands/schema.js";
import { allJsonSchemas } from "../src/schema/json-schema.js";
import { TABLE_NAMES } from "../src/schema/tables.js";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";

const committed = path.join(ROOT, "schema");
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("committed JSON Schemas", () => {
  test("schema/ holds exactly the generated files, and none is stale (npm run schema:export rewrites them)", () => {
    const all = allJsonSchemas();
    expect(readdirSync(committed).filter((f) => f.endsWith(".json")).sort()).toEqual(Object.keys(all).sort());
    for (const [name, schema] of Object.entries(all)) {
      expect(readFileSync(path.join(committed, name), "utf8"), `schema/${name} is stale: run npm run schema:export`).toBe(schemaFileText(schema));
    }
  });
  test("table schemas list the columns in the order convert writes them, the spec's columns first", async () => {
    // the header lines of seed 000 §5, copied from the spec (not from the code): its four
    // tables start with these columns, in this order; later columns are only appended
    const SPEC: Record<string, string> = {
      per_request: "request_id,arrival_time,first_scheduled_time,completion_time,waiting_time,execution_time,e2e_latency,input_tokens,output_tokens,ttft,tpot,throughput,preemption_count,eviction_count,kv_cache_blocks",
      per_iteration: "iteration_id,start_time,end_time,duration,scheduling_overhead,forward_duration,batch_size,total_tokens,prefill_tokens,decode_tokens,kv_cache_used,kv_cache_total,running_count,waiting_count,preempted_count,scheduler_action",
      per_iteration_requests: "iteration_id,request_id,state,queue_position,waiting_reason,tokens_generated,kv_cache_blocks,time_in_state",
      events: "timestamp,event_type,request_id,details",
    };
    const out = path.join(tmp, "logs");
    expect((await runCli(["convert", "fixtures/ab-isrtf-oracle/vsched-1-dp0.jsonl.gz", "-o", out, "--format", "csv"])).exitCode).toBe(0);
    for (const t of TABLE_NAMES) {
      const s = JSON.parse(readFileSync(path.join(committed, `${t}.schema.json`), "utf8")) as { properties: Record<string, unknown> };
      const header = readFileSync(path.join(out, `${t}.csv`), "utf8").split("\n")[0].split(",");
      expect(Object.keys(s.properties), t).toEqual(header);
      if (SPEC[t]) expect(header.slice(0, SPEC[t].split(",").length).join(","), t).toBe(SPEC[t]);
    }
    expect(Object.keys(SPEC).every((t) => (TABLE_NAMES as readonly string[]).includes(t))).toBe(true);
  });
});

describe("vsched schema", () => {
  test("--write DIR writes files identical to the committed ones", async () => {
    const out = path.join(tmp, "out");
    const r = await runCli(["schema", "--write", out]);
    expect(r.exitCode).toBe(0);
    for (const f of readdirSync(committed)) expect(readFileSync(path.join(out, f), "utf8")).toBe(readFileSync(path.join(committed, f), "utf8"));
    expect(readdirSync(out).sort()).toEqual(readdirSync(committed).filter((f) => f.endsWith(".json")).sort());
  });
  test("--table NAME prints that schema, byte for byte", async () => {
    for (const [arg, file] of [["raw", "raw-trace.schema.json"], ["per_request", "per_request.schema.json"]]) {
      const r = await runCli(["schema", "--table", arg]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(readFileSync(path.join(committed, file), "utf8"));
    }
  });
  test("no option prints every schema keyed by file name", async () => {
    const r = await runCli(["schema"]);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(Object.keys(allJsonSchemas()));
  });
  test("golden: one table", async () => {
    expectGolden("test/golden/schema-table-events.md", await runCli(["schema", "--table", "events"]));
  });
  test("golden: --write", async () => {
    expectGolden("test/golden/schema-write.md", await runCli(["schema", "--write", "out"], { cwd: tmp }));
  });
  test("golden: an unknown table is a usage error (exit 2)", async () => {
    const r = await runCli(["schema", "--table", "per_banana"]);
    expect(r.exitCode).toBe(2);
    expectGolden("test/golden/schema-unknown-table.md", r);
  });
});
