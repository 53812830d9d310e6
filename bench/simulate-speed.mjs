#!/usr/bin/env node
// Simulate speed (issue 17): simulated seconds per wall second of `vsched simulate`, another
// build (BASE: a checkout of main with `npm run build` done) and this checkout back to back on
// the same inputs, alternating (A B B A …). Each run is split into the harness's start (process
// spawn to its loop: imports of vLLM and torch, config), its loop (vLLM's real scheduler, the
// emitter, the fitted clock) and what follows (trace summary, exit); the end-to-end column adds
// vsched's own part (workload extraction, convert). The ceiling is vLLM alone: the same workload
// through its scheduler with the emitter off and no oracle, timing only schedule() and
// update_from_output(), against the step time the simulated run stands for.
//
//   npm run build && node bench/simulate-speed.mjs --base /tmp/main-build [--repeat 1] [--python P] [--json]
//
// Inputs: fixtures/h100-nvml-sat (a real H100 run, max_num_seqs 128, fitted on itself), and a
// harness-generated workload at 128 running (600 requests at once, 128–1024 prompt and 128–512
// output tokens, budget 8192, clocked by that fitted model), written to bench/out/. The
// simulated tables of both builds are compared byte for byte. Figures, not assertions.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { options, root } from "./lib.mjs";

const opt = options();
const BASE = opt("base", null);
if (!BASE) throw new Error("--base DIR: a built vsched checkout (DIR/bin/vsched.js, DIR/emitter/src) to compare with");
const REPEAT = Number(opt("repeat", 1));
const PY = opt("python", null) ?? process.env.VSCHED_PYTHON ?? venvPython();
const asJson = process.argv.includes("--json");
const OUT = path.join(root, "bench", "out", "simulate-speed");
const HELPER = path.join(root, "bench", "simulate_speed.py");
const log = (...a) => console.error(...a);
const builds = { main: path.resolve(BASE), branch: root };
const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

function venvPython() {
  const cache = path.join(os.homedir(), ".cache", "vsched");
  const v = existsSync(cache) ? readdirSync(cache).filter((d) => d.startsWith("venv-vllm-0.33.0-")) : [];
  if (!v.length) throw new Error("no harness venv: bash emitter/scripts/vllm_env.sh 0.33.0, or --python");
  return path.join(cache, v[0], "bin", "python");
}

// as src/sim/harness.ts runs the harness, with the build's own emitter first on PYTHONPATH
const harnessEnv = (build) => ({
  ...process.env, PYTHONPATH: path.join(build, "emitter", "src"), PYTHONHASHSEED: "0", TZ: "UTC",
  VLLM_LOGGING_LEVEL: "ERROR", HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", VSCHED_DATA_DIR: path.join(root, "fixtures", "data"),
});
const vsched = (build, ...a) => execFileSync(process.execPath, [path.join(build, "bin", "vsched.js"), ...a], { encoding: "utf8", maxBuffer: 1 << 28, env: harnessEnv(build) });

/** `python simulate_speed.py time` around cmd: wall, CPU and the spawn/exit marks. */
function timed(cmd, { env, cwd }) {
  const file = path.join(OUT, `time-${process.pid}.json`);
  const r = spawnSync(PY, [HELPER, "time", file, "--", ...cmd], { env, cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const t = JSON.parse(readFileSync(file, "utf8"));
  if (t.code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${t.code}: ${r.stderr.trim().split("\n").pop()}`);
  return t;
}

function prepareInputs() {
  mkdirSync(OUT, { recursive: true });
  const sat = path.join(root, "fixtures", "h100-nvml-sat");
  const model = path.join(OUT, "h100-nvml-sat.coeffs.json");
  vsched(root, "fit", sat, "--out", model);
  const gen = path.join(OUT, "gen128");
  {
    log("generating the 128-running workload …"); // each time: it follows the model just fitted
    const r = spawnSync(PY, ["-m", "vsched_emitter.harness", "--out", gen, "--force", "--no-oracle", "--workload", "synthetic", "--n", "600", "--rate", "inf",
      "--prompt-len", "uniform:128:1024", "--output-len", "uniform:128:512", "--max-num-seqs", "128", "--max-num-batched-tokens", "8192",
      "--num-blocks", "20000", "--async-scheduling", "--cost", `fitted:${model}`], { env: harnessEnv(root), stdio: ["ignore", "ignore", "inherit"] });
    if (r.status !== 0) throw new Error("generating the workload failed");
  }
  const recorded = (input) => {
    const s = JSON.parse(vsched(root, "summary", input, "--json"));
    return { steps: s.scheduler.iterations, span_s: s.span.duration_ns / 1e9, step_ms: s.scheduler.step_duration.mean_ns / 1e6, batch_mean: s.scheduler.batch_size.mean };
  };
  return [
    { key: "sat", name: "h100-nvml-sat (real H100 run, s128 t8192)", input: sat, model, recorded: recorded(sat) },
    { key: "gen128", name: "generated, 128 running (600 requests at once)", input: path.join(gen, "vsched-1-dp0.jsonl"), model, recorded: recorded(gen) },
  ];
}

function simulateOnce(c, name) {
  const build = builds[name];
  const out = path.join(OUT, `${c.key}-${name}`);
  rmSync(out, { recursive: true, force: true });
  const e2e = timed([process.execPath, path.join(build, "bin", "vsched.js"), "simulate", c.input, "--model", c.model, "-o", out], { env: harnessEnv(build) });
  // the harness alone, as simulate ran it (the build's own command in recipe.json), with marks
  const argv = JSON.parse(readFileSync(path.join(out, "trace", "recipe.json"), "utf8")).argv.map((a, i, all) => (all[i - 1] === "--out" ? "phases-trace" : a));
  const marksFile = path.join(OUT, `marks-${process.pid}.json`);
  const t = timed([PY, HELPER, "phases", marksFile, "--", ...argv, "--force"], { env: harnessEnv(build), cwd: out });
  const m = JSON.parse(readFileSync(marksFile, "utf8"));
  return {
    build: name, load: load(), e2e_wall_s: e2e.wall_s, e2e_cpu_s: e2e.cpu_s, harness_wall_s: t.wall_s, harness_cpu_s: t.cpu_s,
    startup_s: m.loop_start - t.spawn, startup_cpu_s: m.cpu_loop_start, loop_s: m.loop_end - m.loop_start, loop_cpu_s: m.cpu_loop_end - m.cpu_loop_start,
    after_s: t.exit - m.loop_end, simulated_s: m.simulated_s, steps: m.steps, logs: path.join(out, "logs"), oracle: argv.includes("--no-oracle") ? "no" : "yes",
  };
}

function bare(c) {
  const out = path.join(OUT, `${c.key}-branch`);
  const argv = JSON.parse(readFileSync(path.join(out, "trace", "recipe.json"), "utf8")).argv.map((a, i, all) => (all[i - 1] === "--out" ? "bare-trace" : a));
  const file = path.join(OUT, `bare-${process.pid}.json`);
  timed([PY, HELPER, "bare", file, "--", ...argv, "--force"], { env: harnessEnv(root), cwd: out });
  return JSON.parse(readFileSync(file, "utf8"));
}

const sameTables = (a, b) => {
  const csv = readdirSync(a).filter((f) => f.endsWith(".csv"));
  const differ = csv.filter((f) => !readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))));
  return differ.length ? `DIFFER: ${differ.join(", ")}` : `${csv.length} CSVs identical`;
};

const results = [];
for (const c of prepareInputs()) {
  const runs = [];
  for (let i = 0; i < REPEAT; i++) for (const name of i % 2 ? ["branch", "main"] : ["main", "branch"]) {
    log(`${c.name}: ${name} (load ${load()}) …`);
    runs.push(simulateOnce(c, name));
  }
  const first = (name) => runs.find((r) => r.build === name);
  const b = bare(c);
  results.push({ ...c, runs, tables: sameTables(first("main").logs, first("branch").logs), bare: b });
}

const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);
const speed = (sim, wall, cpu) => `${f1(sim / wall)}× (${f1(sim / cpu)}×)`;
if (asJson) {
  process.stdout.write(JSON.stringify(results, null, 2) + "\n");
} else {
  for (const r of results) {
    const { simulated_s: sim, steps } = r.runs[0];
    const realStepMs = (r.recorded.span_s / r.recorded.steps) * 1e3;
    console.log(`\n### ${r.name}`);
    console.log(`recorded: ${r.recorded.steps} steps in ${f1(r.recorded.span_s)} s (${f1(realStepMs)} ms a step), mean batch ${f1(r.recorded.batch_mean)}; simulated: ${steps} steps, ${f1(sim)} s; tables main vs branch: ${r.tables}\n`);
    console.log("Wall seconds, CPU seconds in brackets (user+sys; on a shared machine the CPU figures are the ones to trust); speed = simulated seconds per second.\n");
    console.log("| build | oracle | simulate | speed end to end | harness start | loop | loop ms/step | loop speed | after the loop | load |");
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    for (const x of r.runs) {
      console.log(`| ${x.build} | ${x.oracle} | ${f1(x.e2e_wall_s)} s (${f1(x.e2e_cpu_s)}) | ${speed(sim, x.e2e_wall_s, x.e2e_cpu_s)} | ${f1(x.startup_s)} s (${f1(x.startup_cpu_s)}) | ${f2(x.loop_s)} s (${f2(x.loop_cpu_s)}) | ${f2((x.loop_s / x.steps) * 1e3)} (${f2((x.loop_cpu_s / x.steps) * 1e3)}) | ${speed(sim, x.loop_s, x.loop_cpu_s)} | ${f2(x.after_s)} s | ${x.load} |`);
    }
    const b = r.bare;
    const ms = (v) => f2((v / b.steps) * 1e3);
    const floorCpu = (b.schedule_cpu_s + b.update_cpu_s) / b.steps;
    console.log(`\nCeiling, vLLM alone (emitter off, no oracle, same workload): schedule() ${ms(b.schedule_s)} ms (${ms(b.schedule_cpu_s)} CPU) + update_from_output() ${ms(b.update_s)} ms (${ms(b.update_cpu_s)}) a step, against ${f1(realStepMs)} ms of real time a step: at most ${f1(realStepMs / 1e3 / floorCpu)}× real time (by CPU) with no harness, emitter or start at all. The bare loop around them: ${ms(b.loop_s)} ms (${ms(b.loop_cpu_s)}) a step, ${speed(sim, b.loop_s, b.loop_cpu_s)}.`);
  }
}
