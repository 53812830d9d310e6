import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCliOk } from "./helpers/golden.js";
import { readTrace, traceFiles } from "./helpers/fixtures.js";

/**
 * Sim-to-real on real H100 runs (issue 17), asserted as regression bounds on committed GPU
 * fixtures (fixtures/h100-*: vLLM 0.24.0 AsyncLLM, Llama-3-8B shape, CUDA graphs, async
 * scheduling; gpu/README.md says how they were recorded and how to record more). The timed
 * benchmark across configurations is bench/sim-to-real.mjs; these bounds catch a model or an
 * engine loop that regresses. simulate needs the harness venv (emitter/scripts/vllm_env.sh).
 */
const RUN_A = path.join("fixtures", "h100-s64-a");
const RUN_B = path.join("fixtures", "h100-s64-b");
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "vsched-s2r-"));
const summaryOf = (dir: string) => JSON.parse(readFileSync(path.join(ROOT, dir, "summary.json"), "utf8"));

const cli = (args: string[]) => runCliOk(args);

interface Latency { metric: string; recorded_mean_ns: number; simulated_mean_ns: number; recorded_p90_ns: number; simulated_p90_ns: number }
const signedError = (m: Latency, which: "mean" | "p90") => (m[`simulated_${which}_ns`] - m[`recorded_${which}_ns`]) / m[`recorded_${which}_ns`];

async function simulateCalibrate(recorded: string, model: string) {
  const out = tmp();
  await cli(["simulate", recorded, "--model", model, "-o", out]);
  const cal = JSON.parse(await cli(["calibrate", recorded, path.join(out, "logs"), "--json"]));
  return Object.fromEntries((cal.latency as Latency[]).map((m) => [m.metric, m])) as Record<string, Latency>;
}

/** A run of the store (bench/h100). */
const stored = (run: string) => path.join("bench", "h100", run);

/** `vsched fit` on the first run, pooled with the rest; the model file's path. */
async function fitStored(...runs: string[]): Promise<string> {
  const model = path.join(tmp(), "coeffs.json");
  await cli(["fit", stored(runs[0]), ...runs.slice(1).flatMap((r) => ["--with", stored(r)]), "--out", model]);
  return model;
}

/** Issue 17's same-config targets: means within 3% (E2E) and 5% (TTFT); p90s within 5% and 10%. */
function expectSameConfigTargets(lat: Record<string, Latency>): void {
  expect(Math.abs(signedError(lat.e2e, "mean"))).toBeLessThan(0.03);
  expect(Math.abs(signedError(lat.ttft, "mean"))).toBeLessThan(0.05);
  expect(Math.abs(signedError(lat.e2e, "p90"))).toBeLessThan(0.05);
  expect(Math.abs(signedError(lat.ttft, "p90"))).toBeLessThan(0.1);
}

/** A stored run simulated from a model of other stored runs (the first, pooled with the rest) meets the same-config targets. */
async function expectStoredSameConfig(test: string, ...train: string[]): Promise<void> {
  expectSameConfigTargets(await simulateCalibrate(stored(test), await fitStored(...train)));
}

describe("the trace header says what decides a GPU step", () => {
  it("records vLLM's resolved CUDA-graph capture sizes, compilation mode and model shape", () => {
    const header = readTrace(traceFiles("h100-s64-a")[0])[0] as unknown as { engine: Record<string, unknown> & { cudagraph_capture_sizes: number[]; model: Record<string, unknown> } };
    const vllmSays = summaryOf(RUN_A); // run_bench.py's own read of engine.vllm_config
    expect(header.engine.cudagraph_capture_sizes).toHaveLength(vllmSays.cudagraph_capture_sizes_n);
    expect(Math.max(...header.engine.cudagraph_capture_sizes)).toBe(vllmSays.max_cudagraph_capture_size);
    expect(header.engine.cudagraph_mode).toBe(vllmSays.cudagraph_mode);
    expect(String(header.engine.compilation_mode)).toBe(vllmSays.compilation_mode);
    expect(header.engine.model).toMatchObject({ hidden_size: 4096, num_hidden_layers: 32, num_key_value_heads: 8 }); // gpu/llama8b/config.json
    expect(header.engine.device).toMatch(/H100/);
  });
});

describe("fit → simulate → calibrate on a real H100 run", () => {
  const model = path.join(tmp(), "coeffs.json");

  it("fit: the chosen model has a total-time bias within 2% under blocked cross-validation", async () => {
    const fit = JSON.parse(await cli(["fit", RUN_A, "--json", "--out", model]));
    const chosen = fit.beta.models.find((m: { id: string }) => m.id === fit.beta.chosen);
    expect(fit.beta.capture_sizes.source).toBe("header");
    expect(chosen.feature_set).toBe("gpu_next");
    expect(Math.abs(chosen.cv.bias)).toBeLessThan(0.02);
    const decode = chosen.cv_by_batch_type.find((g: { group: string }) => g.group === "decode_only");
    expect(decode.mape).toBeLessThan(0.15); // measured 11.2% (gpu_next/ols); the old token features: 32%
  }, 600_000);

  it("simulate the same run: E2E and TTFT means within 3% and 5%", async () => {
    const lat = await simulateCalibrate(RUN_A, model);
    expect(Math.abs(signedError(lat.e2e, "mean"))).toBeLessThan(0.03);
    expect(Math.abs(signedError(lat.ttft, "mean"))).toBeLessThan(0.05);
    expect(Math.abs(signedError(lat.e2e, "p90"))).toBeLessThan(0.05);
  }, 600_000);

  it("simulate another run of the same config (requests the fit never saw): within the recorded bounds", async () => {
    const lat = await simulateCalibrate(RUN_B, model);
    // measured −10.6% E2E, −20.7% TTFT at this commit (bench/README.md, "Sim-to-real"): a
    // regression bound, well outside the 35–54% the token model missed by
    expect(Math.abs(signedError(lat.e2e, "mean"))).toBeLessThan(0.15);
    expect(Math.abs(signedError(lat.ttft, "mean"))).toBeLessThan(0.3);
  }, 600_000);
});

describe("below capacity, the same config with other requests (bench/h100, one GPU call)", () => {
  it("s64 t4096 at 10/s: r10_b simulated from a model of r10 meets the same-config targets", async () => {
    // measured +0.4% / −0.7% (means), +0.9% / −2.9% (p90s) at a8ec1a0 (docs/fit.md); the targets
    // of issue 17 are the bounds: at 20/s the same loop misses them (a steeper latency curve)
    await expectStoredSameConfig("s64_t4096_r10_b", "s64_t4096_r10");
  }, 600_000);
});

describe("other model shapes (bench/h100: the 14B- and 1B-class dense Llama shapes, one GPU call)", () => {
  it("14B at 10/s: r10_b simulated from a model of r10_c meets the same-config targets", async () => {
    // measured +0.6% / +2.5% (means), +0.3% / +6.0% (p90s) (docs/fit.md, "Sixteen more runs");
    // the targets of issue 17 are the bounds
    await expectStoredSameConfig("m14b_s64_t4096_r10_b", "m14b_s64_t4096_r10_c");
  }, 600_000);

  it("a run recorded at emitter level summary is a calibration target: 1B, fitted on two level-full runs", async () => {
    // measured +0.4% / +1.2% (means), +1.4% / +4.9% (p90s). The 1B shape's steps follow the host
    // CPU and its a/b pair misses by far more (docs/fit.md, "Sixteen more runs"); this run's
    // small-batch step period (2.73 ms) matched the training runs' (2.75 / 3.12 ms), which is why
    // the same-config targets hold here and are the bounds
    await expectStoredSameConfig("m1b_s64_t4096_r40_summary", "m1b_s64_t4096_r40", "m1b_s64_t4096_r40_b");
  }, 600_000);
});

describe("large batches (bench/h100: max_num_seqs 192 to 384, a third session's calls)", () => {
  it("s192 t8192 at 40/s: b simulated from a model of a meets the same-config targets", async () => {
    // measured −0.2% / −0.9% (means), −0.1% / −1.2% (p90s) (docs/fit.md, "A third session")
    await expectStoredSameConfig("s192_t8192_r40_b", "s192_t8192_r40");
  }, 600_000);

  it("s256 t8192: a third request set from a model of the three other s256 runs (one engine configuration, two rates)", async () => {
    // measured −0.6% / −1.5% (means), −0.6% / −0.9% (p90s)
    await expectStoredSameConfig("s256_t8192_r40_c", "s256_t8192_r40", "s256_t8192_r40_b", "s256_t8192_r60");
  }, 600_000);
});
