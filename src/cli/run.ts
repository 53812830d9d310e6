import { Command, CommanderError } from "commander";
import { EXIT, InputError, UsageError } from "./errors.js";
import { VERSION } from "../version.js";

/** Parse, run, and turn every failure into one actionable stderr line and a documented exit code. */
export async function runMain(program: Command): Promise<void> {
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, program.opts().debug === true);
  }
}

export function exitCodeFor(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are successes
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
    return EXIT.input;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`vsched: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof InputError) {
    const where = err.file ? `${err.file}${err.line !== undefined ? `:${err.line}` : ""}: ` : "";
    process.stderr.write(`vsched: ${where}${err.message} [${err.code}]\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(
    `vsched: internal error: ${e.message}\nThis is a bug in vsched ${VERSION} (node ${process.version}); please report it with the command you ran.${debug ? "" : " Re-run with --debug for a stack trace."}\n`,
  );
  if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.internal;
}
