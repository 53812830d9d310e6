import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { constants as zlibConstants, createGzip } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./helpers/golden.js";
import { findPython } from "../src/sim/harness.js";
import { renderWatchScreen, sparkline } from "../src/render/watch-text.js";
import { LiveStats } from "../src/analysis/live/live-stats.js";
import { PLAIN, terminalStyle } from "../src/render/style.js";

/**
 * vsched watch: a real-clock harness run (vLLM's real scheduler) followed in tmux, its
 * frames checked against `vsched summary` of the same trace; the plain line on a pipe; a
 * .jsonl.gz still being written; and files that end mid-line, appear late, shrink or are
 * deleted while watched, each a clear message and a clean exit.
 */
const BIN = path.join(ROOT, "bin", "vsched.js");
const KV = path.join(ROOT, "fixtures", "kv-pressure-preempt", "vsched-1-dp0.jsonl");
const RANK1 = path.join(ROOT, "fixtures", "dp-rank-1", "vsched-1-dp1.jsonl");

interface Summary {
  requests: { total: number; unfinished: number };
  scheduler: { iterations: number; prefill_tokens: number; decode_tokens: number };
  resources: { preemptions: number };
  waiting: { by_cause: { cause: string }[] };
}

function summary(...inputs: string[]): Summary {
  const r = spawnSync(process.execPath, [BIN, "summary", ...inputs, "--json"], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Summary;
}

interface Totals {
  steps: number;
  requests: number;
  finished: number;
  preemptions: number;
  tokens: number;
}

/** the totals of the plain line (pipe output and the exit line) */
function lineTotals(line: string): Totals | null {
  const m = /steps=(\d+) requests=(\d+) finished=(\d+) preemptions=(\d+) tokens=(\d+)/.exec(line);
  return m ? { steps: +m[1], requests: +m[2], finished: +m[3], preemptions: +m[4], tokens: +m[5] } : null;
}

/** the totals of a terminal frame */
function frameTotals(frame: string): Totals | null {
  const m = /totals\s+steps (\d+)\s+requests (\d+)\s+finished (\d+)\s+preemptions (\d+)\s+tokens (\d+)/.exec(frame);
  return m ? { steps: +m[1], requests: +m[2], finished: +m[3], preemptions: +m[4], tokens: +m[5] } : null;
}

const expected = (s: Summary): Totals => ({
  steps: s.scheduler.iterations,
  requests: s.requests.total,
  finished: s.requests.total - s.requests.unfinished,
  preemptions: s.resources.preemptions,
  tokens: s.scheduler.prefill_tokens + s.scheduler.decode_tokens,
});

/** A watch on a pipe, its output gathered as it comes. */
function startWatch(args: string[]) {
  ensureBuilt();
  const child: ChildProcess = spawn(process.execPath, [BIN, "watch", ...args], { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number>((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  return { child, exit, out: () => out, err: () => err };
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const lastTotals = (text: string) => lineTotals(text.trim().split("\n").pop() ?? "");
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "vsched-watch-"));
const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

describe("vsched watch follows a live run", () => {
  it("in tmux, frames that grow to the final summary of the same trace", { timeout: 600_000 }, async () => {
    ensureBuilt();
    expect(spawnSync("tmux", ["-V"]).status, "tmux is needed (bash scripts/setup-tmux.sh installs it)").toBe(0);
    const python = findPython(undefined, "0.33.0");
    const dir = tmp();
    const socket = `vsched-watch-${process.pid}`;
    const tmux = (...a: string[]) => spawnSync("tmux", ["-L", socket, ...a], { encoding: "utf8" });
    const shell = `cd ${ROOT} && NO_COLOR=1 node bin/vsched.js watch ${dir} --interval 0.3 --until-end; echo WATCH-EXIT=$?; sleep 600`;
    expect(tmux("new-session", "-d", "-s", "w", "-x", "200", "-y", "60", shell).status).toBe(0);
    const frames: string[] = [];
    try {
      // a real-clock run on vLLM's real scheduler, KV-bound so requests wait and get preempted
      const harness = spawn(
        python,
        ["-m", "vsched_emitter.harness", "--out", dir, "--workload", "synthetic", "--n", "40", "--rate", "10", "--prompt-len", "fixed:120", "--output-len", "uniform:20:60",
          "--num-blocks", "40", "--max-num-seqs", "8", "--max-num-batched-tokens", "256", "--clock", "real", "--cost", "linear:alpha=0.01,beta_prefill=0.00002,beta_decode=0.0005",
          "--no-oracle", "--no-recipe", "--pid", "7"],
        { env: { ...process.env, PYTHONPATH: path.join(ROOT, "emitter", "src") }, stdio: "ignore" },
      );
      const harnessExit = new Promise<number | null>((resolve) => harness.on("close", resolve));
      let done = false;
      void harnessExit.then(() => (done = true));
      while (!done) {
        frames.push(tmux("capture-pane", "-p", "-e", "-t", "w").stdout);
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(await harnessExit).toBe(0);
      await until("watch to exit", () => tmux("capture-pane", "-p", "-t", "w").stdout.includes("WATCH-EXIT="), 60_000);
      frames.push(tmux("capture-pane", "-p", "-e", "-t", "w").stdout);
    } finally {
      tmux("kill-server");
    }
    const final = frames[frames.length - 1];
    expect(final).toContain("WATCH-EXIT=0");
    const want = expected(summary(path.join(dir, "vsched-7-dp0.jsonl")));
    expect(want.preemptions, "the run must preempt, or the view proves little").toBeGreaterThan(0);
    // the last screen and the exit line both hold the trace's own totals
    expect(frameTotals(final)).toEqual(want);
    expect(lineTotals(final.split("\n").find((l) => l.startsWith("t=")) ?? "")).toEqual(want);
    // it was live: frames in between show the totals growing, never past the end
    const seen = frames.map(frameTotals).filter((t): t is Totals => t !== null);
    const partial = seen.filter((t) => t.steps > 0 && t.steps < want.steps);
    expect(partial.length, "frames taken while the run was going").toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) for (const k of Object.keys(want) as (keyof Totals)[]) expect(seen[i][k]).toBeGreaterThanOrEqual(seen[i - 1][k]);
    for (const t of seen) for (const k of Object.keys(want) as (keyof Totals)[]) expect(t[k]).toBeLessThanOrEqual(want[k]);
    // mid-run frames showed waiting requests with causes the trace's summary also finds
    const causes = new Set(summary(path.join(dir, "vsched-7-dp0.jsonl")).waiting.by_cause.map((c) => c.cause));
    const shown = frames.flatMap((f) => [...f.split("waiting by cause")[1]?.split("longest waiting")[0].matchAll(/^\s{2}([a-z_]+)\s+\d+$/gm) ?? []].map((m) => m[1]));
    expect(shown.length).toBeGreaterThan(0);
    for (const c of shown) expect(causes).toContain(c);
    expect(frames.some((f) => /longest waiting\n\s+[\d.]+s\s+[a-z_]+\s+dp0 \d+/.test(f))).toBe(true);
    expect(frames.some((f) => /tokens\/s\s+[▁▂▃▄▅▆▇█]{3,}/.test(f))).toBe(true);
    // NO_COLOR: capture-pane -e keeps SGR sequences; there must be none
    expect(frames.join("")).not.toMatch(/\x1b\[[0-9;]*m/);
  });
});

describe("vsched watch on a pipe", () => {
  it("prints one plain line per interval and ends with the summary's totals", async () => {
    const w = startWatch([KV, "--until-end", "--interval", "0.2"]);
    expect(await w.exit).toBe(0);
    expect(w.out()).not.toMatch(/\x1b/);
    expect(lastTotals(w.out())).toEqual(expected(summary(KV)));
    expect(w.err()).toBe("");
  });

  it("reads a .jsonl.gz while it is being written (up to the last flush), then to its end", async () => {
    const dir = tmp();
    const file = path.join(dir, "vsched-1-dp0.jsonl.gz");
    const all = lines(KV);
    const gz = createGzip();
    const chunks: Buffer[] = [];
    gz.on("data", (b: Buffer) => chunks.push(b));
    const flushed = () => new Promise<void>((r) => gz.flush(zlibConstants.Z_SYNC_FLUSH, () => r()));
    const half = Math.floor(all.length / 2);
    gz.write(all.slice(0, half).join("\n") + "\n");
    await flushed();
    writeFileSync(file, Buffer.concat(chunks.splice(0)));
    const w = startWatch([file, "--until-end", "--interval", "0.2"]);
    await until("the first half", () => (lastTotals(w.out())?.steps ?? 0) > 0);
    const partial = lastTotals(w.out())!;
    expect(partial.steps).toBeLessThan(expected(summary(KV)).steps);
    gz.end(all.slice(half).join("\n") + "\n");
    await new Promise<void>((r) => gz.on("end", () => r()));
    appendFileSync(file, Buffer.concat(chunks));
    expect(await w.exit).toBe(0);
    expect(lastTotals(w.out())).toEqual(expected(summary(KV)));
  });

  it("a rank file that appears later joins the view, with a message", async () => {
    const dir = tmp();
    copyFileSync(KV, path.join(dir, "vsched-1-dp0.jsonl"));
    const w = startWatch([dir, "--interval", "0.2"]);
    await until("rank 0", () => lastTotals(w.out())?.steps === expected(summary(KV)).steps);
    copyFileSync(RANK1, path.join(dir, "vsched-1-dp1.jsonl"));
    const both = expected(summary(KV, RANK1));
    await until("rank 1", () => lastTotals(w.out())?.steps === both.steps);
    w.child.kill("SIGINT");
    expect(await w.exit).toBe(0);
    expect(w.err()).toMatch(/vsched-1-dp1\.jsonl: appeared after watching began/);
    expect(lastTotals(w.out())).toEqual(both);
  });

  it("a file cut mid-line: its last line is reported, not guessed at; the exit is clean", async () => {
    const dir = tmp();
    const file = path.join(dir, "vsched-1-dp0.jsonl");
    const all = lines(KV);
    writeFileSync(file, all.slice(0, 200).join("\n") + "\n" + all[200].slice(0, 30));
    const w = startWatch([file, "--interval", "0.2"]);
    await until("rows", () => (lastTotals(w.out())?.steps ?? 0) > 0);
    w.child.kill("SIGINT");
    expect(await w.exit).toBe(0);
    expect(w.err()).toContain(`${file}:201: incomplete last line (still being written, or the writer was killed); left out`);
    expect(w.err()).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it("a file that shrinks or is deleted while watched: a message each, and the watch goes on", async () => {
    const dir = tmp();
    const a = path.join(dir, "vsched-1-dp0.jsonl");
    const b = path.join(dir, "vsched-1-dp1.jsonl");
    writeFileSync(a, lines(KV).slice(0, -1).join("\n") + "\n"); // no end record: still "running"
    writeFileSync(b, lines(RANK1).slice(0, -1).join("\n") + "\n");
    const w = startWatch([dir, "--interval", "0.2", "--until-end"]);
    await until("rows", () => (lastTotals(w.out())?.steps ?? 0) > 0);
    truncateSync(a, 100);
    rmSync(b);
    // both files can no longer be followed, so --until-end ends the watch
    expect(await w.exit).toBe(0);
    expect(w.err()).toMatch(/vsched-1-dp0\.jsonl: shrank from \d+ to 100 bytes \(truncated or replaced\); no longer followed/);
    expect(w.err()).toMatch(/vsched-1-dp1\.jsonl: deleted while watched; its rows so far stay in the view/);
    expect(lastTotals(w.out())!.steps).toBeGreaterThan(0);
  });

  it("a target that does not exist is bad input (exit 2, one line)", async () => {
    const w = startWatch([path.join(tmp(), "nothing-here")]);
    expect(await w.exit).toBe(2);
    expect(w.err().trim().split("\n")).toHaveLength(1);
    expect(w.err()).toContain("no such trace file or directory");
  });
});

describe("the watch view", () => {
  it("sparklines scale to their own maximum", () => {
    expect(sparkline([0, 0, 0])).toBe("▁▁▁");
    expect(sparkline([0, 5, 10])).toBe("▁▅█");
  });

  it("colours only through the Style it is given (NO_COLOR: none)", () => {
    const snap = new LiveStats().snapshot();
    const info = { label: "x", files: 0, ended: false, notes: [] };
    expect(renderWatchScreen(snap, info, PLAIN).join("\n")).not.toMatch(/\x1b/);
    expect(renderWatchScreen(snap, info, terminalStyle({ isTTY: true }, {})).join("\n")).toMatch(/\x1b\[1m/);
    expect(renderWatchScreen(snap, info, terminalStyle({ isTTY: true }, { NO_COLOR: "1" })).join("\n")).not.toMatch(/\x1b/);
  });
});
