/**
 * The runnable examples that end a command's --help (`.addHelpText("after", examples(…))`),
 * as `$ vsched …` lines on the repository's own fixtures. test/help-examples.test.ts runs
 * every one, in the order the commands are registered, so `logs/` exists when it is read.
 */
export function examples(...lines: string[]): string {
  return `\nExamples (from a checkout of vsched):\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}
