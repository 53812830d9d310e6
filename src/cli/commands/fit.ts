import type { Command } from "commander";
import { InputError, UsageError } from "../errors.js";
import { StagedOutputDir, warn, writeAll, writeFileAtomic } from "../io.js";
import { openTables, type TraceSource } from "../../tables/index.js";
import { formatFinding } from "../../render/findings-text.js";
import { ClockUnavailable, DEFAULT_FIT_OPTIONS, fitRun, WEIGH_CHOICES, type FitOptions, type Weigh } from "../../analysis/fit/index.js";
import { CLOCK_CHOICES, type ClockChoice } from "../../analysis/fit/clock.js";
import { GPU_WORK_MODES, type GpuWorkMode } from "../../analysis/fit/gpu-work.js";
import { LAUNCH_WAITS, type LaunchWaits } from "../../analysis/fit/host-part.js";
import { blisYaml, stepModelFile } from "../../analysis/fit/step-model.js";
import { AlphaTrainingRow, BetaTrainingRow, FIT_SCHEMA_VERSION } from "../../schema/fit.js";
import { formatCsv } from "../../sinks/fit-csv.js";
import { renderFitText } from "../../render/fit-text.js";
import { renderFitHtml } from "../../render/fit-html/index.js";
import { examples } from "../examples.js";

interface FitCliOptions {
  json?: boolean;
  export?: string;
  out?: string;
  yaml?: string;
  html?: string;
  warmup: string;
  testFraction: string;
  use?: string;
  with?: string[];
  weigh: string;
  clock: string;
  gpuWork: string;
  launchWaits: string;
}

function parseOptions(o: FitCliOptions): FitOptions {
  const warmup = Number(o.warmup), frac = Number(o.testFraction);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError(`--warmup: expected a whole number of steps, got '${o.warmup}'`);
  if (!(frac > 0 && frac < 1)) throw new UsageError(`--test-fraction: expected a number between 0 and 1, got '${o.testFraction}'`);
  if (!WEIGH_CHOICES.includes(o.weigh as Weigh)) throw new UsageError(`--weigh: expected one of ${WEIGH_CHOICES.join(", ")}, got '${o.weigh}'`);
  if (!CLOCK_CHOICES.includes(o.clock as ClockChoice)) throw new UsageError(`--clock: expected one of ${CLOCK_CHOICES.join(", ")}, got '${o.clock}'`);
  if (!GPU_WORK_MODES.includes(o.gpuWork as GpuWorkMode)) throw new UsageError(`--gpu-work: expected one of ${GPU_WORK_MODES.join(", ")}, got '${o.gpuWork}'`);
  if (!LAUNCH_WAITS.includes(o.launchWaits as LaunchWaits)) throw new UsageError(`--launch-waits: expected one of ${LAUNCH_WAITS.join(", ")}, got '${o.launchWaits}'`);
  return { ...DEFAULT_FIT_OPTIONS, warmupSteps: warmup, testFraction: frac, use: o.use, weigh: o.weigh as Weigh, clock: o.clock as ClockChoice, gpuWork: o.gpuWork as GpuWorkMode, launchWaits: o.launchWaits as LaunchWaits };
}

export function registerFit(program: Command): void {
  program
    .command("fit")
    .description("Fit step-time (beta) and queue-delay (alpha) models to a run, with a chronological hold-out (docs/fit.md).")
    .argument("<inputs...>", "a logs directory written by vsched convert, or raw traces (files or directories)")
    .option("--json", "print the fit as JSON (coefficients in ns per unit, errors as fractions)")
    .option("--export <dir>", "write the training data: beta_training.csv and alpha_training.csv")
    .option("--out <file>", "write the chosen step model for vsched simulate and the harness (--cost fitted:FILE)")
    .option("--yaml <file>", "write BLIS-style coefficients (inference-sim defaults.yaml layout, microseconds)")
    .option("--html <file>", "write residual plots as one self-contained HTML page")
    .option("--warmup <steps>", "steps left out at the start of each rank", String(DEFAULT_FIT_OPTIONS.warmupSteps))
    .option("--test-fraction <f>", "latest share of steps held out for testing", String(DEFAULT_FIT_OPTIONS.testFraction))
    .option("--use <model>", "export this model instead of the lowest validation MAPE, e.g. tokens/ols")
    .option("--with <run>", "another run to train on (a logs directory or its raw traces; its own configuration), repeatable: one model over several configurations", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--weigh <how>", "with --with: 'configs' weighs every engine configuration alike and the runs of one configuration as one run (ten runs of one configuration do not drown one of another), 'runs' every run alike, 'steps' every step alike", DEFAULT_FIT_OPTIONS.weigh)
    .option("--clock <which>", "what the step model predicts: 'gpu' each step's time on the GPU (traces with update.gpu, schema 1.6), 'interval' the update-to-update step time, 'auto' gpu where every run has it (docs/fit.md, \"Step clock\")", DEFAULT_FIT_OPTIONS.clock)
    .option("--gpu-work <how>", "under the GPU clock, a step without a CUDA graph whose GPU time ended with its launch (the GPU waited on the host): 'span' fits its GPU time, 'censored' reads that time as an upper bound on its work, so a model of a slow host does not carry its launches to another (docs/fit.md, \"Step clock\")", DEFAULT_FIT_OPTIONS.gpuWork)
    .option("--launch-waits <how>", "under the GPU clock, a launch that returned only when its step's GPU work ended: 'mean' keeps it in the host's launch line, 'apart' fits that line on the launches that did not wait and gives the model the share that did, for the replay to wait on its own GPU timeline (docs/fit.md, \"Step clock\")", DEFAULT_FIT_OPTIONS.launchWaits)
    .addHelpText("after", examples("vsched fit fixtures/known-linear/vsched-1-dp0.jsonl --out coeffs.json --html fit.html", "vsched fit fixtures/known-linear/vsched-1-dp0.jsonl --export training/ --json", "vsched fit fixtures/known-linear/vsched-1-dp0.jsonl --use tokens/ols --yaml blis.yaml"))
    .action(async (inputs: string[], o: FitCliOptions) => {
      const opts = parseOptions(o);
      const source = await openTables(inputs);
      const others = await Promise.all((o.with ?? []).map((run) => openTables([run])));
      const ir = source.info.options;
      if (ir.iterationRequests === "none" || ir.iterationRequestsEvery > 1) {
        warn(formatFinding({ code: "FIT_NO_CONTEXT", args: { which: ir.iterationRequests, every: ir.iterationRequestsEvery } }), { code: "FIT_NO_CONTEXT" });
      }
      const { result, data, plot } = await fitRun([source, ...others], opts).catch((e: unknown) => {
        throw e instanceof ClockUnavailable ? new UsageError(e.message) : e;
      });
      for (const w of (source as Partial<TraceSource>).lastReplay?.warnings ?? []) warn(formatFinding(w), { file: w.file, line: w.line, code: w.code });
      if (!result.beta.models.length) {
        const f = result.filters;
        throw new InputError(`too few steps to fit: ${f.kept} of ${f.steps} left (warmup ${f.warmup}, idle ${f.idle}, incomplete ${f.incomplete}), ${result.split.train_steps} for training; every feature set needs more training steps than terms`, "FIT_NO_STEPS", source.info.label);
      }
      if (opts.use && !result.beta.models.some((m) => m.id === opts.use)) {
        throw new UsageError(`--use: no model '${opts.use}'; fitted: ${result.beta.models.map((m) => m.id).join(", ")}`);
      }
      const label = source.info.label;
      if (o.export) {
        const dir = await StagedOutputDir.create(o.export);
        try {
          await dir.writeFile("beta_training.csv", formatCsv(BetaTrainingRow, data.steps));
          await dir.writeFile("alpha_training.csv", formatCsv(AlphaTrainingRow, data.requests));
          await dir.commit(["beta_training.csv", "alpha_training.csv"]);
        } catch (e) {
          await dir.abort();
          throw e;
        }
      }
      if (o.out) await writeFileAtomic(o.out, JSON.stringify(stepModelFile(result, result.filters.kept), null, 2) + "\n");
      if (o.yaml) await writeFileAtomic(o.yaml, blisYaml(result, label));
      if (o.html) await writeFileAtomic(o.html, renderFitHtml(result, plot, label));
      await writeAll(process.stdout, o.json ? JSON.stringify({ fit_schema_version: FIT_SCHEMA_VERSION, ...result }, null, 2) + "\n" : renderFitText(result, label));
    });
}
