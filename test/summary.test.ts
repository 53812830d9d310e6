/**
 * Proof of `vsched summary --json`: every figure is recomputed here from the CSV text
 * with papaparse (sync) and hand-written arithmetic, not with vsched's reader or stats,
 * and compared with what the built CLI prints.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { computeSummary } from "../src/analysis/summary/index.js";
import { openLogsDir } from "../src/tables/index.js";
import { WAITING_REASONS } from "../src/schema/waiting.js";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";
import { REAL_FIXTURES, realLogsDir, REUSED_ID_FIXTURES, simulate, writeLogsDir } from "./helpers/logs-fixture.js";
import { kendallTauBrute } from "./helpers/kendall.js";

type Rec = Record<string, string>;
const read = (dir: string, table: string): Rec[] =>
  Papa.parse<Rec>(readFileSync(path.join(dir, `${table}.csv`), "utf8").replace(/^# vsched[^\n]*\n/, ""), { header: true, skipEmptyLines: true }).data;
const N = (s: string | undefined): number | null => (s === undefined || s === "" ? null : Number(s));
const nn = (s: string | undefined): number => N(s) ?? 0;

function q7(values: number[], q: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}
const minOrNull = (v: number[]) => (v.length ? v.reduce((a, b) => Math.min(a, b)) : null);
const maxOrNull = (v: number[]) => (v.length ? v.reduce((a, b) => Math.max(a, b)) : null);
const avg = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
function stats(v: number[]) {
  return {
    count: v.length,
    mean_ns: avg(v),
    p50_ns: q7(v, 0.5),
    p90_ns: q7(v, 0.9),
    p95_ns: q7(v, 0.95),
    p99_ns: q7(v, 0.99),
    p999_ns: q7(v, 0.999),
    max_ns: maxOrNull(v),
  };
}

/** The figures, computed the long way from CSV text. */
function expected(dir: string, slo: { ttft_ns: number; tpot_ns: number }) {
  const pr = read(dir, "per_request");
  const pi = read(dir, "per_iteration");
  const pir = read(dir, "per_iteration_requests");
  const done = pr.filter((r) => r.finish_reason === "stop" || r.finish_reason === "length" || r.finish_reason === "repetition");
  const col = (rows: Rec[], c: string) => rows.map((r) => N(r[c])).filter((x): x is number => x !== null);
  const start = minOrNull(col(pr, "arrival_time"))!;
  const end = maxOrNull(col(pr, "completion_time"))!;
  const dur = (end - start) / 1e9;
  const good = done.filter((r) => N(r.ttft) !== null && N(r.ttft)! <= slo.ttft_ns && (N(r.tpot) ?? 0) <= slo.tpot_ns).length;

  // scheduler
  const withDur = pi.filter((r) => N(r.duration) !== null);
  const prefill = pi.reduce((a, r) => a + nn(r.prefill_tokens), 0);
  const decode = pi.reduce((a, r) => a + nn(r.decode_tokens), 0);
  const pReqs = pi.reduce((a, r) => a + nn(r.num_prefill_reqs), 0);
  const dReqs = pi.reduce((a, r) => a + nn(r.num_decode_reqs), 0);
  const utils = pi.filter((r) => nn(r.kv_cache_total) > 0).map((r) => nn(r.kv_cache_used) / nn(r.kv_cache_total));

  // waiting
  const totalWait = pr.reduce((a, r) => a + nn(r.waiting_time), 0);
  const byCause = WAITING_REASONS.map((c) => ({ cause: c, waiting_ns: pr.reduce((a, r) => a + nn(r[`wait_${c}_ns`]), 0) }))
    .filter((c) => c.waiting_ns > 0)
    .sort((a, b) => b.waiting_ns - a.waiting_ns)
    .map((c) => ({ ...c, share: c.waiting_ns / totalWait }));
  const top = [...pr]
    .sort((a, b) => nn(b.waiting_time) - nn(a.waiting_time) || (a.request_id < b.request_id ? -1 : 1))
    .slice(0, 5)
    .filter((r) => nn(r.waiting_time) > 0)
    .map((r) => {
      let best: string | null = null;
      let bestNs = 0;
      for (const c of WAITING_REASONS) if (nn(r[`wait_${c}_ns`]) > bestNs) ((bestNs = nn(r[`wait_${c}_ns`])), (best = c));
      return { request_id: r.request_id, waiting_ns: nn(r.waiting_time), dominant_cause: best, dominant_cause_ns: bestNs };
    });

  // fairness
  const rates = done.filter((r) => nn(r.e2e_latency) > 0).map((r) => nn(r.output_tokens) / (nn(r.e2e_latency) / 1e9));
  const jain = rates.reduce((a, b) => a + b, 0) ** 2 / (rates.length * rates.reduce((a, b) => a + b * b, 0));
  const lw = [...pr].sort((a, b) => nn(b.longest_wait) - nn(a.longest_wait) || (a.request_id < b.request_id ? -1 : 1))[0];

  // queue progress: successive waiting rows of one request
  let obs = 0,
    adv = 0,
    same = 0,
    over = 0;
  const overIds = new Set<string>();
  const lastPos = new Map<string, number>();
  // one request lifetime: ids may be reused after finishing, and ranks number independently
  const life = (r: Rec) => `${r.dp_rank}|${r.request_instance || "0"}|${r.request_id}`;
  for (const r of pir) {
    if ((r.state === "waiting" || r.state === "preempted") && r.queue_position !== "") {
      const p = Number(r.queue_position);
      const prev = lastPos.get(life(r));
      if (prev !== undefined) {
        obs++;
        if (p < prev) adv++;
        else if (p === prev) same++;
        else (over++, overIds.add(life(r)));
      }
      lastPos.set(life(r), p);
    } else lastPos.delete(life(r));
  }

  // ITL: a rise of tokens_generated is delivered by the latest update that ended before the
  // row's schedule() returned (completed row: its own step's update)
  const key = (r: Rec) => `${r.dp_rank}:${r.iteration_id}`;
  const schedRet = new Map(pi.map((r) => [key(r), nn(r.start_time) + nn(r.scheduling_overhead)]));
  const updEnd = new Map(pi.map((r) => [key(r), N(r.end_time)]));
  const endsByRank = new Map<string, number[]>();
  for (const r of pi) {
    if (N(r.end_time) === null) continue;
    if (!endsByRank.has(r.dp_rank)) endsByRank.set(r.dp_rank, []);
    endsByRank.get(r.dp_rank)!.push(N(r.end_time)!);
  }
  for (const e of endsByRank.values()) e.sort((a, b) => a - b);
  const lastEndBefore = (rank: string, t: number) => {
    const ends = endsByRank.get(rank) ?? [];
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (ends[m] <= t) lo = m + 1;
      else hi = m;
    }
    return ends[lo - 1];
  };
  const doneIds = new Set(done.map(life));
  const tok = new Map<string, { g: number; t: number | null }>();
  const itl: number[] = [];
  for (const r of pir) {
    if (!doneIds.has(life(r))) continue;
    const st = tok.get(life(r)) ?? { g: 0, t: null };
    const g = Number(r.tokens_generated);
    if (g > st.g) {
      const t = r.state === "completed" ? updEnd.get(key(r))! : lastEndBefore(r.dp_rank, schedRet.get(key(r))!);
      if (st.t !== null && t > st.t) itl.push(t - st.t);
      st.t = t;
      st.g = g;
    }
    tok.set(life(r), st);
  }

  // policy
  const pred = done.filter((r) => N(r.predicted_remaining_tokens) !== null);
  const err = pred.map((r) => nn(r.predicted_remaining_tokens) - nn(r.output_tokens));

  return {
    requests: {
      total: pr.length,
      completed: done.length,
      aborted: pr.filter((r) => r.finish_reason === "abort").length,
      failed: pr.filter((r) => r.finish_reason === "error" || r.finish_reason === "ignored").length,
      unfinished: pr.filter((r) => r.finish_reason === "unfinished").length,
    },
    span: { start_ns: start, end_ns: end, duration_ns: end - start },
    latency: {
      ttft: stats(col(done, "ttft")),
      tpot: stats(col(done, "tpot")),
      itl: stats(itl),
      queue_time: stats(col(done, "waiting_time")),
      e2e: stats(col(done, "e2e_latency")),
    },
    throughput: {
      requests_per_s: done.length / dur,
      output_tokens_per_s: done.reduce((a, r) => a + nn(r.output_tokens), 0) / dur,
      total_tokens_per_s: done.reduce((a, r) => a + nn(r.output_tokens) + nn(r.input_tokens), 0) / dur,
    },
    goodput: { slo, requests: good, share: good / done.length, requests_per_s: good / dur },
    scheduler: {
      iterations: pi.length,
      idle_iterations: pi.filter((r) => nn(r.batch_size) === 0).length,
      scheduling_overhead: { mean_ns: avg(col(pi, "scheduling_overhead")), p99_ns: q7(col(pi, "scheduling_overhead"), 0.99) },
      forward_duration: { mean_ns: avg(col(pi, "forward_duration")), p99_ns: q7(col(pi, "forward_duration"), 0.99) },
      step_duration: { mean_ns: avg(col(pi, "duration")), p99_ns: q7(col(pi, "duration"), 0.99) },
      scheduling_share: withDur.reduce((a, r) => a + nn(r.scheduling_overhead), 0) / withDur.reduce((a, r) => a + nn(r.duration), 0),
      prefill_tokens: prefill,
      decode_tokens: decode,
      recompute_tokens: pi.reduce((a, r) => a + nn(r.recompute_tokens), 0),
      prefill_token_share: prefill / (prefill + decode),
      prefill_request_share: pReqs / (pReqs + dReqs),
      prefill_chunks: {
        count: pReqs,
        mean_tokens: prefill / pReqs,
        min_tokens: minOrNull(col(pi, "prefill_chunk_min")),
        max_tokens: maxOrNull(col(pi, "prefill_chunk_max")),
      },
      batch_size: {
        mean: avg(col(pi, "batch_size")),
        p50: q7(col(pi, "batch_size"), 0.5),
        p90: q7(col(pi, "batch_size"), 0.9),
        p99: q7(col(pi, "batch_size"), 0.99),
        max: maxOrNull(col(pi, "batch_size")),
      },
    },
    resources: {
      kv_utilization_mean: avg(utils),
      kv_utilization_peak: maxOrNull(utils),
      preempted_requests: pr.filter((r) => nn(r.preemption_count) > 0).length,
      preemption_rate: pr.filter((r) => nn(r.preemption_count) > 0).length / pr.length,
      preemptions: pr.reduce((a, r) => a + nn(r.preemption_count), 0),
      evictions: pr.reduce((a, r) => a + nn(r.eviction_count), 0),
      recomputed_tokens: pr.reduce((a, r) => a + nn(r.recomputed_tokens), 0),
    },
    waiting: { total_waiting_ns: totalWait, by_cause: byCause, top_requests: top },
    fairness: {
      longest_wait: { request_id: lw.request_id, wait_ns: nn(lw.longest_wait) },
      longest_wait_p99_ns: q7(col(pr, "longest_wait"), 0.99),
      service_rate_jain_index: jain,
      service_rate_mean_tokens_per_s: avg(rates),
      service_rate_min_tokens_per_s: minOrNull(rates),
      queue_progress: { observations: obs, advanced: adv, unchanged: same, overtaken: over, overtaken_share: obs ? over / obs : null, requests_overtaken: overIds.size },
    },
    policy: pred.length
      ? {
          predicted_remaining_tokens: {
            count: pred.length,
            mean_error_tokens: avg(err),
            mean_abs_error_tokens: avg(err.map(Math.abs)),
            rmse_tokens: Math.sqrt(avg(err.map((e) => e * e))!),
            kendall_tau: kendallTauBrute(
              pred.map((r) => nn(r.predicted_remaining_tokens)),
              pred.map((r) => nn(r.output_tokens)),
            ),
          },
          priority_score: null,
        }
      : null,
  };
}

/** deep comparison with a relative tolerance for floats */
function expectClose(actual: unknown, want: unknown, where = "summary"): void {
  if (typeof want === "number" && typeof actual === "number") {
    const tol = Math.max(1e-9, Math.abs(want) * 1e-9);
    expect(Math.abs(actual - want), `${where}: ${actual} vs ${want}`).toBeLessThanOrEqual(tol);
    return;
  }
  if (want === null || typeof want !== "object") {
    expect(actual, where).toEqual(want);
    return;
  }
  if (Array.isArray(want)) {
    expect(Array.isArray(actual), where).toBe(true);
    expect((actual as unknown[]).length, `${where}.length`).toBe(want.length);
    want.forEach((w, i) => expectClose((actual as unknown[])[i], w, `${where}[${i}]`));
    return;
  }
  for (const [k, w] of Object.entries(want)) expectClose((actual as Record<string, unknown>)[k], w, `${where}.${k}`);
}

let tmp: string;
let synth: string;
const real = new Map<string, string>();
const SLO = { ttft_ns: 2_000_000, tpot_ns: 600_000 };

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));
  synth = writeLogsDir(path.join(tmp, "logs"), simulate({ seed: 7, requests: 24 }));
  for (const name of [...REAL_FIXTURES, ...REUSED_ID_FIXTURES]) real.set(name, await realLogsDir(path.join(tmp, name), name));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("summary --json equals figures recomputed from the CSV text", () => {
  test("synthetic logs directory (FCFS simulation with chunked prefill and a preemption)", async () => {
    const r = await runCli(["summary", "logs", "--json", "--slo", "ttft=2ms,tpot=600us"], { cwd: tmp });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const got = JSON.parse(r.stdout);
    const want = expected(synth, SLO);
    // the fixture must exercise what it claims to
    expect(want.resources.preemptions).toBeGreaterThan(0);
    expect(want.requests.aborted).toBe(1);
    expect(want.requests.unfinished).toBe(1);
    expect(want.fairness.queue_progress.observations).toBeGreaterThan(0);
    expect(want.latency.itl.count).toBeGreaterThan(0);
    expectClose(got, want);
    expect(got.notes).toEqual([]);
  });

  test.each([...REAL_FIXTURES, ...REUSED_ID_FIXTURES])("fixture %s, recorded from vLLM's real scheduler", async (name) => {
    const dir = real.get(name)!;
    const r = await runCli(["summary", dir, "--json", "--slo", "ttft=2ms,tpot=600us"]);
    expect(r.exitCode).toBe(0);
    const got = JSON.parse(r.stdout);
    const want = expected(dir, SLO);
    if (want.policy === null) expect(got.policy).toBeNull();
    const { policy: _p, ...rest } = want;
    expectClose(got, got.latency.itl === null ? { ...rest, latency: { ...rest.latency, itl: null } } : rest);
  });
});

describe("summary core", () => {
  test("the in-process result equals the CLI's JSON", async () => {
    const core = await computeSummary(await openLogsDir(synth), { slo: SLO });
    const r = await runCli(["summary", "logs", "--json", "--slo", "ttft=2ms,tpot=600us"], { cwd: tmp });
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(core)));
  });

  test("ITL is withheld when per_iteration_requests is sampled", async () => {
    const f = simulate({ seed: 7 });
    f.tables.per_iteration_requests = f.tables.per_iteration_requests.filter((r) => (r.iteration_id as number) % 2 === 0);
    const dir = writeLogsDir(path.join(tmp, "sampled"), f);
    const s = await computeSummary(await openLogsDir(dir));
    expect(s.latency.itl).toBeNull();
    expect(s.notes).toContain("itl_needs_complete_iteration_requests");
    expect(s.goodput).toBeNull();
  });

  test("a version line before the header is skipped", async () => {
    const dir = path.join(tmp, "versioned");
    cpSync(synth, dir, { recursive: true });
    for (const t of ["per_request", "per_iteration", "per_iteration_requests"]) {
      const p = path.join(dir, `${t}.csv`);
      writeFileSync(p, `# vsched 0.1.0 schema 1.0 table ${t}\n${readFileSync(p, "utf8")}`);
    }
    const a = await computeSummary(await openLogsDir(synth));
    const b = await computeSummary(await openLogsDir(dir));
    expect(b).toEqual(a);
  });
});

describe("summary goldens", () => {
  test("text screen", async () => {
    expectGolden("test/golden/summary-text.md", await runCli(["summary", "logs", "--slo", "ttft=2ms,tpot=600us"], { cwd: tmp }));
  });
  test("json", async () => {
    expectGolden("test/golden/summary-json.md", await runCli(["summary", "logs", "--json"], { cwd: tmp }));
  });
  test("missing logs directory: exit 2", async () => {
    const r = await runCli(["summary", "no-such-dir"], { cwd: tmp });
    expect(r.exitCode).toBe(2);
    expectGolden("test/golden/summary-missing-dir.md", r);
  });
  test("unreadable --slo: exit 2", async () => {
    const r = await runCli(["summary", "logs", "--slo", "ttft=fast"], { cwd: tmp });
    expect(r.exitCode).toBe(2);
    expectGolden("test/golden/summary-bad-slo.md", r);
  });
  test("a table without a column the summary needs: exit 2", async () => {
    const dir = path.join(tmp, "nottft");
    cpSync(synth, dir, { recursive: true });
    const p = path.join(dir, "per_request.csv");
    const rows = Papa.parse<string[]>(readFileSync(p, "utf8"), { skipEmptyLines: true }).data;
    const i = rows[0].indexOf("ttft");
    writeFileSync(p, Papa.unparse(rows.map((r) => r.filter((_, j) => j !== i)), { newline: "\n" }) + "\n");
    const r = await runCli(["summary", "nottft"], { cwd: tmp });
    expect(r.exitCode).toBe(2);
    expectGolden("test/golden/summary-missing-column.md", r);
  });
});

describe("docs/summary.md", () => {
  test("defines every key of the JSON summary", async () => {
    const s = await computeSummary(await openLogsDir(synth), { slo: SLO });
    const doc = readFileSync(path.join(ROOT, "docs/summary.md"), "utf8");
    const keys = new Set<string>();
    const walk = (o: unknown) => {
      if (Array.isArray(o)) o.forEach(walk);
      else if (o && typeof o === "object")
        for (const [k, v] of Object.entries(o)) {
          keys.add(k);
          walk(v);
        }
    };
    walk(s);
    const documented = (k: string) => doc.includes(`\`${k}\``) || doc.includes(`## ${k}\n`) || new RegExp(`[{ ]${k}[,}]`).test(doc);
    for (const k of keys) if (k !== "summary_format" && k !== "schema_version") expect(documented(k), k).toBe(true);
  });
});
