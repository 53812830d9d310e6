import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { InputError, UsageError } from "../errors.js";
import { writeAll } from "../io.js";
import { openTables } from "../../tables/index.js";
import type { TableSource } from "../../tables/types.js";
import { extractWorkload, workloadJsonl, type WorkloadOptions } from "../../analysis/workload.js";
import { frontendDelayNs as modelDelayNs } from "../../analysis/fit/frontend.js";
import { StepModelFile } from "../../schema/fit.js";
import { applySets, findPython, harnessKnobArgs, knobsOf, runHarness } from "../../sim/harness.js";
import { runConvert } from "./convert.js";
import { examples } from "../examples.js";
import { readStepModel } from "../step-model-file.js";
import { cpuWaitFor, hostCpuFor, MODEL_FILE, recordedRun } from "../host-cpu-choice.js";

interface SimulateCliOptions {
  model?: string;
  cost?: string;
  set: string[];
  out: string;
  python?: string;
  frontendDelay?: string;
  schedulerCls?: string;
  requestQueueCls?: string;
  cpuIndex: string;
  cpuWait: string;
  stepScale?: number;
}

const WORKLOAD = "workload.jsonl";
const TRACE_DIR = "trace";
const LOGS_DIR = "logs";

function frontendDelayNs(o: SimulateCliOptions, model: StepModelFile | null): number {
  if (o.frontendDelay !== undefined) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)$/.exec(o.frontendDelay);
    if (!m) throw new UsageError(`--frontend-delay: expected a duration like 0ns, 250us or 2ms, got '${o.frontendDelay}'`);
    return Math.round(Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] as "ns"]);
  }
  return model ? Math.round(model.frontend_delay_s * 1e9) : 0;
}

/** --frontend-delay, else the model's visibility delay by prompt length, else its fixed delay (model files before it). */
function delayOptions(o: SimulateCliOptions, model: StepModelFile | null): WorkloadOptions {
  const fixed = frontendDelayNs(o, model);
  const m = o.frontendDelay === undefined ? model?.frontend_delay_model : undefined;
  if (!m) return { frontendDelayNs: fixed };
  const perToken = { intercept_ns: m.intercept_s * 1e9, per_prompt_token_ns: m.per_prompt_token_s * 1e9 };
  return { frontendDelayNs: fixed, frontendDelayOf: (prompt) => modelDelayNs(perToken, prompt) };
}

function policyArgs(o: SimulateCliOptions): string[] {
  return [...(o.schedulerCls ? ["--scheduler-cls", o.schedulerCls] : []), ...(o.requestQueueCls ? ["--request-queue-cls", o.requestQueueCls] : [])];
}

/** vLLM version in the simulated trace's header (its first line). */
async function simulatedVersion(trace: string): Promise<string | null> {
  const lines = createInterface({ input: createReadStream(trace), crlfDelay: Infinity });
  for await (const line of lines) {
    lines.close();
    try {
      return String(JSON.parse(line).vllm_version ?? "") || null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Said on stdout whenever the scheduler that replayed the run is not the one that recorded it. */
export function versionNote(recorded: string, simulated: string | null): string {
  if (simulated === null || simulated === recorded) return "";
  return `note: recorded on vLLM ${recorded}, replayed through vLLM ${simulated}'s scheduler (for the recorded one: bash emitter/scripts/vllm_env.sh ${recorded}, then --python or ${"$"}VSCHED_PYTHON)\n`;
}

function parseStepScale(v: string): number {
  const f = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(f > 0)) throw new InvalidArgumentError("expected a positive number like 1.03");
  return f;
}

/** What the model's terms predict (docs/fit.md, "Step clock"); nothing for --cost models. */
function clockLine(model: StepModelFile | null): string {
  if (!model) return "";
  if (model.clock !== "gpu") return "clock: the update-to-update step time\n";
  return `clock: each step's GPU time, back to back on the device${model.host ? ", and the host's loop (launch, update, schedule)" : ""}\n`;
}

/**
 * The model as the harness runs it: the host CPU index applied (--cpu-index) and every step time
 * scaled (--step-scale); null when the model file runs as given.
 */
async function modelToRun(model: StepModelFile | null, o: SimulateCliOptions, source: TableSource, level: string) {
  if (!model) return null;
  const recorded = recordedRun(source);
  const host = await hostCpuFor(model, o.cpuIndex, recorded, level);
  const wait = await cpuWaitFor(host?.model ?? model, o.cpuWait, recorded);
  if (!host && !wait && o.stepScale === undefined) return null;
  const run = wait?.model ?? host?.model ?? model;
  const scaled = o.stepScale === undefined ? run : { ...run, time_scale: o.stepScale };
  const scaleNote = o.stepScale === undefined ? "" : `step times × ${o.stepScale} (--step-scale)\n`;
  return { model: scaled, note: (host?.note ?? "") + (wait?.note ?? "") + scaleNote };
}

export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description("Replay a run's workload through vLLM's real scheduler (the emitter's harness) with a fitted step-time model as the clock; writes a new trace and its logs.")
    .argument("<inputs...>", "a logs directory written by vsched convert, or raw traces of one scheduler")
    .option("--model <file>", "step model from vsched fit --out (the harness's --cost fitted:FILE)")
    .option("--cost <spec>", "instead of --model, a harness cost model: linear:alpha=S,beta_prefill=S,... or splitwise:MODEL:HW:TP")
    .option("--set <key=value>", "change a scheduler setting: max_num_seqs, max_num_batched_tokens, num_gpu_blocks, policy, chunked_prefill, prefix_caching, async_scheduling, max_model_len, block_size, long_prefill_token_threshold, max_loras (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .requiredOption("-o, --out <dir>", "output directory: workload.jsonl, trace/ (the new trace), logs/ (its tables)")
    .option("--python <path>", "Python with vLLM (default: $VSCHED_PYTHON, else the harness venv in ~/.cache/vsched from emitter/scripts/vllm_env.sh)")
    .option("--frontend-delay <duration>", "fixed delay added to every arrival (default: the model's visibility delay by prompt length, frontend_delay_model; in older model files its frontend_delay_s)")
    .option("--scheduler-cls <module:Class>", "your own vLLM Scheduler subclass (vLLM's --scheduler-cls; extend AsyncScheduler when async scheduling is on), importable from the current directory")
    .option("--request-queue-cls <module:Class>", "your own waiting-queue class (built where vLLM calls create_request_queue), importable from the current directory")
    .option("--cpu-index <which>", "host CPU speed for a model with cpu_index terms or a host loop (GPU clock): recorded (the replayed run's own, from its schedule() times, window by window), training (1: the training runs' typical host) or a number (one host throughout)", "recorded")
    .option("--cpu-wait <which>", "CPU contention for a model with a cpu_wait_ns term (fit's gpu_wait set): recorded (the replayed run's own wait share, from its trace's step.cpu), none (an uncontended host) or a share like 0.2", "recorded")
    .option("--step-scale <factor>", "multiply every predicted step time by this: a uniformly slower (1.1) or faster (0.9) engine, or how sensitive the latencies are to a step-time bias (bench/sim-to-real.mjs --sensitivity)", parseStepScale)
    .addHelpText("after", examples("vsched simulate fixtures/known-linear/vsched-1-dp0.jsonl --model coeffs.json -o sim/", "vsched simulate fixtures/known-linear/vsched-1-dp0.jsonl --model coeffs.json --set max_num_seqs=6 -o sim-6/", "vsched simulate fixtures/known-linear/vsched-1-dp0.jsonl --model coeffs.json --step-scale 1.05 -o sim-slower/"))
    .action(async (inputs: string[], o: SimulateCliOptions) => {
      if (!o.model === !o.cost) throw new UsageError("give exactly one of --model FILE (from vsched fit --out) or --cost SPEC");
      if (o.cost && o.stepScale !== undefined) throw new UsageError("--step-scale scales a fitted model's step times: give --model FILE, not --cost");
      const model = o.model ? readStepModel(o.model) : null;
      const source = await openTables(inputs);
      if (source.info.sources.length !== 1) {
        throw new InputError(`simulate replays one scheduler; this run has ${source.info.sources.length} trace files (data-parallel ranks)`, "SIM_MULTI_RANK", source.info.label);
      }
      const header = source.info.sources[0].header;
      const knobs = applySets(knobsOf(header.config), o.set);
      const python = findPython(o.python, header.vllm_version);
      const workload = await extractWorkload(source, delayOptions(o, model));
      if (!workload.requests.length) throw new InputError("no requests to replay", "SIM_NO_REQUESTS", source.info.label);
      const out = path.resolve(o.out);
      await mkdir(out, { recursive: true });
      const stage = await mkdtemp(path.join(out, ".vsched-tmp-"));
      try {
        await writeFile(path.join(stage, WORKLOAD), workloadJsonl(workload));
        const run = await modelToRun(model, o, source, header.level);
        if (run) await writeFile(path.join(stage, MODEL_FILE), JSON.stringify(run.model, null, 2) + "\n");
        const cost = run ? `fitted:${path.join(stage, MODEL_FILE)}` : o.model ? `fitted:${path.resolve(o.model)}` : o.cost!;
        const line = await runHarness({
          python,
          cwd: stage,
          // no oracle.jsonl: simulate reads only the trace (the trace is the same without it)
          args: ["--workload", `file:${WORKLOAD}`, "--out", TRACE_DIR, "--clock", "virtual", "--cost", cost, "--no-oracle", ...harnessKnobArgs(knobs), ...policyArgs(o)],
          importFrom: process.cwd(),
        });
        const traceFile = path.join(TRACE_DIR, "vsched-1-dp0.jsonl");
        if (!existsSync(path.join(stage, traceFile))) throw new InputError("the harness wrote no trace", "SIM_HARNESS_FAILED", python);
        await runConvert({ inputs: [traceFile], out: LOGS_DIR, lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, cwd: stage });
        for (const name of [WORKLOAD, TRACE_DIR, LOGS_DIR, ...(run ? [MODEL_FILE] : [])]) {
          await rm(path.join(out, name), { recursive: true, force: true });
          await rename(path.join(stage, name), path.join(out, name));
        }
        const changed = [...o.set, ...(o.schedulerCls ? [`scheduler ${o.schedulerCls}`] : []), ...(o.requestQueueCls ? [`queue ${o.requestQueueCls}`] : [])];
        const how = changed.length ? ` with ${changed.join(", ")}` : " under the recorded configuration";
        const note = versionNote(header.vllm_version, await simulatedVersion(path.join(out, TRACE_DIR, "vsched-1-dp0.jsonl")));
        await writeAll(process.stdout, `simulated ${workload.requests.length} requests${how}: ${o.out.replace(/\/+$/, "")}/${LOGS_DIR}\n${line.trim().replace(/ trace=.*$/, "")}\n${clockLine(model)}${run?.note ?? ""}${note}`);
      } finally {
        await rm(stage, { recursive: true, force: true });
      }
    });
}
