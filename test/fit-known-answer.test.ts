import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli, runCliOk } from "./helpers/golden.js";

/**
 * Known-answer proof of vsched fit, simulate and calibrate (issue 11 §4): harness runs whose
 * step cost is known. The expected coefficients are read from each fixture's recipe.json
 * (what the harness was told), never from vsched. simulate drives vLLM's real scheduler, so
 * these tests need the harness venv (emitter/scripts/vllm_env.sh 0.33.0); without it simulate
 * exits 2 saying how to get it, and the test fails with that line.
 */
const trace = (name: string) => path.join("fixtures", name, "vsched-1-dp0.jsonl");
const recipeCost = (name: string) => JSON.parse(readFileSync(path.join(ROOT, "fixtures", name, "recipe.json"), "utf8")).cost;
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "vsched-test-"));

async function json(args: string[]) {
  return JSON.parse(await runCliOk(args, { timeoutMs: 300_000 }));
}

/**
 * `vsched fit TRACE --use tokens/ols`, run once per fixture for the whole file: its JSON (--json)
 * and the model file it writes (--out; the two flags change nothing else). The tests below fitted
 * known-linear four times and known-linear-async twice, the same command each time.
 */
const fits = new Map<string, Promise<{ fit: any; file: string }>>();
function fitOnce(name: string): Promise<{ fit: any; file: string }> {
  if (!fits.has(name)) {
    const file = path.join(tmp(), "coeffs.json");
    fits.set(name, json(["fit", trace(name), "--json", "--use", "tokens/ols", "--out", file]).then((fit) => ({ fit, file })));
  }
  return fits.get(name)!;
}

async function fitCoefficients(name: string) {
  const { fit } = await fitOnce(name);
  const m = fit.beta.models.find((x: { id: string }) => x.id === "tokens/ols");
  return { fit, coef: Object.fromEntries(m.terms.map((t: { term: string; coef: number }) => [t.term, t.coef / 1e9])) as Record<string, number>, model: m };
}

function expectRecovered(coef: Record<string, number>, cost: { alpha: number; beta_prefill: number; beta_decode: number; per_req: number }) {
  const pairs: [string, number][] = [["intercept", cost.alpha], ["prefill_tokens", cost.beta_prefill], ["decode_tokens", cost.beta_decode], ["batch_size", cost.per_req]];
  for (const [term, want] of pairs) expect(Math.abs(coef[term] - want) / want, `${term}: fitted ${coef[term]} s, true ${want} s`).toBeLessThan(0.01);
}

async function simulateAndCalibrate(recorded: string, model: string, sets: string[], against = recorded) {
  const out = tmp();
  const sim = await runCli(["simulate", recorded, "--model", model, ...sets.flatMap((s) => ["--set", s]), "-o", out], { timeoutMs: 300_000 });
  if (sim.exitCode !== 0) throw new Error(`simulate exited ${sim.exitCode}: ${sim.stderr}`);
  // simulate runs the harness without its oracle; the trace is the same (emitter/tests/test_no_oracle.py)
  expect(existsSync(path.join(out, "trace", "oracle.jsonl"))).toBe(false);
  return json(["calibrate", against, path.join(out, "logs"), "--json"]);
}

function expectReproduced(cal: { steps: { exact_share: number }; latency: { metric: string; error_of_means: number; median_ape: number; p90_ape: number }[]; requests: { paired: number; recorded: number } }) {
  expect(cal.requests.paired).toBe(cal.requests.recorded);
  expect(cal.steps.exact_share).toBeGreaterThanOrEqual(0.99);
  const e2e = cal.latency.find((l) => l.metric === "e2e")!;
  expect(e2e.error_of_means).toBeLessThan(0.01);
  expect(e2e.p90_ape).toBeLessThan(0.01);
}

describe("fit recovers a known linear step cost", () => {
  it("synchronous scheduling: every coefficient within 1%", async () => {
    const { coef, fit } = await fitCoefficients("known-linear");
    expect(recipeCost("known-linear").kind).toBe("linear");
    expectRecovered(coef, recipeCost("known-linear"));
    expect(fit.filters.kept).toBeGreaterThan(250);
  }, 120_000);

  it("async scheduling: the target is model time, not the overlapped forward_duration", async () => {
    const { coef, fit } = await fitCoefficients("known-linear-async");
    expectRecovered(coef, recipeCost("known-linear-async"));
    expect(fit.beta.per_step_overhead_ns).toBe(0);
  }, 120_000);
});

describe("simulate with the fitted model reproduces the recorded run (vLLM's real scheduler)", () => {
  const fitTo = async (name: string) => (await fitOnce(name)).file;

  it("same configuration, synchronous: steps ≥ 99% identical, E2E error < 1%", async () => {
    expectReproduced(await simulateAndCalibrate(trace("known-linear"), await fitTo("known-linear"), []));
  }, 300_000);

  it("same configuration, async scheduling", async () => {
    expectReproduced(await simulateAndCalibrate(trace("known-linear-async"), await fitTo("known-linear-async"), []));
  }, 300_000);

  it("held-out configuration: max_num_seqs 16 → 6 predicts the run recorded under 6", async () => {
    const cal = await simulateAndCalibrate(trace("known-linear"), await fitTo("known-linear"), ["max_num_seqs=6"], trace("known-linear-seqs6"));
    expectReproduced(cal);
  }, 300_000);

  it("--step-scale 2: a fit of the simulated run recovers twice the recorded run's true cost", async () => {
    const out = tmp();
    const sim = await runCli(["simulate", trace("known-linear"), "--model", await fitTo("known-linear"), "--step-scale", "2", "-o", out], { timeoutMs: 300_000 });
    expect(sim.exitCode, sim.stderr).toBe(0);
    expect(sim.stdout).toContain("step times × 2 (--step-scale)");
    const cost = recipeCost("known-linear");
    const twice = { ...cost, alpha: 2 * cost.alpha, beta_prefill: 2 * cost.beta_prefill, beta_decode: 2 * cost.beta_decode, per_req: 2 * cost.per_req };
    const fit = await json(["fit", path.join(out, "logs"), "--json", "--use", "tokens/ols"]);
    const m = fit.beta.models.find((x: { id: string }) => x.id === "tokens/ols");
    expectRecovered(Object.fromEntries(m.terms.map((t: { term: string; coef: number }) => [t.term, t.coef / 1e9])), twice);

    // pooled with the recorded run, each run's leave-one-run-out bias is the scale between them:
    // the recorded run's cost predicts the scaled run at 1/2 − 1, the scaled run's the recorded at 2 − 1
    const pooled = await json(["fit", trace("known-linear"), "--with", path.join(out, "logs"), "--json", "--use", "tokens/ols"]);
    const [onRecorded, onScaled] = pooled.beta.leave_one_run_out.map((r: { bias: number }) => r.bias);
    expect(onRecorded).toBeCloseTo(1, 2);
    expect(onScaled).toBeCloseTo(-0.5, 2);
  }, 300_000);

  it("splitwise table (not linear): E2E and TTFT means within 2% / 3%, though steps drift apart", async () => {
    const file = path.join(tmp(), "coeffs.json");
    expect((await runCli(["fit", trace("azure-conv-chunked"), "--out", file], { timeoutMs: 120_000 })).exitCode).toBe(0);
    const cal = await simulateAndCalibrate(trace("azure-conv-chunked"), file, []);
    const get = (m: string) => cal.latency.find((l: { metric: string }) => l.metric === m);
    expect(get("e2e").error_of_means).toBeLessThan(0.02);
    expect(get("ttft").error_of_means).toBeLessThan(0.03);
    expect(cal.steps.exact_share).toBeGreaterThan(0.3);
  }, 300_000);
});

describe("the harness's fitted clock and vsched fit define the batch features alike", () => {
  it("a run clocked by context and attention terms: fit recovers them within 1%", async () => {
    const dir = tmp();
    const truth = { intercept: 0.01, prefill_tokens: 1e-4, batch_size: 3e-4, decode_context_tokens: 2e-6, attention_work: 1e-9 };
    const file = path.join(dir, "truth.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, JSON.stringify({
      format: "vsched-step-model", format_version: "1.0", unit: "seconds",
      terms: Object.entries(truth).map(([name, coef]) => ({ name, factors: name === "intercept" ? [] : [name], coef })),
    }));
    const out = path.join(dir, "sim");
    const sim = await runCli(["simulate", trace("known-linear"), "--cost", `fitted:${file}`, "-o", out], { timeoutMs: 300_000 });
    expect(sim.exitCode, sim.stderr).toBe(0);
    const fit = await json(["fit", path.join(out, "logs"), "--json", "--use", "interactions/ols"]);
    const m = fit.beta.models.find((x: { id: string }) => x.id === "interactions/ols");
    const got = Object.fromEntries(m.terms.map((t: { term: string; coef: number }) => [t.term, t.coef / 1e9]));
    for (const [term, want] of Object.entries(truth)) expect(Math.abs(got[term] - want) / want, `${term}: ${got[term]} vs ${want}`).toBeLessThan(0.01);
    expect(m.test.mape).toBeLessThan(0.001);
  }, 300_000);
});
