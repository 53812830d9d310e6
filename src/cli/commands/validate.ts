import { InvalidArgumentError, Option, type Command } from "commander";
import { validateInputs } from "../../validate/index.js";
import { renderValidateGithub, renderValidateJson, renderValidateText, validateExitCode, VALIDATE_FORMATS, type ValidateFormat } from "../../validate/render.js";
import { writeAll } from "../io.js";
import { terminalStyle } from "../../render/style.js";
import { examples } from "../examples.js";

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description(
      "The CI gate: check a logs directory (manifest, columns, every row, cross-file invariants) or raw trace files (every record, ordering, references). Exit 0 clean, 1 findings, 2 unreadable input.",
    )
    .argument("<inputs...>", "one logs directory, or raw trace files (.jsonl, .jsonl.gz) / directories holding them")
    .addOption(new Option("--format <format>", "text, json, or github (workflow annotations)").choices(VALIDATE_FORMATS).default("text"))
    .option("--strict", "exit 1 on warnings too")
    .option("--max-per-code <n>", "findings listed per file and code; the rest are counted", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
      return n;
    }, 50)
    .addHelpText("after", examples("vsched validate logs/", "vsched validate fixtures/e2e-vllm-cpu/trace --format github"))
    .action(async (inputs: string[], opts: { format: ValidateFormat; strict?: boolean; maxPerCode: number }) => {
      const result = await validateInputs(inputs, { maxPerCode: opts.maxPerCode });
      const text =
        opts.format === "json" ? renderValidateJson(result) : opts.format === "github" ? renderValidateGithub(result) : renderValidateText(result, terminalStyle());
      await writeAll(process.stdout, text);
      process.exitCode = validateExitCode(result, { strict: opts.strict });
    });
}
