#!/usr/bin/env node
// Sim-to-real on real GPU runs (issue 17): for each case, vsched fit on the training runs
// (pooled with --with), vsched simulate the held-out run's workload under its own recorded
// configuration, vsched calibrate against the recording. The model never saw the held-out run.
// Signed errors of the means and of the P90s (simulated − recorded) / recorded; simulate speed
// as simulated seconds (the recorded makespan) per wall second of `vsched simulate`.
//
//   node bench/sim-to-real.mjs --data DIR CASES.json   cases: [{"name", "kind", "train": [RUN...], "test": RUN}], RUNs under DIR
//   node bench/sim-to-real.mjs --json CASES.json     the same figures as JSON
//   node bench/sim-to-real.mjs --sensitivity 0.03 CASES.json   also simulate each case with every
//     step time × (1 ± 0.03) (simulate --step-scale): how many points of E2E / TTFT error one
//     percent of step-time bias makes on this workload, and the uniform step-time bias that
//     would explain the case's error (the error's root in the step scale, interpolated)
//
// RUN is a directory holding a run's trace/ (gpu/README.md) or raw traces. Figures, not
// assertions: the targets are in issue 17 and docs/fit.md ("Sim-to-real on an H100").
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args.splice(i, 2)[1];
};
const dataDir = flag("--data");
const only = flag("--only");
const sensitivityArg = flag("--sensitivity");
// extra arguments for every fit, e.g. --fit-args "--weigh steps" (split on spaces)
const fitArgs = (flag("--fit-args") ?? "").split(" ").filter(Boolean);
const sensitivity = sensitivityArg === undefined ? null : Number(sensitivityArg);
if (sensitivity !== null && !(sensitivity > 0 && sensitivity < 0.5)) {
  console.error("--sensitivity: expected a fraction like 0.03");
  process.exit(2);
}
const asJson = args[0] === "--json";
const casesFile = asJson ? args[1] : args[0];
if (!casesFile) {
  console.error("usage: node bench/sim-to-real.mjs [--json] [--data DIR] [--only NAME,...] [--fit-args 'ARGS'] CASES.json");
  process.exit(2);
}
const base = dataDir ? path.resolve(dataDir) : path.dirname(path.resolve(casesFile));
const cases = JSON.parse(readFileSync(casesFile, "utf8")).filter((c) => !only || only.split(",").includes(c.name));
const vsched = (...a) => execFileSync(process.execPath, [path.join(root, "bin", "vsched.js"), ...a], { encoding: "utf8", maxBuffer: 1 << 28 });
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-s2r-"));
// each case's simulated logs are ~20–60 MB: gone when the script ends (VSCHED_KEEP_S2R=1 keeps them)
process.on("exit", () => process.env.VSCHED_KEEP_S2R || rmSync(tmp, { recursive: true, force: true }));
const runPath = (r) => path.resolve(base, r);
const runName = (t) => (path.basename(t) === "trace" ? path.basename(path.dirname(t)) : path.basename(t));
const pct = (v) => (v === null || v === undefined ? "-" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`);
const signed = (m, which) => (m[`simulated_${which}_ns`] - m[`recorded_${which}_ns`]) / m[`recorded_${which}_ns`];

// one fit per training set (cases that differ only in --cpu-index share it)
const fits = new Map();
const rows = [];
for (const c of cases) {
  try {
    rows.push(runCase(c));
  } catch (e) {
    const why = String(e.stderr || e.message).trim().split("\n").pop();
    console.error(`${c.name}: ${why}`);
    rows.push({ name: c.name, kind: c.kind, test: c.test, train: c.train, error: why });
  }
}

function fitFor(c) {
  const key = JSON.stringify([c.train, c.use ?? null]);
  if (!fits.has(key)) {
    const model = path.join(tmp, `fit-${fits.size}.coeffs.json`);
    const [first, ...rest] = c.train.map(runPath);
    const fit = JSON.parse(vsched("fit", first, ...rest.flatMap((r) => ["--with", r]), "--json", "--out", model, ...(c.use ? ["--use", c.use] : []), ...fitArgs));
    fits.set(key, { fit, model });
  }
  return fits.get(key);
}

/**
 * A recording of the same requests taken as the prediction of another: calibrate pairs them by
 * the client's ids (vLLM's random suffix dropped). The errors of the means and P90s, signed; null
 * where the two runs did not serve the same requests (other workloads under the same ids).
 */
function twinErrors(test, other) {
  const cal = JSON.parse(vsched("calibrate", runPath(test), runPath(other), "--json"));
  if (!cal.requests.paired || cal.requests.mismatched) return null;
  const lat = Object.fromEntries(cal.latency.map((m) => [m.metric, m]));
  return { e2e_mean: signed(lat.e2e, "mean"), ttft_mean: signed(lat.ttft, "mean"), e2e_p90: signed(lat.e2e, "p90"), ttft_p90: signed(lat.ttft, "p90") };
}

/** A second recording of the same requests in place of a simulation: the real system's own run-to-run spread. */
function repeatCase(c) {
  const twin = twinErrors(c.test, c.repeat_of);
  if (!twin) throw new Error(`${c.repeat_of} did not serve the requests of ${c.test}`);
  return {
    name: c.name, kind: c.kind, test: c.test, train: [c.repeat_of], model: "(real repeat)", cv_mape: null, cv_bias: null,
    ...twin, makespan: null, same_steps: null, sim_wall_s: null, speed_x: null, note: null,
  };
}

/** simulate + calibrate of one case with every step time × scale (1: the model as fitted). */
function simulateCase(c, model, scale) {
  const out = path.join(tmp, `${c.name}-x${scale}`);
  const t0 = process.hrtime.bigint();
  const simOut = vsched("simulate", runPath(c.test), "--model", model, "-o", out, ...(c.cpu_index ? ["--cpu-index", c.cpu_index] : []), ...(c.cpu_wait ? ["--cpu-wait", c.cpu_wait] : []), ...(scale === 1 ? [] : ["--step-scale", String(scale)]));
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cal = JSON.parse(vsched("calibrate", runPath(c.test), path.join(out, "logs"), "--json"));
  return { simOut, wallS, cal, lat: Object.fromEntries(cal.latency.map((m) => [m.metric, m])) };
}

/**
 * Errors at step scales 1 − d, 1, 1 + d: the slope (points of error per 1% of step time, central
 * difference) and the scale at which the error would be 0 (linear between the two scales that
 * bracket it, else extended from the nearer pair), as a signed step-time bias: +2% means the
 * error vanishes if the model's steps were 2% longer.
 */
function sensitivityOf(c, model, atOne, d) {
  const [lo, hi] = [1 - d, 1 + d].map((s) => simulateCase(c, model, Number(s.toFixed(6))).lat);
  const out = {};
  for (const metric of ["e2e", "ttft"]) {
    const e = [signed(lo[metric], "mean"), signed(atOne[metric], "mean"), signed(hi[metric], "mean")];
    const x = [1 - d, 1, 1 + d];
    const seg = e[0] * e[1] <= 0 ? 0 : e[1] * e[2] <= 0 ? 1 : Math.abs(e[0]) < Math.abs(e[2]) ? 0 : 1;
    const root = x[seg] - (e[seg] * (x[seg + 1] - x[seg])) / (e[seg + 1] - e[seg]);
    out[`${metric}_per_pct`] = (e[2] - e[0]) / (2 * d * 100);
    out[`${metric}_zero_at`] = root - 1;
  }
  return out;
}

function runCase(c) {
  if (c.repeat_of) return repeatCase(c);
  const { fit, model } = fitFor(c);
  const chosen = fit.beta.models.find((m) => m.id === fit.beta.chosen);
  const { simOut, wallS, cal, lat } = simulateCase(c, model, 1);
  const sens = sensitivity ? sensitivityOf(c, model, lat, sensitivity) : {};
  const makespanS = cal.makespan?.recorded_ns ? cal.makespan.recorded_ns / 1e9 : null;
  return {
    name: c.name, kind: c.kind, test: c.test, train: c.train, model: fit.beta.chosen,
    cv_mape: chosen.cv?.mape ?? null, cv_bias: chosen.cv?.bias ?? null,
    e2e_mean: signed(lat.e2e, "mean"), ttft_mean: signed(lat.ttft, "mean"), e2e_p90: signed(lat.e2e, "p90"), ttft_p90: signed(lat.ttft, "p90"),
    makespan: cal.makespan ? (cal.makespan.simulated_ns - cal.makespan.recorded_ns) / cal.makespan.recorded_ns : null,
    same_steps: cal.steps?.exact_share ?? null,
    sim_wall_s: wallS, speed_x: makespanS ? makespanS / wallS : null,
    note: simOut.split("\n").find((l) => l.startsWith("note:")) ?? null,
    host_cpu: simOut.split("\n").find((l) => l.startsWith("host CPU index")) ?? null,
    // calibrate's pace where both runs have enough steps to compare: [type, batch from, batch to, recorded steps, recorded time share, simulated / recorded median − 1]
    pace: (cal.pace ?? []).filter((b) => b.error !== null).map((b) => [b.kind, b.batch_lo + 1, b.batch_hi, b.recorded.steps, b.recorded.time_share, b.error]),
    // the replay's lead (s, below zero ahead) by share of each run's scheduled tokens: [share, lead]
    lead: (cal.work ?? []).map((m) => [m.share, m.lead_ns === null ? null : m.lead_ns / 1e9]),
    // calibrate's GPU timeline where both runs have one: [kind, recorded busy s, simulated busy s, simulated / recorded − 1, recorded idle s, simulated idle s]
    gpu: (cal.gpu ?? []).map((g) => [g.kind, g.recorded.busy_ns / 1e9, g.simulated.busy_ns / 1e9, g.busy_error, g.recorded.idle_ns / 1e9, g.simulated.idle_ns / 1e9]),
    // where the model was fitted on one run of the test run's own requests (a repeat): that run's
    // recording as the prediction, the floor of the same-config target on these machines
    twin: c.train.length === 1 ? twinErrors(c.test, c.train[0]) : null,
    ...sens,
  };
}
if (asJson) {
  process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
} else {
  console.log("| case | kind | trained on | model (CV MAPE, bias) | E2E mean | TTFT mean | E2E p90 | TTFT p90 | makespan | sim speed | twin E2E / TTFT mean |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.name} | ${r.kind} | ${r.train.map(runName).join(", ")} | failed: ${r.error} | | | | | | | |`);
      continue;
    }
    const twin = r.twin ? `${pct(r.twin.e2e_mean)} / ${pct(r.twin.ttft_mean)}` : "-";
    console.log(`| ${r.name} | ${r.kind} | ${r.train.map(runName).join(", ")} | ${r.model} (${pct(r.cv_mape)}, ${pct(r.cv_bias)}) | ${pct(r.e2e_mean)} | ${pct(r.ttft_mean)} | ${pct(r.e2e_p90)} | ${pct(r.ttft_p90)} | ${pct(r.makespan)} | ${r.speed_x === null ? "-" : r.speed_x.toFixed(1) + "×"} | ${twin} |`);
  }
  if (rows.some((r) => r.twin)) console.log("\ntwin: the training run's own recording taken as the prediction, where it served the test run's requests (a repeat): the real system's run-to-run difference, the floor of a same-config target");
  if (sensitivity) {
    console.log(`\nsensitivity (every step time × 1 ± ${sensitivity}): points of error per 1% of step time; the uniform step-time bias at which the error would vanish`);
    console.log("| case | E2E pts per 1% | TTFT pts per 1% | E2E zero at | TTFT zero at |");
    console.log("|---|---|---|---|---|");
    const pts = (v) => (v === undefined ? "-" : (v * 100).toFixed(1));
    for (const r of rows) if (!r.error && r.e2e_per_pct !== undefined) console.log(`| ${r.name} | ${pts(r.e2e_per_pct)} | ${pts(r.ttft_per_pct)} | ${pct(r.e2e_zero_at)} | ${pct(r.ttft_zero_at)} |`);
  }
  for (const r of rows) if (r.host_cpu) console.log(`${r.name}: ${r.host_cpu}`);
  for (const r of rows) if (r.note) console.log(`${r.name}: ${r.note}`);
}
