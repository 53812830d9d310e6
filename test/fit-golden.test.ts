import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectGolden, runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

// Transcripts of vsched fit / simulate / calibrate on the known-linear fixture.
// After an intended change: UPDATE_GOLDEN=1 npx vitest run test/fit-golden.test.ts
const TRACE = "fixtures/known-linear/vsched-1-dp0.jsonl";
const head = (file: string, n: number) => readFileSync(file, "utf8").split("\n").slice(0, n).join("\n") + "\n";

describe("vsched fit (golden transcripts)", { timeout: 120_000 }, () => {
  it("fits and prints the text report", async () => {
    expectGolden("test/golden/fit-text.md", await runCli(["fit", TRACE]));
  });

  it("writes the coefficients file, the BLIS YAML and the training data", async () => {
    const dir = tmpDir();
    const r = await runCli(["fit", TRACE, "--use", "tokens/ols", "--json", "--out", path.join(dir, "coeffs.json"), "--yaml", path.join(dir, "blis.yaml"), "--export", path.join(dir, "training")]);
    expect(r.exitCode).toBe(0);
    expectGolden("test/golden/fit-files.md", { ...r, stdout: "(the --json output, checked in test/fit-known-answer.test.ts)\n" }, [
      { title: "coeffs.json", body: readFileSync(path.join(dir, "coeffs.json"), "utf8"), lang: "json" },
      { title: "blis.yaml", body: readFileSync(path.join(dir, "blis.yaml"), "utf8"), lang: "yaml" },
      { title: "training/beta_training.csv (first 4 lines)", body: head(path.join(dir, "training", "beta_training.csv"), 4) },
      { title: "training/alpha_training.csv (first 4 lines)", body: head(path.join(dir, "training", "alpha_training.csv"), 4) },
    ]);
  });

  it("writes a self-contained HTML page", async () => {
    const file = path.join(tmpDir(), "fit.html");
    const r = await runCli(["fit", TRACE, "--html", file]);
    expect(r.exitCode).toBe(0);
    const html = readFileSync(file, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain("uPlot");
    expect(html).toContain("residual vs time");
  });

  it("rejects an unknown --use model (exit 2)", async () => {
    expectGolden("test/golden/fit-bad-use.md", await runCli(["fit", TRACE, "--use", "nope/ols"]));
  });

  it("rejects a bad --test-fraction (exit 2)", async () => {
    expectGolden("test/golden/fit-bad-fraction.md", await runCli(["fit", TRACE, "--test-fraction", "1.5"]));
  });

  it("too few steps is one line, after the reader's warnings (exit 2)", async () => {
    expectGolden("test/golden/fit-too-few-steps.md", await runCli(["fit", "test/data/convert/truncated.jsonl", "--warmup", "0"]));
  });

  it("calibrate tells two different runs apart: the first divergent step and the latency errors", async () => {
    const r = await runCli(["calibrate", TRACE, "fixtures/known-linear-seqs6/vsched-1-dp0.jsonl", "--json"]);
    expect(r.exitCode).toBe(0);
    const c = JSON.parse(r.stdout);
    // max_num_seqs 16 vs 6: both admit request 0 alone first; they part once more than 6 would run
    expect(c.requests.paired).toBe(80);
    expect(c.steps.exact_share).toBeLessThan(0.5);
    expect(c.steps.first_divergent_step).toBeGreaterThan(0);
    expect(c.steps.simulated_steps).toBeGreaterThan(c.steps.recorded_steps);
    expect(c.latency.find((l: { metric: string }) => l.metric === "ttft").error_of_means).toBeGreaterThan(0.5);
  });

  it("a missing input is one line (exit 2)", async () => {
    expectGolden("test/golden/fit-missing-input.md", await runCli(["fit", "no/such/trace.jsonl"]));
  });
});

describe("vsched simulate and calibrate (golden transcripts)", { timeout: 300_000 }, () => {
  it("simulates with a harness cost model, then calibrates against the recording", async () => {
    const out = path.join(tmpDir(), "sim");
    const cost = "linear:alpha=0.02,beta_prefill=0.00012,beta_decode=0.0003,per_req=0.0005";
    const sim = await runCli(["simulate", TRACE, "--cost", cost, "-o", out], { timeoutMs: 300_000 });
    expectGolden("test/golden/simulate-ok.md", sim, [{ title: "workload.jsonl (first 3 lines)", body: head(path.join(out, "workload.jsonl"), 3) }]);
    expectGolden("test/golden/calibrate-text.md", await runCli(["calibrate", TRACE, path.join(out, "logs")]));
  });

  it("says how to get Python when there is none (exit 2)", async () => {
    expectGolden("test/golden/simulate-no-python.md", await runCli(["simulate", TRACE, "--cost", "linear", "--python", "/no/such/python", "-o", path.join(tmpDir(), "s")]));
  });

  it("rejects an unknown --set key (exit 2)", async () => {
    expectGolden("test/golden/simulate-bad-set.md", await runCli(["simulate", TRACE, "--cost", "linear", "--set", "gpu=h100", "-o", path.join(tmpDir(), "s")]));
  });

  it("needs exactly one of --model and --cost (exit 2)", async () => {
    expectGolden("test/golden/simulate-no-model.md", await runCli(["simulate", TRACE, "-o", path.join(tmpDir(), "s")]));
  });

  it("--step-scale scales a fitted model only: with --cost it is one line before any work (exit 2)", async () => {
    const out = path.join(tmpDir(), "s");
    const r = await runCli(["simulate", TRACE, "--cost", "linear:alpha=0.01", "--step-scale", "2", "-o", out]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual(["vsched: --step-scale scales a fitted model's step times: give --model FILE, not --cost"]);
    expect(existsSync(out)).toBe(false);
  });

  it("rejects a model file that is not a step model (exit 2)", async () => {
    expectGolden("test/golden/simulate-bad-model.md", await runCli(["simulate", TRACE, "--model", "fixtures/known-linear/recipe.json", "-o", path.join(tmpDir(), "s")]));
  });
});
