import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { runCli, runCliOk } from "./helpers/golden.js";

/**
 * vsched calibrate over several pairs: one table, a row per recorded run and its replay, with
 * signed errors (src/analysis/fit/calibrate-table.ts).
 *
 * The oracle: each pair's errors computed here from both runs' converted per_request.csv, pairing
 * requests by id, with the P90 as the linear interpolation between order statistics (numpy's
 * default). The pairs are runs of vLLM's own scheduler on the same requests, one read as a
 * "replay" of the other: fixtures/ab-fcfs and ab-isrtf-oracle (250 requests, FCFS against an
 * ISRTF subclass), known-linear and known-linear-seqs6 (80 requests, max_num_seqs 16 and 6).
 */
const LINEAR = "fixtures/known-linear/vsched-1-dp0.jsonl";
const SEQS6 = "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl";
const FCFS = "fixtures/ab-fcfs";
const ISRTF = "fixtures/ab-isrtf-oracle";
// the same 404 requests on two H100 machines; AsyncLLM gave each request id a random suffix per run
const H100_A = "fixtures/h100-s64-a";
const H100_B = "fixtures/h100-s64-b";

type Lat = Map<string, { ttft: number; e2e: number }>;

async function latencies(run: string): Promise<Lat> {
  const out = mkdtempSync(path.join(os.tmpdir(), "vsched-cal-table-"));
  await runCliOk(["convert", run, "-o", out]);
  const rows = Papa.parse<Record<string, string>>(readFileSync(path.join(out, "per_request.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
  return new Map(rows.filter((r) => r.ttft !== "" && r.e2e_latency !== "").map((r) => [r.request_id, { ttft: Number(r.ttft), e2e: Number(r.e2e_latency) }]));
}

function p90(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const h = 0.9 * (v.length - 1);
  return v[Math.floor(h)] + (h - Math.floor(h)) * (v[Math.ceil(h)] - v[Math.floor(h)]);
}

/** the signed errors of the means and P90s of the requests both runs finished */
function oracle(rec: Lat, sim: Lat) {
  const ids = [...rec.keys()].filter((id) => sim.has(id));
  const col = (m: Lat, k: "ttft" | "e2e") => ids.map((id) => m.get(id)![k]);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const err = (k: "ttft" | "e2e", f: (v: number[]) => number) => f(col(sim, k)) / f(col(rec, k)) - 1;
  return { paired: ids.length, e2e_mean: err("e2e", mean), ttft_mean: err("ttft", mean), e2e_p90: err("e2e", p90), ttft_p90: err("ttft", p90) };
}

describe("vsched calibrate over several pairs", () => {
  it("gives each pair's signed errors as the converted tables do, in the order the pairs were given", async () => {
    const [a, b, linear, seqs6] = await Promise.all([FCFS, ISRTF, LINEAR, SEQS6].map(latencies));
    const table = JSON.parse(await runCliOk(["calibrate", FCFS, ISRTF, LINEAR, SEQS6, ISRTF, FCFS, "--json"]));
    expect(table.kind).toBe("vsched.calibrate.table");
    expect(table.rows.map((r: { simulated: string }) => r.simulated)).toEqual([expect.stringContaining("ab-isrtf-oracle"), expect.stringContaining("known-linear-seqs6"), expect.stringContaining("ab-fcfs")]);
    const expected = [oracle(a, b), oracle(linear, seqs6), oracle(b, a)];
    table.rows.forEach((row: Record<string, number>, i: number) => {
      const o = expected[i];
      expect(row.paired_requests).toBe(o.paired);
      expect(row.e2e_mean_error).toBeCloseTo(o.e2e_mean, 9);
      expect(row.ttft_mean_error).toBeCloseTo(o.ttft_mean, 9);
      expect(row.e2e_p90_error).toBeCloseTo(o.e2e_p90, 9);
      expect(row.ttft_p90_error).toBeCloseTo(o.ttft_p90, 9);
    });
    // the two policies differ, and read the other way round the error changes sign
    expect(table.rows[0].e2e_mean_error).not.toBeCloseTo(0, 3);
    expect(Math.sign(table.rows[2].e2e_mean_error)).toBe(-Math.sign(table.rows[0].e2e_mean_error));
    // max_num_seqs 6 against 16: the same requests queue longer, so the "replay" is the slower run
    expect(table.rows[1].ttft_mean_error).toBeGreaterThan(0.5);
    const abs = expected.map((o) => Math.abs(o.ttft_mean)).sort((x, y) => x - y);
    expect(table.median_abs_ttft_mean_error).toBeCloseTo(abs[1], 9);
    expect(table.met).toBeNull();
  });

  it("marks a pair met only when both errors of the means are within --within, and counts them", async () => {
    const o = oracle(await latencies(FCFS), await latencies(ISRTF));
    // just above both errors: met; TTFT's target just under its error: missed
    const meet = `${(Math.abs(o.e2e_mean) * 100 + 0.001).toFixed(4)},${(Math.abs(o.ttft_mean) * 100 + 0.001).toFixed(4)}`;
    const miss = `${(Math.abs(o.e2e_mean) * 100 + 0.001).toFixed(4)},${(Math.abs(o.ttft_mean) * 100 - 0.001).toFixed(4)}`;
    const met = JSON.parse(await runCliOk(["calibrate", FCFS, ISRTF, "--within", meet, "--json"]));
    expect([met.rows[0].met, met.met, met.judged]).toEqual([true, 1, 1]);
    const missed = JSON.parse(await runCliOk(["calibrate", FCFS, ISRTF, LINEAR, LINEAR, "--within", miss, "--json"]));
    expect(missed.rows.map((r: { met: boolean }) => r.met)).toEqual([false, true]); // a run against itself meets any target
    expect([missed.met, missed.judged]).toEqual([1, 2]);
    const text = await runCliOk(["calibrate", FCFS, ISRTF, LINEAR, LINEAR, "--within", miss]);
    expect(text).toMatch(/^target \(\|error of the means\| at most [\d.]+% E2E and [\d.]+% TTFT\): 1 of 2 met$/m);
    expect(text.split("\n").filter((l) => /\b(met|missed)\s/.test(l))).toHaveLength(2);
  });

  it("pairs two real runs of the same requests, whose ids vLLM suffixed at random, by the client's ids", async () => {
    // bench/h100/s64_t4096_r20_a2 replayed h100-s64-a's 400 requests (and its 4 warm-ups) on another
    // H100 machine; AsyncLLM gave each id its own random suffix ("r0-bb9725ee" in one, another in the
    // other). The oracle pairs the converted tables by the id up to its last "-".
    const A2 = "bench/h100/s64_t4096_r20_a2";
    const strip = async (run: string): Promise<Lat> => new Map([...(await latencies(run))].map(([id, v]) => [id.slice(0, id.lastIndexOf("-")), v]));
    const [a, a2] = await Promise.all([strip(H100_A), strip(A2)]);
    const o = oracle(a, a2);
    expect(o.paired).toBe(404);
    const table = JSON.parse(await runCliOk(["calibrate", H100_A, A2, "--json"]));
    expect(table.requests).toMatchObject({ paired: 404, mismatched: 0, only_recorded: 0, only_simulated: 0 });
    const row = JSON.parse(await runCliOk(["calibrate", H100_A, A2, "--within", "3,5", "--json"])).rows[0];
    expect(row.e2e_mean_error).toBeCloseTo(o.e2e_mean, 9);
    expect(row.ttft_mean_error).toBeCloseTo(o.ttft_mean, 9);
    expect(row.ttft_p90_error).toBeCloseTo(o.ttft_p90, 9);
    // and vsched compare pairs them too, where it fell back to independent samples before
    const cmp = await runCliOk(["compare", H100_A, A2]);
    expect(cmp).toMatch(/paired by the client's request id \(vLLM's random suffix dropped\) \(404 requests completed in both/);
  });

  it("leaves runs of other requests under the same client ids out of the medians and the count, and says why", async () => {
    // h100-s64-a and -b are two workloads drawn for one configuration: their clients named
    // requests r0…r399 alike. Which ids are other requests there, by the clients' own files:
    const client = (run: string) => new Map(readFileSync(path.join(run, "requests.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",")).map((f) => [f[0], `${f[1]}/${f[2]}`]));
    const ca = client(H100_A), cb = client(H100_B);
    const other = [...ca.keys()].filter((id) => cb.has(id) && cb.get(id) !== ca.get(id)).length;
    expect(other).toBeGreaterThan(390);
    const table = JSON.parse(await runCliOk(["calibrate", LINEAR, SEQS6, H100_A, H100_B, "--within", "5,10", "--json"]));
    expect(table.rows[1]).toMatchObject({ mismatched_requests: other, same_requests: false, met: null });
    expect(table.judged).toBe(1);
    expect(table.median_abs_e2e_mean_error).toBeCloseTo(Math.abs(table.rows[0].e2e_mean_error), 12);
    const text = await runCliOk(["calibrate", LINEAR, SEQS6, H100_A, H100_B]);
    expect(text).toContain(`${other} of its ids are other requests in`);
    expect(text).toMatch(/not a replay of this run/);
  });

  it("refuses an unpaired path, a model with several pairs and an unreadable target, with one line and exit 2", async () => {
    for (const args of [
      ["calibrate", LINEAR, SEQS6, LINEAR],
      ["calibrate", LINEAR, SEQS6, LINEAR, SEQS6, "--model", "fixtures/known-linear/recipe.json"],
      ["calibrate", LINEAR, SEQS6, "--within", "3"],
      ["calibrate", LINEAR, SEQS6, "--within", "0,5"],
    ]) {
      const r = await runCli(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    }
  });
});
