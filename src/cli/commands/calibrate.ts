import { InvalidArgumentError, type Command } from "commander";
import { writeAll } from "../io.js";
import { UsageError } from "../errors.js";
import { openTables } from "../../tables/index.js";
import { calibrate, type CalibrationResult } from "../../analysis/fit/calibrate.js";
import { calibrationTable, type CalibrationTargets } from "../../analysis/fit/calibrate-table.js";
import { renderCalibrationText } from "../../render/calibrate-text.js";
import { renderCalibrationTableText } from "../../render/calibrate-table-text.js";
import { examples } from "../examples.js";
import { readStepModel } from "../step-model-file.js";

interface CalibrateOptions {
  model?: string;
  json?: boolean;
  within?: CalibrationTargets;
}

/** "3,5": E2E and TTFT targets in percent, as fractions */
function parseWithin(v: string): CalibrationTargets {
  const m = /^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*$/.exec(v);
  if (!m || !(Number(m[1]) > 0) || !(Number(m[2]) > 0)) throw new InvalidArgumentError("expected E2E,TTFT in percent, e.g. 3,5");
  return { e2e: Number(m[1]) / 100, ttft: Number(m[2]) / 100 };
}

/** [recorded, simulated] pairs from the arguments, in order */
function pairsOf(recorded: string, simulated: string, more: string[]): [string, string][] {
  if (more.length % 2) throw new UsageError(`calibrate takes RECORDED SIMULATED pairs; the last path, ${more[more.length - 1]}, has no simulated run after it`);
  const paths = [recorded, simulated, ...more];
  return Array.from({ length: paths.length / 2 }, (_, i) => [paths[2 * i], paths[2 * i + 1]]);
}

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description("Compare a simulated run with the recorded one, paired by request and by step: TTFT/E2E errors, step-membership agreement, the pace by step type and batch (where the replay ran fast or slow), progress by 5 s window, the work done by share of the tokens (when it got ahead or behind), and each run's GPU busy and idle time where both have GPU times. Given several pairs, one table: a row per pair with its signed errors, and with --within which pairs meet the targets (docs/fit.md).")
    .argument("<recorded>", "the recorded run: a logs directory or a trace")
    .argument("<simulated>", "the simulated run: vsched simulate's OUT/logs, or any logs directory or trace")
    .argument("[more...]", "further RECORDED SIMULATED pairs: one table, a row per pair")
    .option("--model <file>", "the step model used (adds the alpha regression's queue-delay error beside the replay's; one pair only)")
    .option("--within <e2e,ttft>", "targets for the errors of the means, in percent (e.g. 3,5): marks each pair met or missed and counts them", parseWithin)
    .option("--json", "print the figures as JSON (errors as fractions, times in ns)")
    .addHelpText(
      "after",
      examples(
        "vsched calibrate fixtures/known-linear/vsched-1-dp0.jsonl sim/logs --model coeffs.json",
        "vsched calibrate fixtures/known-linear/vsched-1-dp0.jsonl sim/logs --json",
        "vsched calibrate fixtures/known-linear/vsched-1-dp0.jsonl sim/logs fixtures/known-linear/vsched-1-dp0.jsonl sim-slower/logs --within 5,10",
      ),
    )
    .action(async (recorded: string, simulated: string, more: string[], o: CalibrateOptions) => {
      const pairs = pairsOf(recorded, simulated, more);
      if (pairs.length > 1 && o.model) throw new UsageError("--model adds the alpha regression's row to one pair's calibration; give one pair, or leave --model out");
      const model = o.model ? readStepModel(o.model) : null;
      const results: CalibrationResult[] = [];
      // one pair at a time: each calibration keeps only its figures, never a run's tables
      for (const [rec, sim] of pairs) results.push(await calibrate(await openTables([rec]), await openTables([sim]), model));
      if (pairs.length === 1 && !o.within) {
        await writeAll(process.stdout, o.json ? JSON.stringify(results[0], null, 2) + "\n" : renderCalibrationText(results[0]));
        return;
      }
      // the table names each run as the user did (a logs directory, not the trace file inside it)
      const table = calibrationTable(results.map((c, i) => ({ ...c, recorded: pairs[i][0], simulated: pairs[i][1] })), o.within ?? null);
      await writeAll(process.stdout, o.json ? JSON.stringify(table, null, 2) + "\n" : renderCalibrationTableText(table));
    });
}
