import { buildManifest } from "../../src/sinks/manifest.js";
import { FindingTally } from "../../src/pipeline/finding-tally.js";
/**
 * Small but realistic logs directories for the summary / validate tests, written
 * without vsched's own writers: a tiny step-by-step scheduler simulation (FCFS,
 * chunked prefill, a KV pool that forces preemptions) produces rows that obey every
 * documented invariant, and papaparse.unparse writes them with the columns in
 * tableColumns() order. Deterministic for a given seed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Papa from "papaparse";
import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, tableColumns, type TableName } from "../../src/schema/tables.js";
import { BIND_BUCKETS } from "../../src/schema/binding.js";
import { WAITING_REASONS } from "../../src/schema/waiting.js";

type Row = Record<string, string | number | null>;

export interface FixtureOptions {
  seed?: number;
  requests?: number;
  maxNumSeqs?: number;
  tokenBudget?: number;
  kvBlocks?: number;
  /** leave this many requests unfinished at the end, and abort one */
  unfinished?: number;
  withPredictions?: boolean;
}

export interface Fixture {
  tables: Record<TableName, Row[]>;
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

interface Req {
  id: string;
  arrival: number;
  prompt: number;
  outLen: number;
  computed: number;
  out: number;
  state: "pending" | "waiting" | "preempted" | "running" | "done";
  everAdmitted: boolean;
  stateSince: number;
  waitSince: number;
  accountedTo: number;
  cause: string;
  waits: Record<string, number>;
  waiting: number;
  longest: number;
  firstSched: number | null;
  firstTok: number | null;
  lastTok: number | null;
  preemptions: number;
  recomputed: number;
  recomputeUntil: number;
  peakBlocks: number;
  iterations: number;
  predicted: number | null;
}

const BLOCK = 16;
const blocksFor = (tokens: number) => Math.ceil(tokens / BLOCK);

export function simulate(o: FixtureOptions = {}): Fixture {
  const rand = rng(o.seed ?? 7);
  const n = o.requests ?? 24;
  const maxSeqs = o.maxNumSeqs ?? 4;
  const budget = o.tokenBudget ?? 96;
  const kvTotal = o.kvBlocks ?? 24;
  const unfinished = o.unfinished ?? 1;
  const tables: Record<TableName, Row[]> = { per_request: [], per_iteration: [], per_iteration_requests: [], events: [], state_transitions: [], predictions: [] };
  const events: Row[] = [];
  const transitions: Row[] = [];

  const reqs: Req[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += Math.round(50_000 + rand() * 600_000);
    const outLen = 2 + Math.floor(rand() * 30);
    reqs.push({
      id: `req-${String(i).padStart(3, "0")}`,
      arrival: t,
      prompt: 8 + Math.floor(rand() * 120),
      outLen: i === 3 ? 1 : outLen,
      computed: 0,
      out: 0,
      state: "pending",
      everAdmitted: false,
      stateSince: t,
      waitSince: t,
      accountedTo: t,
      cause: "arrived_after_decision",
      waits: Object.fromEntries(WAITING_REASONS.map((r) => [r, 0])),
      waiting: 0,
      longest: 0,
      firstSched: null,
      firstTok: null,
      lastTok: null,
      preemptions: 0,
      recomputed: 0,
      recomputeUntil: 0,
      peakBlocks: 0,
      iterations: 0,
      predicted: o.withPredictions === false ? null : Math.round(outLen * (0.5 + rand()) * 100) / 100,
    });
  }
  const abortId = reqs[5].id;
  const ev = (ts: number, type: string, id: string | null, details: object) => events.push({ timestamp: ts, event_type: type, request_id: id, details: JSON.stringify(details) });
  const tr = (id: string, ts: number, from: string | null, to: string, it: number | null, detail: string | null) =>
    transitions.push({ request_id: id, timestamp: ts, from_state: from, to_state: to, iteration_id: it, detail });

  const waiting: Req[] = [];
  const running: Req[] = [];
  let clock = 0;
  const account = (r: Req, now: number) => {
    if (now > r.accountedTo) r.waits[r.cause] += now - r.accountedTo;
    r.accountedTo = now;
  };
  const leaveWaiting = (r: Req, now: number) => {
    account(r, now);
    const stretch = now - r.waitSince;
    r.waiting += stretch;
    r.longest = Math.max(r.longest, stretch);
  };
  const finishRow = (r: Req, completion: number | null, reason: string, from: string | null) => {
    const e2e = completion === null ? null : completion - r.arrival;
    const tpot = r.firstTok !== null && r.lastTok !== null && r.out >= 2 ? Math.round((r.lastTok - r.firstTok) / (r.out - 1)) : null;
    const row: Row = {
      request_id: r.id,
      arrival_time: r.arrival,
      first_scheduled_time: r.firstSched,
      completion_time: completion,
      waiting_time: r.waiting,
      execution_time: e2e === null ? 0 : e2e - r.waiting,
      e2e_latency: e2e,
      input_tokens: r.prompt,
      output_tokens: r.out,
      ttft: r.firstTok === null ? null : r.firstTok - r.arrival,
      tpot,
      throughput: e2e ? r.out / (e2e / 1e9) : null,
      preemption_count: r.preemptions,
      eviction_count: 0,
      kv_cache_blocks: r.peakBlocks,
      arrival_time_epoch_ns: String(1_700_000_000_000_000_000n + BigInt(r.arrival)),
      first_token_time: r.firstTok,
      last_token_time: r.lastTok,
      finish_reason: reason,
      finished_from: from,
      priority: 0,
      predicted_remaining_tokens: r.predicted,
      longest_wait: r.longest,
      recomputed_tokens: r.recomputed,
      iterations_scheduled: r.iterations,
      total_tokens: r.prompt + r.out,
      dp_rank: 0,
    };
    for (const c of WAITING_REASONS) row[`wait_${c}_ns`] = r.waits[c];
    for (const b of BIND_BUCKETS) row[`bind_${b}_ns`] = b === "none" ? row.waiting_time : 0; // the bind_ columns sum to waiting_time
    row.input_chunks = 1; // no streaming-input sessions in this simulation
    tables.per_request.push(row);
  };

  let step = 0;
  let next = 0;
  while (step < 2000) {
    const start = clock;
    // arrivals up to now
    while (next < reqs.length && reqs[next].arrival <= start) {
      const r = reqs[next++];
      r.state = "waiting";
      r.waitSince = r.arrival;
      r.accountedTo = r.arrival;
      waiting.push(r);
      ev(r.arrival, "request_arrived", r.id, { prompt_tokens: r.prompt });
      tr(r.id, r.arrival, null, "waiting", null, null);
    }
    if (next >= reqs.length && waiting.length === 0 && running.length === 0) break;
    if (waiting.length === 0 && running.length === 0) {
      clock = reqs[next].arrival;
      continue;
    }
    // abort one request while it waits or runs, once it exists
    const ab = [...waiting, ...running].find((r) => r.id === abortId && step > 6);
    if (ab) {
      if (ab.state === "running") running.splice(running.indexOf(ab), 1);
      else {
        waiting.splice(waiting.indexOf(ab), 1);
        leaveWaiting(ab, start);
      }
      const from = ab.state === "running" ? "running" : "waiting";
      ev(start, "request_completed", ab.id, { reason: "abort" });
      tr(ab.id, start, ab.state, "completed", null, "abort");
      ab.state = "done";
      finishRow(ab, start, "abort", from);
    }

    // ---- schedule()
    const overhead = 20_000 + 3_000 * (running.length + waiting.length);
    const D = start + overhead; // decision time
    let left = budget;
    const sched = new Map<Req, number>();
    let prefillTok = 0;
    let decodeTok = 0;
    let recompute = 0;
    let prefillReqs = 0;
    let decodeReqs = 0;
    let chunkMin: number | null = null;
    let chunkMax: number | null = null;
    let preempted = 0;
    const usedBlocks = () => running.reduce((a, r) => a + blocksFor(r.computed), 0);
    /** blocks in use once this step's scheduled tokens are computed */
    const projected = () => running.reduce((a, r) => a + blocksFor(r.computed + (sched.get(r) ?? 0)), 0);
    for (const r of [...running]) {
      if (!running.includes(r)) continue;
      const need = r.computed < r.prompt + r.out ? r.prompt + r.out - r.computed : 1;
      const k = Math.min(need, left);
      if (k <= 0) break;
      // KV: preempt the last running request while the pool is short
      while (projected() - blocksFor(r.computed) + blocksFor(r.computed + k) > kvTotal && running.length > 1) {
        const victim = running[running.length - 1];
        if (victim === r) break;
        running.pop();
        left += sched.get(victim) ?? 0;
        sched.delete(victim);
        victim.preemptions++;
        victim.recomputeUntil = victim.computed;
        victim.computed = 0;
        victim.state = "preempted";
        victim.stateSince = D;
        victim.waitSince = D;
        victim.accountedTo = D;
        victim.cause = "preempted";
        waiting.unshift(victim);
        preempted++;
        ev(D, "request_preempted", victim.id, {});
        tr(victim.id, D, "running", "preempted", step, "preempt");
      }
      if (projected() - blocksFor(r.computed) + blocksFor(r.computed + k) > kvTotal) continue;
      sched.set(r, k);
      left -= k;
    }
    let admitted = 0;
    let resumed = 0;
    while (waiting.length && running.length < maxSeqs && left > 0) {
      const r = waiting[0];
      const k = Math.min(r.prompt + r.out - r.computed, left);
      if (projected() + blocksFor(r.computed + k) > kvTotal) break;
      waiting.shift();
      leaveWaiting(r, D);
      if (r.everAdmitted) resumed++;
      else admitted++;
      ev(D, r.everAdmitted ? "request_resumed" : "request_admitted", r.id, {});
      tr(r.id, D, r.state, "running", step, r.everAdmitted ? "resume" : "admit");
      r.everAdmitted = true;
      r.firstSched ??= D;
      r.state = "running";
      r.stateSince = D;
      running.push(r);
      sched.set(r, k);
      left -= k;
    }
    for (const [r, k] of sched) {
      const before = r.computed;
      r.computed += k;
      r.iterations++;
      r.peakBlocks = Math.max(r.peakBlocks, blocksFor(r.computed));
      const isPrefill = before < r.prompt || before < r.recomputeUntil;
      if (isPrefill) {
        prefillTok += k;
        prefillReqs++;
        chunkMin = chunkMin === null ? k : Math.min(chunkMin, k);
        chunkMax = chunkMax === null ? k : Math.max(chunkMax, k);
        if (before < r.recomputeUntil) {
          const rc = Math.min(r.computed, r.recomputeUntil) - before;
          recompute += rc;
          r.recomputed += rc;
        }
      } else {
        decodeTok += k;
        decodeReqs++;
      }
    }
    // waiting causes for this decision
    for (const [pos, r] of waiting.entries()) {
      account(r, D);
      r.cause = r.state === "preempted" && pos === 0 && running.length >= maxSeqs ? "preempted" : running.length >= maxSeqs ? "max_num_seqs" : left <= 0 ? "max_num_batched_tokens" : "memory_insufficient";
    }
    // per_iteration_requests rows after schedule()
    for (const r of running) {
      const k = sched.get(r) ?? 0;
      tables.per_iteration_requests.push({
        iteration_id: step,
        request_id: r.id,
        state: "running",
        queue_position: null,
        waiting_reason: null,
        tokens_generated: r.out,
        kv_cache_blocks: blocksFor(r.computed),
        time_in_state: D - r.stateSince,
        scheduled_tokens: k,
        running_reason: k === 0 ? "running_unscheduled" : r.computed - k < r.recomputeUntil ? "recomputation" : r.computed < r.prompt ? "chunked_prefill" : null,
        waiting_phase: null,
        computed_tokens: r.computed,
        dp_rank: 0,
      });
    }
    for (const [pos, r] of waiting.entries()) {
      tables.per_iteration_requests.push({
        iteration_id: step,
        request_id: r.id,
        state: r.state === "preempted" ? "preempted" : "waiting",
        queue_position: pos,
        waiting_reason: r.cause,
        tokens_generated: r.out,
        kv_cache_blocks: 0,
        time_in_state: D - r.stateSince,
        scheduled_tokens: 0,
        running_reason: null,
        waiting_phase: r.everAdmitted ? "after_preemption" : "initial",
        computed_tokens: r.computed,
        dp_rank: 0,
      });
    }
    const usedAfterSchedule = usedBlocks();

    // ---- forward + update_from_output()
    const tokens = prefillTok + decodeTok;
    const forward = 300_000 + 4_000 * tokens + Math.round(rand() * 50_000);
    const updStart = D + forward;
    const updEnd = updStart + 15_000 + 1_000 * sched.size;
    let outTokens = 0;
    let completed = 0;
    for (const [r] of sched) {
      if (r.computed >= r.prompt + r.out && r.computed >= r.prompt) {
        r.out++;
        outTokens++;
        if (r.firstTok === null) {
          r.firstTok = updEnd;
          ev(updEnd, "first_token_generated", r.id, { ttft_ns: updEnd - r.arrival });
        }
        r.lastTok = updEnd;
        if (r.out >= r.outLen) {
          running.splice(running.indexOf(r), 1);
          completed++;
          tables.per_iteration_requests.push({
            iteration_id: step,
            request_id: r.id,
            state: "completed",
            queue_position: null,
            waiting_reason: null,
            tokens_generated: r.out,
            kv_cache_blocks: 0,
            time_in_state: 0,
            scheduled_tokens: 0,
            running_reason: null,
            waiting_phase: null,
            computed_tokens: r.computed,
            dp_rank: 0,
          });
          ev(updEnd, "request_completed", r.id, { reason: "length", output_tokens: r.out });
          tr(r.id, updEnd, "running", "completed", step, "length");
          r.state = "done";
          finishRow(r, updEnd, "length", "running");
        }
      }
    }
    const actions = [admitted ? "admit_new" : null, resumed ? "resume" : null, preempted ? "preempt" : null, sched.size - admitted - resumed > 0 ? "continue" : null, completed ? "finish" : null]
      .filter(Boolean)
      .join("+");
    const used = usedBlocks();
    tables.per_iteration.push({
      iteration_id: step,
      start_time: start,
      end_time: updEnd,
      duration: updEnd - start,
      scheduling_overhead: overhead,
      forward_duration: forward,
      batch_size: sched.size,
      total_tokens: tokens,
      prefill_tokens: prefillTok,
      decode_tokens: decodeTok,
      kv_cache_used: used,
      kv_cache_total: kvTotal,
      running_count: running.length,
      waiting_count: waiting.length,
      preempted_count: preempted,
      scheduler_action: actions || "idle",
      kv_cache_utilization: used / kvTotal,
      kv_cache_used_after_schedule: usedAfterSchedule,
      admitted_count: admitted,
      resumed_count: resumed,
      completed_count: completed,
      running_unscheduled_count: [...running].filter((r) => !sched.has(r)).length,
      num_prefill_reqs: prefillReqs,
      num_decode_reqs: decodeReqs,
      prefill_chunk_min: chunkMin,
      prefill_chunk_max: chunkMax,
      prefill_chunk_mean: prefillReqs ? prefillTok / prefillReqs : null,
      recompute_tokens: recompute,
      output_tokens: outTokens,
      token_budget_left: left,
      kv_alloc_failures: 0,
      update_duration: updEnd - updStart,
      running_count_after_update: running.length,
      waiting_count_after_update: waiting.length,
      dp_rank: 0,
    });
    clock = updEnd + 5_000;
    step++;
    // stop early leaving `unfinished` requests in flight
    if (next >= reqs.length && running.length + waiting.length <= unfinished && running.length + waiting.length > 0) break;
  }
  const end = clock;
  for (const r of [...running, ...waiting]) {
    if (r.state === "waiting" || r.state === "preempted") leaveWaiting(r, end);
    finishRow(r, null, "unfinished", null);
  }
  events.sort((a, b) => (a.timestamp as number) - (b.timestamp as number));
  tables.events = events.map((e) => ({ ...e, dp_rank: 0, request_instance: e.request_id === null ? null : 0 }));
  tables.state_transitions = transitions.map((x) => ({ ...x, dp_rank: 0, request_instance: 0 }));
  // schema 1.1: no id is reused here, and nothing is deferred
  for (const row of [...tables.per_request, ...tables.per_iteration_requests]) row.request_instance = 0;
  for (const row of tables.per_iteration) Object.assign(row, { waiting_queue_length: row.waiting_count, num_skipped_waiting_reqs: 0 });
  return { tables };
}

/** CSV text of a table: every column of the schema, in order; missing values empty. */
export function csvText(table: TableName, rows: Row[], columns = tableColumns(table)): string {
  const data = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? null : r[c])));
  return Papa.unparse({ fields: columns, data }, { newline: "\n" }) + "\n";
}

/** manifest.json as convert writes it (the one builder), for a simulated run with no trace sources. */
export function manifestFor(f: Fixture, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const m = buildManifest({
    vschedVersion: "0.0.0-test",
    options: { lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true },
    epochZeroNs: 0n,
    rows: Object.fromEntries(TABLE_NAMES.map((t) => [t, f.tables[t].length])) as Record<TableName, number>,
    sources: [],
    warnings: [],
    findings: new FindingTally(),
  });
  return { ...m, ...extra };
}

/** Writes the five CSVs and manifest.json into dir (created). */
export function writeLogsDir(dir: string, f: Fixture = simulate()): string {
  mkdirSync(dir, { recursive: true });
  for (const t of TABLE_NAMES) writeFileSync(path.join(dir, `${t}.csv`), csvText(t, f.tables[t]));
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifestFor(f), null, 2) + "\n");
  return dir;
}

/**
 * A logs directory converted by the built CLI from a recorded fixture trace
 * (fixtures/<name>/*.jsonl[.gz]; VSCHED_REAL_FIXTURE=<name> picks one), or null when
 * the repository has none yet.
 */
/** Fixtures recorded from vLLM's real scheduler that the summary and validate proofs run on. */
export const REAL_FIXTURES = ["e2e-vllm-cpu", "priority-policy", "kv-pressure-preempt", "v0.11-azure-conv", "repreempt-priority", "sessions-priority", "sessions-async"] as const;
/** fixtures whose request ids are reused after finishing (vLLM's real scheduler): one row per lifetime */
export const REUSED_ID_FIXTURES = ["reused-ids", "reused-ids-priority", "reused-ids-async"] as const;

/** Converts one recorded fixture's trace files (never its oracle.jsonl) with the built CLI. */
export async function realLogsDir(out: string, name: string): Promise<string> {
  const { existsSync, readdirSync } = await import("node:fs");
  const { runCli, ROOT } = await import("./golden.js");
  const dir = path.join(ROOT, "fixtures", name);
  const where = existsSync(path.join(dir, "trace")) ? path.join(dir, "trace") : dir;
  const traces = readdirSync(where)
    .filter((f) => /\.jsonl(\.gz)?$/.test(f) && f !== "oracle.jsonl" && f !== "counterfactual.jsonl")
    .map((f) => path.join(where, f));
  if (!traces.length) throw new Error(`fixture ${name} has no trace file`);
  const r = await runCli(["convert", ...traces, "-o", out, "-q"]);
  if (r.exitCode !== 0) throw new Error(`vsched convert of fixture ${name} exited ${r.exitCode}: ${r.stderr}`);
  return out;
}
