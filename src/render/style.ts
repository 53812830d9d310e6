import { Chalk } from "chalk";

/**
 * Text styling, the one place every text renderer takes it from. Renderers get a Style
 * and never decide about colour; the CLI passes `terminalStyle(stream)`, which colours
 * only a TTY without NO_COLOR (chalk alone ignores NO_COLOR).
 */
export interface Style {
  heading(s: string): string;
  dim(s: string): string;
  error(s: string): string;
  warning(s: string): string;
  ok(s: string): string;
}

export const PLAIN: Style = { heading: (s) => s, dim: (s) => s, error: (s) => s, warning: (s) => s, ok: (s) => s };

type MaybeTTY = { isTTY?: boolean };

export function terminalStyle(stream: MaybeTTY = process.stdout, env: Record<string, string | undefined> = process.env): Style {
  if (env.NO_COLOR !== undefined || stream.isTTY !== true) return PLAIN;
  const c = new Chalk({ level: 1 });
  return { heading: (s) => c.bold(s), dim: (s) => c.dim(s), error: (s) => c.red(s), warning: (s) => c.yellow(s), ok: (s) => c.green(s) };
}
