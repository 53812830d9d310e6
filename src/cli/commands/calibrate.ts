import type { Command } from "commander";
import { writeAll } from "../io.js";
import { openTables } from "../../tables/index.js";
import { calibrate } from "../../analysis/fit/calibrate.js";
import { renderCalibrationText } from "../../render/calibrate-text.js";
import { examples } from "../examples.js";
import { readStepModel } from "../step-model-file.js";

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description("Compare a simulated run with the recorded one, paired by request and by step: TTFT/E2E errors, step-membership agreement, the pace by step type and batch (where the replay ran fast or slow), progress by 5 s window, the work done by share of the tokens (when it got ahead or behind), and each run's GPU busy and idle time where both have GPU times (docs/fit.md).")
    .argument("<recorded>", "the recorded run: a logs directory or a trace")
    .argument("<simulated>", "the simulated run: vsched simulate's OUT/logs, or any logs directory or trace")
    .option("--model <file>", "the step model used (adds the alpha regression's queue-delay error beside the replay's)")
    .option("--json", "print the figures as JSON (errors as fractions, times in ns)")
    .addHelpText("after", examples("vsched calibrate fixtures/known-linear/vsched-1-dp0.jsonl sim/logs --model coeffs.json", "vsched calibrate fixtures/known-linear/vsched-1-dp0.jsonl sim/logs --json"))
    .action(async (recorded: string, simulated: string, o: { model?: string; json?: boolean }) => {
      const model = o.model ? readStepModel(o.model) : null;
      const result = await calibrate(await openTables([recorded]), await openTables([simulated]), model);
      await writeAll(process.stdout, o.json ? JSON.stringify(result, null, 2) + "\n" : renderCalibrationText(result));
    });
}
