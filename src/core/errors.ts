/**
 * Exit codes (documented in README.md; one test per code in test/cli-exit-codes.test.ts):
 *   0  success, nothing to report
 *   1  the input was read and has findings (validate), or convert finished with errors in the data
 *   2  bad usage, or input that cannot be read (missing file, malformed line, unsupported schema major)
 *   3  internal error: a bug in vsched
 * They live below every layer so that parse, validate and the pipeline can raise the
 * errors the CLI turns into exit codes without importing the CLI.
 */
export const EXIT = { ok: 0, findings: 1, input: 2, internal: 3 } as const;

/** The user asked for something impossible: wrong flags, missing argument. */
export class UsageError extends Error {
  readonly exitCode = EXIT.input;
}

/** The input cannot be read as a trace or log directory; the message names file and line. */
export class InputError extends Error {
  readonly exitCode = EXIT.input;
  constructor(
    message: string,
    readonly code: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(message);
  }
}
