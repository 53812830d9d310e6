import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { ROOT, runCliOk } from "./helpers/golden.js";
import { readTrace, readWireRecords, traceFiles } from "./helpers/fixtures.js";

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

/** calibrate of a simulated run (`vsched simulate … -o out`) against the recorded one, by metric */
async function calibrate(recorded: string, out: string) {
  const cal = JSON.parse(await cli(["calibrate", recorded, path.join(out, "logs"), "--json"]));
  return Object.fromEntries((cal.latency as Latency[]).map((m) => [m.metric, m])) as Record<string, Latency>;
}

async function simulateCalibrate(recorded: string, model: string) {
  const out = tmp();
  await cli(["simulate", recorded, "--model", model, "-o", out]);
  return calibrate(recorded, out);
}

/**
 * `vsched fit RUN_A --json --out MODEL_A` and `vsched simulate RUN_A --model MODEL_A`, each run once
 * for this file: the fit → simulate → calibrate tests and the frontend delay's tests below read the
 * same fit and the same simulated run (they were two files that each ran both commands).
 */
const MODEL_A = path.join(tmp(), "coeffs.json");
let fitA: Promise<any> | undefined;
const fitRunA = () => (fitA ??= cli(["fit", RUN_A, "--json", "--out", MODEL_A]).then((out) => JSON.parse(out)));
let simA: Promise<string> | undefined;
const simulateRunA = () =>
  (simA ??= (async () => {
    await fitRunA();
    const out = tmp();
    await cli(["simulate", RUN_A, "--model", MODEL_A, "-o", out]);
    return out;
  })());

/** A run of the store (bench/h100). */
const stored = (run: string) => path.join("bench", "h100", run);

/** `vsched fit` on the first run, pooled with the rest; the model file's path. */
async function fitStored(...runs: string[]): Promise<string> {
  const model = path.join(tmp(), "coeffs.json");
  await cli(["fit", stored(runs[0]), ...runs.slice(1).flatMap((r) => ["--with", stored(r)]), "--out", model]);
  return model;
}

/** fit --export of a stored run into a fresh folder; the folder */
async function exportOf(run: string): Promise<string> {
  const dir = tmp();
  await cli(["fit", stored(run), "--export", dir]);
  return dir;
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
  const model = MODEL_A;

  it("fit: the chosen model has a total-time bias within 2% under blocked cross-validation", async () => {
    const fit = await fitRunA();
    const chosen = fit.beta.models.find((m: { id: string }) => m.id === fit.beta.chosen);
    expect(fit.beta.capture_sizes.source).toBe("header");
    expect(chosen.feature_set).toBe("gpu_next");
    expect(Math.abs(chosen.cv.bias)).toBeLessThan(0.02);
    const decode = chosen.cv_by_batch_type.find((g: { group: string }) => g.group === "decode_only");
    expect(decode.mape).toBeLessThan(0.15); // measured 11.2% (gpu_next/ols); the old token features: 32%
  }, 600_000);

  it("simulate the same run: E2E and TTFT means within 3% and 5%", async () => {
    const lat = await calibrate(RUN_A, await simulateRunA());
    expect(Math.abs(signedError(lat.e2e, "mean"))).toBeLessThan(0.03);
    expect(Math.abs(signedError(lat.ttft, "mean"))).toBeLessThan(0.05);
    expect(Math.abs(signedError(lat.e2e, "p90"))).toBeLessThan(0.05);
  }, 600_000);

  it("calibrate's pace: the bins that hold most of the run's time agree", async () => {
    const out = await simulateRunA();
    const pace = JSON.parse(await cli(["calibrate", RUN_A, path.join(out, "logs"), "--json"])).pace as { kind: string; batch_lo: number; recorded: { steps: number; time_share: number }; error: number | null }[];
    const at = (kind: string, lo: number) => pace.find((b) => b.kind === kind && b.batch_lo === lo)!;
    // measured at this commit: decode 33-64 (47% of the recorded time) -3.7%, prefill 33-64 (33%)
    // -0.9%; the small decode batches (1-8, 4%) +17.7%
    expect(at("decode", 32).recorded.time_share).toBeGreaterThan(0.4);
    expect(Math.abs(at("decode", 32).error!)).toBeLessThan(0.06);
    expect(Math.abs(at("prefill", 32).error!)).toBeLessThan(0.06);
    expect(pace.reduce((s, b) => s + b.recorded.time_share, 0)).toBeCloseTo(1, 9);
  }, 600_000);

  it("simulate another run of the same config (requests the fit never saw): within the recorded bounds", async () => {
    await fitRunA();
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

  it("14B held-out s32 t8192 from its two s64 t4096 runs, fit --launch-waits apart: the launches that waited for the GPU stay out of the host's launch line", async () => {
    // measured +3.9% / +15.0% (means); +6.3% / +25.7% by default, where the replay runs this run's
    // prefill steps at +50% of the recorded pace (+33% apart; docs/fit.md, "Step clock"): the
    // held-out E2E target, and a bound on TTFT
    const out = tmp();
    const model = path.join(tmp(), "coeffs.json");
    await cli(["fit", stored("m14b_s64_t4096_r10_b_g"), "--with", stored("m14b_s64_t4096_r10_c_g"), "--launch-waits", "apart", "--out", model]);
    await cli(["simulate", stored("m14b_s32_t8192_r8_g"), "--model", model, "-o", out]);
    const cal = JSON.parse(await cli(["calibrate", stored("m14b_s32_t8192_r8_g"), path.join(out, "logs"), "--json"]));
    const lat = Object.fromEntries((cal.latency as Latency[]).map((m) => [m.metric, m]));
    expect(Math.abs(signedError(lat.e2e, "mean"))).toBeLessThan(0.05);
    expect(Math.abs(signedError(lat.ttft, "mean"))).toBeLessThan(0.2);
    const prefill = (cal.pace as { kind: string; batch_lo: number; error: number | null }[]).find((b) => b.kind === "prefill" && b.batch_lo === 16)!;
    expect(prefill.error!).toBeLessThan(0.4);
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

describe("a host that slowed mid-run (bench/h100: s48 t3072 at 15/s, two request sets on one machine)", () => {
  it("fit --gpu-work censored: b, whose host slowed, simulated from a model of a meets the same-config targets", async () => {
    // measured −0.3% / −4.3% (means), −0.5% / −3.7% (p90s) with graphless steps that ended with
    // their launch read as censored (fit/gpu-work.ts) and the replay holding the GPU to the launch
    // (the harness's _gpu_end); −4.0% / −25.1% before both, −2.1% / −18.4% with the replay's
    // change alone (docs/fit.md, "A tenth session")
    const model = path.join(tmp(), "coeffs.json");
    const said = await cli(["fit", stored("s48_t3072_r15_g"), "--gpu-work", "censored", "--out", model]);
    expect(said).toMatch(/^GPU work: \d+ of \d+ steps ran without a CUDA graph and ended with their launch .*: their work read as \d+\.\d% of their GPU time \(--gpu-work censored\)$/m);
    expectSameConfigTargets(await simulateCalibrate(stored("s48_t3072_r15_b_g"), model));
  }, 600_000);

  it("fit --gpu-work censored reads the same graphless work on both hosts, where their GPU times differ", async () => {
    // the slowed host's graphless spans ended with their launches (67% of them within 5% of the
    // runner's host time against 42% on a's host); read as censored, a model of either run gives
    // the other run's graphless steps about the same work. Recorded, b's model was 15–18% above a's
    const exportedTerms = async (run: string, mode: string): Promise<{ factors: string[]; coef: number }[]> => {
      const fit = JSON.parse(await cli(["fit", stored(run), "--gpu-work", mode, "--json"]));
      return fit.beta.models.find((m: { id: string }) => m.id === fit.beta.chosen).exported_terms;
    };
    const [head, ...lines] = readFileSync(path.join(await exportOf("s48_t3072_r15_g"), "beta_training.csv"), "utf8").trim().split("\n");
    const col = new Map(head.split(",").map((c, i) => [c, i]));
    const rows = lines.map((l) => l.split(",")).filter((f) => f[col.get("excluded")!] === "" && f[col.get("no_cudagraph")!] === "1");
    expect(rows.length).toBeGreaterThan(200);
    const total = (terms: { factors: string[]; coef: number }[]) => rows.reduce((a, f) => a + terms.reduce((v, t) => v + t.factors.reduce((p, x) => p * Number(f[col.get(x)!]), t.coef), 0), 0);
    const ratio = async (mode: string) => total(await exportedTerms("s48_t3072_r15_b_g", mode)) / total(await exportedTerms("s48_t3072_r15_g", mode));
    const censored = await ratio("censored"), span = await ratio("span");
    expect(span).toBeGreaterThan(1.1);
    expect(Math.abs(censored - 1)).toBeLessThan(0.06);
  }, 600_000);
});

describe("fresh runs of a configuration no earlier run had (bench/h100, tenth session)", () => {
  it("s72 t3072 at 20/s: b simulated from a model of a meets the same-config targets", async () => {
    // measured −0.9% / −2.1% (means) with the GPU waiting for the launch; −1.9% / −3.5% before it,
    // and with --gpu-work censored (docs/fit.md, "A tenth session")
    await expectStoredSameConfig("s72_t3072_r20_b_g", "s72_t3072_r20_g");
  }, 600_000);
});

describe("fresh runs recorded before the model they check was last changed (bench/h100, the eleventh and twelfth plans)", () => {
  it("s88 t4096 at 25/s: b simulated from a model of a meets the same-config targets", async () => {
    // recorded by the twelfth session before it changed anything; measured +2.5% / +3.8% (means),
    // +2.6% / +3.9% (p90s), and a from b +2.3% / +4.2% (docs/fit.md, "A twelfth session")
    await expectStoredSameConfig("s88_t4096_r25_b_g", "s88_t4096_r25_g");
  }, 600_000);

  it("s176 t8192 at 40/s, the same requests on a new engine: the repeat simulated from a model of the first run meets the same-config targets", async () => {
    // the twelfth plan's repeat; measured −0.1% / −2.2% (means), −0.7% / −0.2% (p90s). The other
    // way misses TTFT (−7.1%): the first run's engine started ~0.3 s slow (docs/fit.md, "A twelfth session")
    await expectStoredSameConfig("s176_t8192_r40_g2", "s176_t8192_r40_g");
  }, 600_000);

  it("calibrate's work done dates the first s176 run's slow start: replayed from the repeat, the replay gets ahead by 10% of the tokens and stays there", async () => {
    // the first run's first two graphless launches took 92 and 93 ms, the repeat's 35 and 33 ms;
    // measured: the replay 0.175 s ahead at 10%, 0.164 s at 50% (TTFT −7.1%); no model of the
    // repeat can know the first engine's start, so this is calibrate's reading, not a target
    const out = tmp();
    await cli(["simulate", stored("s176_t8192_r40_g"), "--model", await fitStored("s176_t8192_r40_g2"), "-o", out]);
    const cal = JSON.parse(await cli(["calibrate", stored("s176_t8192_r40_g"), path.join(out, "logs"), "--json"]));
    const lead = (share: number) => (cal.work as { share: number; lead_ns: number }[]).find((m) => m.share === share)!.lead_ns / 1e9;
    expect(lead(0.1)).toBeLessThan(-0.1);
    expect(Math.abs(lead(0.5) - lead(0.1))).toBeLessThan(0.1);

    // the replay writes its own GPU timeline as update.gpu (harness/replay_gpu.py), and calibrate
    // compares the two (fit/gpu-timeline.ts). The oracle: both runs' converted per_iteration
    // tables, summed here by whether the step had a prefill
    const converted = tmp();
    await cli(["convert", stored("s176_t8192_r40_g"), "-o", converted, "--quiet"]);
    const sums = (logs: string) => {
      const rows = Papa.parse<Record<string, string>>(readFileSync(path.join(logs, "per_iteration.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
      const side = (prefill: boolean) => {
        const timed = rows.filter((r) => r.gpu_step_ns !== "" && Number(r.num_prefill_reqs) > 0 === prefill);
        return { steps: timed.length, busy_ns: timed.reduce((a, r) => a + Number(r.gpu_step_ns), 0), idle_ns: timed.reduce((a, r) => a + Number(r.gpu_gap_ns || 0), 0) };
      };
      return { prefill: side(true), decode: side(false) };
    };
    const rec = sums(converted), sim = sums(path.join(out, "logs"));
    expect(cal.gpu_timed).toEqual({ recorded: true, simulated: true });
    for (const kind of ["prefill", "decode"] as const) {
      const row = (cal.gpu as { kind: string; recorded: object; simulated: object }[]).find((g) => g.kind === kind)!;
      expect(row.recorded).toEqual(rec[kind]);
      expect(row.simulated).toEqual(sim[kind]);
    }
    // every step the replay ran a model for has a span; the replay's GPU work is the recording's
    // within 3% (measured: 23.229 s against 23.309 s, −0.3%; steps with a prefill −2.0%)
    expect(sim.prefill.steps + sim.decode.steps).toBeGreaterThan(1000);
    const busy = (x: typeof rec) => x.prefill.busy_ns + x.decode.busy_ns;
    expect(Math.abs(busy(sim) / busy(rec) - 1)).toBeLessThan(0.03);
  }, 600_000);
});

describe("another GPU (bench/h200: six runs of one call that landed on an H200)", () => {
  const h200 = (run: string) => path.join("..", "h200", run); // stored() is bench/h100's
  it("s112 t3072 at 30/s: b simulated from a model of a meets the same-config targets", async () => {
    // measured +0.5% / +0.7% (means), +0.9% / +2.8% (p90s); +1.7% / +3.5% before simulate
    // replayed the host window by window (docs/fit.md, "A ninth session")
    await expectStoredSameConfig(h200("s112_t3072_r30_b_g"), h200("s112_t3072_r30_g"));
  }, 600_000);
});

/**
 * The frontend delay (add_request() − vLLM's Request.arrival_time) on a real H100 run
 * (fixtures/h100-s64-a: vLLM 0.24.0 AsyncLLM, async scheduling): a visibility delay that vsched
 * fit models, plus the wait for the engine loop's next step boundary (docs/fit.md, α). The
 * recorded delays are read here from the wire records themselves (header epoch + arrival t −
 * vllm_arrival_epoch_ns; steps' t_start), not through vsched's tables.
 */
interface Arrival { t: number; frontendNs: number; prompt: number; idle: boolean }

/** Arrivals with their frontend delay, the schedule() starts, and whether the engine was idle (nothing in flight, running or waiting). */
function wire(file: string): { arrivals: Arrival[]; starts: number[] } {
  let epoch = 0n, inFlight = 0, running = 0, waiting = 0;
  const arrivals: Arrival[] = [], starts: number[] = [];
  for (const r of readWireRecords(file) as Record<string, any>[]) {
    if (r.type === "header") epoch = BigInt(r.clock.epoch_ns);
    else if (r.type === "step") (starts.push(r.t_start), inFlight++);
    else if (r.type === "update") ((inFlight -= 1), (running = r.running), (waiting = r.waiting));
    else if (r.type === "arrival" && r.vllm_arrival_epoch_ns) {
      const frontendNs = Number(epoch + BigInt(r.t) - BigInt(r.vllm_arrival_epoch_ns));
      arrivals.push({ t: r.t, frontendNs, prompt: r.prompt_tokens, idle: inFlight === 0 && running === 0 && waiting === 0 });
    }
  }
  return { arrivals, starts: starts.sort((a, b) => a - b) };
}

const quantile = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q, lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const relErr = (a: number, b: number) => Math.abs(a - b) / b;

/** The frontend delay each request would have had: picked up at the first recorded schedule() at or after stamp + delay. */
function onRecordedBoundaries(w: ReturnType<typeof wire>, delay: (prompt: number) => number): number[] {
  return w.arrivals.map((a) => {
    const visible = a.t - a.frontendNs + delay(a.prompt);
    const next = w.starts.find((s) => s >= visible);
    return (next ?? visible) - (a.t - a.frontendNs);
  });
}

interface Model { intercept_ns: number; per_prompt_token_ns: number; missed: number }

describe("the frontend delay on a real H100 run", () => {
  const recorded = wire(traceFiles("h100-s64-a")[0]);
  const coeffs = MODEL_A;
  let model: Model;

  it("fit: its visibility delay, picked up at the recorded step boundaries, reproduces the recorded p10/p50/p90 (the growth under load is the boundary wait)", async () => {
    const fit = await fitRunA();
    model = fit.alpha.frontend.model;
    expect(model.missed).toBeGreaterThanOrEqual(10);
    const delay = (p: number) => Math.max(0, model.intercept_ns + model.per_prompt_token_ns * p);
    expect(delay(1000)).toBeGreaterThan(0.3e6); // ~1.1 ms on this run
    expect(delay(1000)).toBeLessThan(3e6);
    const fe = recorded.arrivals.map((a) => a.frontendNs);
    expect(quantile(fe, 0.5)).toBeGreaterThan(3 * delay(1000)); // p50 7.5 ms, p90 28 ms
    const replayed = onRecordedBoundaries(recorded, delay);
    for (const q of [0.1, 0.5, 0.9]) expect(relErr(quantile(replayed, q), quantile(fe, q)), `p${q * 100}`).toBeLessThan(0.05);
    // the check can fail: no visibility delay, or a 3 ms one, misses the recorded p10 by far
    expect(relErr(quantile(onRecordedBoundaries(recorded, () => 0), 0.1), quantile(fe, 0.1))).toBeGreaterThan(0.2);
    expect(relErr(quantile(onRecordedBoundaries(recorded, () => 3e6), 0.1), quantile(fe, 0.1))).toBeGreaterThan(0.2);
  }, 600_000);

  it("simulate: an idle engine sees the model's delay exactly, a busy one that plus its own step boundaries, as recorded", async () => {
    const out = await simulateRunA();
    const sim = wire(path.join(out, "trace", "vsched-1-dp0.jsonl"));
    const delay = (p: number) => Math.max(0, Math.round(model.intercept_ns + model.per_prompt_token_ns * p));
    const idle = sim.arrivals.filter((a) => a.idle);
    expect(idle.length).toBeGreaterThan(0);
    for (const a of idle) expect(Math.abs(a.frontendNs - delay(a.prompt))).toBeLessThan(2000); // 1 µs apart for simultaneous arrivals
    const busy = sim.arrivals.filter((a) => !a.idle);
    expect(busy.filter((a) => a.frontendNs > delay(a.prompt) + 1e6).length / busy.length).toBeGreaterThan(0.5);
    const fe = recorded.arrivals.map((a) => a.frontendNs), simFe = sim.arrivals.map((a) => a.frontendNs);
    expect(relErr(quantile(simFe, 0.5), quantile(fe, 0.5))).toBeLessThan(0.1); // measured 7.52 vs 7.50 ms
    expect(relErr(quantile(simFe, 0.9), quantile(fe, 0.9))).toBeLessThan(0.2); // 25.3 vs 27.7 ms: long steps predicted short
  }, 600_000);

  it("simulate with one fixed delay (model files before the visibility model) shifts the stamp too: the trace shows the boundary wait alone", async () => {
    await fitRunA();
    const out = tmp();
    await cli(["simulate", RUN_A, "--model", coeffs, "--frontend-delay", "1ms", "-o", out]);
    const sim = wire(path.join(out, "trace", "vsched-1-dp0.jsonl"));
    for (const a of sim.arrivals.filter((x) => x.idle)) expect(a.frontendNs).toBeLessThan(2000);
    const fe = recorded.arrivals.map((a) => a.frontendNs);
    expect(quantile(sim.arrivals.map((a) => a.frontendNs), 0.5)).toBeLessThan(quantile(fe, 0.5) * 0.95);
  }, 600_000);
});

