import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerConvert } from "./commands/convert.js";
import { registerSummary } from "./commands/summary.js";
import { registerValidate } from "./commands/validate.js";
import { registerSchema } from "./commands/schema.js";
import { registerReport } from "./commands/report.js";
import { registerCompare } from "./commands/compare.js";
import { registerTimeline } from "./commands/timeline.js";
import { registerFit } from "./commands/fit.js";
import { registerSimulate } from "./commands/simulate.js";
import { registerCalibrate } from "./commands/calibrate.js";
import { registerWatch } from "./commands/watch.js";
import { registerExport } from "./commands/export.js";

/** The `vsched` command tree; a fresh one per call, so the batch entry (batch.ts) parses each job from a clean state. */
export function buildProgram(): Command {
  const program = new Command("vsched")
    .description("Replay vLLM v1 scheduler traces into CSVs that say what every request and iteration did, and why requests waited.")
    .version(VERSION)
    .option("--debug", "print stack traces for internal errors");
  registerConvert(program);
  registerSummary(program);
  registerValidate(program);
  registerSchema(program);
  registerReport(program);
  registerCompare(program);
  registerTimeline(program);
  registerFit(program);
  registerSimulate(program);
  registerCalibrate(program);
  registerWatch(program);
  registerExport(program);
  return program;
}
