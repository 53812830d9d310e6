import { Command, CommanderError } from "commander";
import { EXIT, InputError, UsageError } from "./errors.js";
import { VERSION } from "../version.js";

/** Parse, run, and turn every failure into one actionable stderr line and a documented exit code. */
export async function runMain(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  // Subcommands registered before this point do not inherit exitOverride: without it a
  // subcommand's usage error would exit 1 inside commander instead of the documented 2.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) {
    c.exitOverride();
    c.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  }
  // Test hook: simulate a bug inside a command so the exit-code-3 path has a test (test/cli-exit-codes.test.ts).
  program.hook("preAction", () => {
    if (process.env.VSCHED_TEST_INTERNAL_ERROR === "1") throw new Error("simulated internal error (VSCHED_TEST_INTERNAL_ERROR=1)");
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, program.opts().debug === true);
  }
}

/** An error is one stderr line: a newline inside a message (quoted input, a library's text) becomes a space. */
const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, " ");

export function exitCodeFor(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are successes
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
    return EXIT.input;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`vsched: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  if (err instanceof InputError) {
    const where = err.file ? `${err.file}${err.line !== undefined ? `:${err.line}` : ""}: ` : "";
    process.stderr.write(`vsched: ${oneLine(`${where}${err.message}`)} [${err.code}]\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(
    `vsched: internal error: ${e.message}\nThis is a bug in vsched ${VERSION} (node ${process.version}); please report it with the command you ran.${debug ? "" : " Re-run with --debug for a stack trace."}\n`,
  );
  if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.internal;
}
