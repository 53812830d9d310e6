/**
 * Golden transcripts of the BUILT CLI (arethetypeswrong's test/snapshots/*.md):
 * one markdown file per case holding the command, its stdout and stderr and
 * `Exit code: N`, so a reviewer reads exactly what a user sees.
 *
 *   const r = await runCli(["convert", "t.jsonl", "-o", out], { cwd });
 *   await expectGolden("test/golden/convert-ok.md", r);
 *
 * - runs `node bin/vsched.js ARGS` with NO_COLOR=1 and pipes (not a TTY, so no progress
 *   bar); dist/cli.js is rebuilt first when missing or older than src/ (once per process);
 * - normalises: the repository root → <ROOT>, temporary directories → <TMP>, and any
 *   extra `replace` pairs you pass;
 * - compares with the file, or rewrites it when UPDATE_GOLDEN=1; a missing file fails
 *   (a golden that wrote itself would pass its first run unread).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(ROOT, "bin", "vsched.js");
const DIST = path.join(ROOT, "dist", "cli.js");

export interface CliResult {
  /** the command as shown in the transcript (`vsched ARGS`, normalised) */
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** extra [from, to] replacements applied to command and output */
  replace?: [string | RegExp, string][];
  timeoutMs?: number;
}

let built = false;

/** Rebuilds dist/cli.js if it is missing or older than any file under src/ or package.json. */
export function ensureBuilt(): void {
  if (built) return;
  const newest = Math.max(newestMtime(path.join(ROOT, "src")), statSync(path.join(ROOT, "package.json")).mtimeMs, statSync(path.join(ROOT, "scripts", "build.mjs")).mtimeMs);
  if (!existsSync(DIST) || statSync(DIST).mtimeMs < newest) {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  }
  built = true;
}

function newestMtime(dir: string): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return m;
}

/** Runs the built CLI and captures everything a user would see. */
/** The CLI's stdout when it exits 0 (slow commands such as fit and simulate: 8 minutes); else an error naming the command and its stderr. */
export async function runCliOk(args: string[], o: RunOptions = {}): Promise<string> {
  const r = await runCli(args, { timeoutMs: 480_000, ...o });
  if (r.exitCode !== 0) throw new Error(`vsched ${args.join(" ")} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

export async function runCli(args: string[], o: RunOptions = {}): Promise<CliResult> {
  ensureBuilt();
  const cwd = o.cwd ?? ROOT;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...o.env })) if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdin.end(o.stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
  clearTimeout(timer);
  const norm = (s: string) => normalise(s, o.replace);
  return {
    command: norm(["vsched", ...args.map(shellQuote)].join(" ")),
    stdout: norm(Buffer.concat(out).toString("utf8")),
    stderr: norm(Buffer.concat(err).toString("utf8")),
    exitCode,
  };
}

/** Replaces machine-specific paths so transcripts are the same everywhere. */
export function normalise(text: string, extra: [string | RegExp, string][] = []): string {
  let s = text;
  for (const [from, to] of extra) s = typeof from === "string" ? s.split(from).join(to) : s.replace(from, to);
  const tmp = [os.tmpdir(), safeRealpath(os.tmpdir())];
  for (const t of tmp) s = s.split(t).join("<TMP>");
  s = s.replace(/<TMP>\/[A-Za-z0-9._-]*vsched-test-[A-Za-z0-9]+/g, "<TMP>");
  s = s.split(ROOT).join("<ROOT>");
  return s.replace(/\r\n/g, "\n");
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/** The transcript markdown for a result. `sections` appends extra titled blocks (e.g. a produced file). */
export function renderTranscript(r: CliResult, sections: { title: string; body: string; lang?: string }[] = []): string {
  const block = (body: string, lang = "") => {
    const fence = body.includes("```") ? "````" : "```";
    return `${fence}${lang}\n${body}${body.endsWith("\n") || body === "" ? "" : "\n"}${fence}\n`;
  };
  const parts = [block(`$ ${r.command}\n`, "console")];
  parts.push(`## stdout\n`, r.stdout === "" ? "(empty)\n" : block(r.stdout));
  parts.push(`## stderr\n`, r.stderr === "" ? "(empty)\n" : block(r.stderr));
  for (const s of sections) parts.push(`## ${s.title}\n`, block(s.body, s.lang));
  parts.push(`Exit code: ${r.exitCode}\n`);
  return parts.join("\n");
}

/** Compares the transcript with `file` (relative to the repo root), or rewrites it with UPDATE_GOLDEN=1. */
export function expectGolden(file: string, r: CliResult, sections: { title: string; body: string; lang?: string }[] = []): void {
  const abs = path.resolve(ROOT, file);
  const actual = renderTranscript(r, sections);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, actual);
    return;
  }
  if (!existsSync(abs)) throw new Error(`golden file ${file} is missing: run UPDATE_GOLDEN=1 npx vitest run to create it`);
  expect(actual, `${file} differs (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(abs, "utf8"));
}
