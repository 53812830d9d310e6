import { stat } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { InputError, UsageError } from "../errors.js";
import { warn, writeAll } from "../io.js";
import { LiveRun } from "../../pipeline/live.js";
import { renderTailNote, renderWatchLine, renderWatchScreen } from "../../render/watch-text.js";
import { terminalStyle } from "../../render/style.js";
import { examples } from "../examples.js";

interface WatchOptions {
  interval: string;
  window: string;
  untilEnd?: boolean;
}

const POLL_MS = 200;
const CLEAR = "\x1b[H\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

export function registerWatch(program: Command): void {
  program
    .command("watch")
    .description("Follow traces while vLLM writes them (vsched watch scheduler_logs/): rolling batch statistics, waiting by cause, the longest waiters, preemptions and KV use, refreshed every second; one plain line per interval on a pipe.")
    .argument("<target>", "a trace directory (every *.jsonl / *.jsonl.gz in it, also files that appear later) or one trace file")
    .option("--interval <seconds>", "refresh (terminal) or line (pipe) interval", "1")
    .option("--window <seconds>", "the rolling window of the batch statistics", "10")
    .option("--until-end", "exit once every trace has its end record (the emitter writes it when the scheduler shuts down)")
    .addHelpText("after", examples("vsched watch fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl --until-end", "vsched watch fixtures/hostile-ids/vsched-1-dp0.jsonl.gz --until-end --window 5"))
    .action(async (target: string, opts: WatchOptions) => {
      const intervalMs = seconds(opts.interval, "--interval") * 1000;
      const windowS = seconds(opts.window, "--window");
      const abs = path.resolve(target);
      let isDir: boolean;
      try {
        isDir = (await stat(abs)).isDirectory();
      } catch {
        throw new InputError("no such trace file or directory (start the server with VLLM_SCHEDULER_LOGGING=1 first, or create the directory)", "WATCH_TARGET_MISSING", target);
      }
      await watch(new LiveRun(abs, target.replace(/\/+$/, "") || "/", isDir, windowS, onNoteFor()), target, intervalMs, opts.untilEnd === true);
    });
}

function seconds(text: string, flag: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag}: expected a positive number of seconds, got '${text}'`);
  return v;
}

/** On a pipe, notes go to stderr as they happen; on a terminal the screen shows them. */
function onNoteFor() {
  return process.stdout.isTTY ? () => {} : (n: Parameters<typeof renderTailNote>[0]) => warn(renderTailNote(n).replace(/ \[[A-Z_]+\]$/, ""), { code: n.code });
}

async function watch(run: LiveRun, label: string, intervalMs: number, untilEnd: boolean): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const style = terminalStyle(process.stdout);
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  if (tty) process.stdout.write(HIDE_CURSOR);
  try {
    let nextDraw = 0;
    for (;;) {
      await run.poll();
      const now = Date.now();
      const done = untilEnd && run.ended;
      if (now >= nextDraw || done || stop) {
        nextDraw = now + intervalMs;
        const snap = run.stats.snapshot();
        if (tty) await writeAll(process.stdout, CLEAR + renderWatchScreen(snap, { label, files: run.fileCount, ended: run.ended, notes: run.notes }, style).join("\n") + "\n");
        else if (!stop && !done) await writeAll(process.stdout, renderWatchLine(snap) + "\n");
      }
      if (done || stop) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    if (tty) process.stdout.write(SHOW_CURSOR);
  }
  run.finish();
  // the last figures as one line, and (on a terminal) what happened to the files
  if (tty) for (const n of run.notes) process.stderr.write(renderTailNote(n) + "\n");
  await writeAll(process.stdout, renderWatchLine(run.stats.snapshot()) + "\n");
}
