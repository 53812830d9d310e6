import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { TraceRecordParser } from "../../src/parse/records.js";
import type { RawRecord } from "../../src/schema/raw.js";

export const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures");

/** Fixture dirs recorded by scripts/record-fixtures.sh: a trace and vLLM's oracle.jsonl. */
export function fixtureNames(): string[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES)
    .filter((d) => existsSync(join(FIXTURES, d, "oracle.jsonl")))
    .sort();
}

function readLines(path: string): string[] {
  const buf = readFileSync(path);
  const text = (path.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8");
  return text.split("\n").filter((l) => l.length > 0);
}

export function traceFiles(name: string): string[] {
  const dir = join(FIXTURES, name);
  const direct = readdirSync(dir).filter((f) => /\.jsonl(\.gz)?$/.test(f) && f !== "oracle.jsonl" && f !== "counterfactual.jsonl");
  const sub = existsSync(join(dir, "trace")) ? readdirSync(join(dir, "trace")).map((f) => join("trace", f)) : [];
  return [...direct, ...sub].filter((f) => /\.jsonl(\.gz)?$/.test(f)).sort().map((f) => join(dir, f));
}

/**
 * Test-side reader: fixtures are small, so whole-file reads are fine here (never in src/).
 * Records go through the CLI's one reader, so schema 1.3's handles and deltas come back
 * resolved, as the engine sees them; the header first.
 */
export function readTrace(path: string): RawRecord[] {
  const out: RawRecord[] = [];
  const parser = new TraceRecordParser(path, { lenient: false }, (r) => out.push(r), (h) => out.push(h as unknown as RawRecord));
  readLines(path).forEach((l, i) => parser.line(l, i + 1));
  return out;
}

/** The records as written (no decoding): for tests of the wire form itself. */
export function readWireRecords(path: string): Record<string, unknown>[] {
  return readLines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface OracleRequest {
  type: "request";
  req: string;
  arrival_time: number;
  queued_ts: number;
  scheduled_ts: number;
  first_token_ts: number;
  last_token_ts: number;
  queued_time: number;
  prefill_time: number;
  decode_time: number;
  inference_time: number;
  mean_time_per_output_token: number;
  num_generation_tokens: number;
  num_preemptions: number;
  finish_reason: string | null;
  /** earlier requests with this id (vLLM lets a finished id be reused); absent for the first */
  instance?: number;
  /** vLLM's engine-core events of this request, in order: [QUEUED|SCHEDULED|PREEMPTED, monotonic s] */
  events: [string, number][];
  /** streaming-input sessions only: each chunk boundary's [EngineCoreOutputs.timestamp, finish reason] */
  turn_ends?: [number, string][];
  /** streaming-input sessions only: the token timestamp of each turn's first output */
  turn_first_token_ts?: number[];
}
export interface OracleStep {
  type: "step";
  step: number;
  num_running_reqs: number;
  num_waiting_reqs: number;
  kv_cache_usage: number;
  waiting_order: string[];
  running?: string[];
}
/** vLLM's Request.num_computed_tokens read inside _preempt_request, just before it is reset (vLLM ≥ 0.12) */
export interface OraclePreemption {
  type: "preemption";
  step: number;
  req: string;
  num_computed_tokens: number;
  instance?: number;
}
export interface Oracle {
  meta: { vllm_version: string; anchor_monotonic_ns: number | string };
  /** keyed by lifetimeKey(req, instance) */
  requests: Map<string, OracleRequest>;
  steps: Map<number, OracleStep>;
  /** in the order vLLM preempted */
  preemptions: OraclePreemption[];
}

/** one request lifetime: a request id can be used again once its request finished */
export const lifetimeKey = (id: string, instance: number): string => `${id}#${instance}`;

export function readOracle(name: string): Oracle {
  const lines = readLines(join(FIXTURES, name, "oracle.jsonl")).map((l) => JSON.parse(l));
  const meta = lines.find((l) => l.type === "meta");
  return {
    meta,
    requests: new Map(lines.filter((l) => l.type === "request").map((l) => [lifetimeKey(l.req, l.instance ?? 0), l])),
    steps: new Map(lines.filter((l) => l.type === "step").map((l) => [l.step, l])),
    preemptions: lines.filter((l) => l.type === "preemption"),
  };
}
