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
import { runMain } from "./run.js";

// A reader that goes away (`vsched fit --help | head`) ends the output, not the process with a
// stack trace: data writes already resolve on EPIPE (io.ts); this covers commander's help text.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

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

await runMain(program);
