#!/usr/bin/env node
// Calibration on real-server runs (issue 11 §5): for each recorded run, vsched fit (its own
// chronological hold-out: held-out step-time MAPE), then vsched simulate every run with
// every run's model (the run's own workload and configuration) and vsched calibrate
// against the recording. Off-diagonal cells are held out: the model never saw that run.
//
//   node bench/calibrate.mjs RUN_DIR...        (each holds trace/ from emitter/e2e/run_e2e.py)
//   node bench/calibrate.mjs --json RUN_DIR... (the same figures as JSON)
//
// Figures, not assertions: real step times on a shared CPU are noisy (see docs/fit.md).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const asJson = args[0] === "--json";
const runs = asJson ? args.slice(1) : args;
if (!runs.length) {
  console.error("usage: node bench/calibrate.mjs [--json] RUN_DIR...   (each with trace/ from emitter/e2e/run_e2e.py)");
  process.exit(2);
}
const vsched = (...a) => execFileSync(process.execPath, [path.join(root, "bin", "vsched.js"), ...a], { encoding: "utf8", maxBuffer: 1 << 28 });
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-calibrate-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const pct = (v) => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);

/**
 * The noise floor of any batch-shape model on the test steps: MAPE when each test step is
 * predicted by the median of the test steps with the same shape (prefill and decode
 * requests, prefill tokens in 32-token buckets), i.e. with hindsight of the test set itself.
 */
function noiseFloor(csvFile) {
  const [head, ...lines] = readFileSync(csvFile, "utf8").trim().split("\n");
  const col = Object.fromEntries(head.split(",").map((c, i) => [c, i]));
  const groups = new Map();
  for (const line of lines) {
    const f = line.split(",");
    if (f[col.excluded] !== "" || f[col.split] !== "test") continue;
    const key = `${f[col.prefill_reqs]}/${f[col.decode_reqs]}/${Math.floor(Number(f[col.prefill_tokens]) / 32)}`;
    (groups.get(key) ?? groups.set(key, []).get(key)).push(Number(f[col.step_time_ns]));
  }
  let sum = 0, n = 0;
  for (const v of groups.values()) {
    const s = [...v].sort((a, b) => a - b);
    const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    for (const x of v) (sum += Math.abs(med - x) / x), n++;
  }
  return n ? sum / n : null;
}

const fits = runs.map((run, i) => {
  const trace = path.join(run, "trace");
  const coeffs = path.join(tmp, `coeffs-${i}.json`);
  const exported = path.join(tmp, `training-${i}`);
  const fit = JSON.parse(vsched("fit", trace, "--json", "--warmup", "5", "--out", coeffs, "--export", exported));
  const m = fit.beta.models.find((x) => x.id === fit.beta.chosen);
  return { run: path.basename(run), trace, coeffs, chosen: m.id, test: m.test, noise_floor_mape: noiseFloor(path.join(exported, "beta_training.csv")), steps: fit.filters.kept, overhead_ns: fit.beta.per_step_overhead_ns };
});

const cells = [];
for (const f of fits) {
  for (const target of fits) {
    const out = path.join(tmp, `sim-${f.run}-on-${target.run}`);
    vsched("simulate", target.trace, "--model", f.coeffs, "-o", out);
    const cal = JSON.parse(vsched("calibrate", target.trace, path.join(out, "logs"), "--json", "--model", f.coeffs));
    const l = Object.fromEntries(cal.latency.map((x) => [x.metric, x]));
    cells.push({
      model: f.run, target: target.run, held_out: f.run !== target.run,
      ttft_median_ape: l.ttft.median_ape, ttft_p90_ape: l.ttft.p90_ape, ttft_error_of_means: l.ttft.error_of_means, ttft_error_of_p90s: l.ttft.error_of_p90s,
      e2e_median_ape: l.e2e.median_ape, e2e_p90_ape: l.e2e.p90_ape, e2e_error_of_means: l.e2e.error_of_means, e2e_error_of_p90s: l.e2e.error_of_p90s,
      step_exact_share: cal.steps.exact_share, first_divergent_step: cal.steps.first_divergent_step, makespan_error: cal.makespan.error,
    });
  }
}

if (asJson) {
  console.log(JSON.stringify({ fits, cells }, null, 2));
} else {
  console.log("step-time fit per run (chronological hold-out, last 20% of steps)");
  for (const f of fits) console.log(`  ${f.run.padEnd(14)} ${f.chosen.padEnd(20)} steps ${String(f.steps).padStart(5)}  test MAPE ${pct(f.test.mape)}  medAPE ${pct(f.test.median_ape)}  P90APE ${pct(f.test.p90_ape)}  bias ${pct(f.test.bias)}  noise floor ${pct(f.noise_floor_mape)}  overhead ${(f.overhead_ns / 1e3).toFixed(0)} us`);
  console.log("\nsimulate + calibrate (model -> run; * = held out)");
  console.log("  model          run            TTFT mean  TTFT p90  E2E mean  E2E p90  E2E medAPE  steps same  makespan");
  for (const c of cells) {
    console.log(`  ${c.model.padEnd(14)} ${c.target.padEnd(13)}${c.held_out ? "*" : " "} ${pct(c.ttft_error_of_means).padStart(9)} ${pct(c.ttft_error_of_p90s).padStart(9)} ${pct(c.e2e_error_of_means).padStart(9)} ${pct(c.e2e_error_of_p90s).padStart(8)} ${pct(c.e2e_median_ape).padStart(11)} ${pct(c.step_exact_share).padStart(11)} ${pct(c.makespan_error).padStart(9)}`);
  }
}
