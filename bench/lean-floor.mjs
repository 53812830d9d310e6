#!/usr/bin/env node
// A lower bound for a lean replay of the bench trace in this design (issue 20, ninth round): CPU
// seconds of five stages on the same trace, run as child processes in alternating rounds (a b c …,
// … c b a) so all see the same load:
//   floor   read the file in 1 MiB chunks, split lines, JSON.parse each (lib.mjs's readFloor)
//   sha     floor + sha256 of the bytes (the manifest's input digest)
//   min     sha + the least per-record work any replay that writes per_request and per_iteration
//           must do: an arrival adds a Map entry keyed by request id; a step walks sched (tokens,
//           computed, first/last scheduled time), new (admission) and blocks; an update walks
//           tokens (output tokens, first/last token time) and finished (a per_request row object,
//           the entry removed); a finish record removes its entry; one per_iteration row object per
//           step, completed by its update; requests live at the end get their row. No record
//           checks, binding limits, waiting causes, events, state transitions or CSV.
//   minpos  min with sched and tokens resolved by their place in the last list, as the engine's
//           ListLookup does (a map lookup only where the order moved), not a hash per id
//   lean    `vsched convert TRACE -o DIR --quiet --threads 1 --iteration-requests none
//           --no-scheduled-events`, a child process (CPU from its rusage at exit)
// and once per round `vsched --version` (the CLI's start-up: Node and the bundle's load). Each stage
// also reports its main thread's CPU (Linux /proc): the rest of the process is V8's helper threads
// (concurrent compilation, GC) and libuv's reads and writes.
// floor..minpos report CPU around their loop (in-process, as convert-ab's floor) and of the whole
// child process (start-up included); lean is whole-process only. Ratios are the floor's loop CPU
// over each stage's CPU (the "× the floor"), and whole process over whole process.
//
//   npm run build && node bench/lean-floor.mjs [--mb 200] [--repeat 3] [--cli DIR/bin/vsched.js]
//
// The lean convert writes its tables under VSCHED_BENCH_TMP (or bench/out), deleted after each run.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchTrace, convertChild, loadAvg as load, MODE_ARGS, options, r2, root, scratch } from "./lib.mjs";

const opt = options();
const STAGE = opt("stage", null);

async function runStage(stage, file) {
  const hash = stage === "floor" ? null : createHash("sha256");
  const replay = stage === "min" ? new MinReplay(false) : stage === "minpos" ? new MinReplay(true) : null;
  let carry = null;
  let lines = 0;
  for await (let c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    if (hash) hash.update(c);
    if (carry) c = Buffer.concat([carry, c]);
    let start = 0;
    let i;
    while ((i = c.indexOf(10, start)) !== -1) {
      const r = JSON.parse(c.toString("utf8", start, i));
      if (replay) replay.push(r);
      lines++;
      start = i + 1;
    }
    carry = start < c.length ? c.subarray(start) : null;
  }
  const out = { lines };
  if (hash) out.sha256 = hash.digest("hex").slice(0, 12);
  if (replay) Object.assign(out, replay.end());
  return out;
}

/** What a request's per_request row needs from the records (the least a replay keeps per request). */
class Req {
  constructor(r) {
    this.id = r.req;
    this.arrival = r.t;
    this.prompt = r.prompt_tokens;
    this.maxTokens = r.max_tokens;
    this.admitted = -1;
    this.firstSched = -1;
    this.lastSched = -1;
    this.schedSteps = 0;
    this.schedTokens = 0;
    this.computed = 0;
    this.blocks = 0;
    this.out = 0;
    this.firstToken = -1;
    this.lastToken = -1;
    this.gone = false;
  }
}

/** src/engine/list-lookup.ts's idea, pared down: the request at the same place in the last list (shifted by what left), else the map. */
class PosLookup {
  constructor(map) {
    this.map = map;
    this.prev = [];
    this.next = [];
    this.shift = 0;
  }

  begin() {
    const p = this.prev;
    this.prev = this.next;
    this.next = p;
    p.length = 0;
    this.shift = 0;
  }

  get(i, id) {
    const prev = this.prev;
    const j = i + this.shift;
    let r = j < prev.length ? prev[j] : undefined;
    if (r === undefined || r.gone || r.id !== id) {
      r = this.map.get(id);
      if (r !== undefined) {
        for (let d = 1; d <= 8; d++) {
          if (prev[j + d] === r) {
            this.shift += d;
            break;
          }
          if (j - d >= 0 && prev[j - d] === r) {
            this.shift -= d;
            break;
          }
        }
      }
    }
    this.next.push(r);
    return r;
  }
}

class MinReplay {
  constructor(byPlace) {
    this.live = new Map();
    // minpos: sched and tokens resolved by place in the last list (as the engine's ListLookup), not a hash per id
    this.schedAt = byPlace ? new PosLookup(this.live) : null;
    this.tokensAt = byPlace ? new PosLookup(this.live) : null;
    this.open = null; // the step's per_iteration row, completed by its update
    this.perRequest = 0;
    this.perIteration = 0;
    this.missing = 0;
    this.last = null; // the last row, kept reachable so V8 cannot drop the objects
  }

  push(r) {
    switch (r.type) {
      case "arrival":
        this.live.set(r.req, new Req(r));
        return;
      case "step":
        return this.step(r);
      case "update":
        return this.update(r);
      case "finish":
        return this.complete(r.req, r.reason, r.output_tokens, r.t);
    }
  }

  // step() and update() repeat their id lookup (at ? at.get : live.get, missing++) on purpose: they
  // are the minimal replay's hot loops, and a shared helper would put a call per row into the floor
  // this file measures
  step(r) {
    const t = r.sched_t;
    const live = this.live;
    let tokens = 0;
    let prefill = 0;
    const sched = r.sched;
    const at = this.schedAt;
    if (at) at.begin();
    for (let k = 0; k < sched.length; k++) {
      const s = sched[k];
      const e = at ? at.get(k, s[0]) : live.get(s[0]);
      if (e === undefined) {
        this.missing++;
        continue;
      }
      const n = s[1];
      e.schedTokens += n;
      e.computed = s[2] + n;
      if (e.firstSched < 0) e.firstSched = t;
      e.lastSched = t;
      e.schedSteps++;
      tokens += n;
      if (e.computed <= e.prompt) prefill++;
    }
    const nw = r.new;
    for (let k = 0; k < nw.length; k++) {
      const e = live.get(nw[k][0]);
      if (e !== undefined) e.admitted = t;
    }
    const blocks = r.blocks;
    for (let k = 0; k < blocks.length; k++) {
      const e = live.get(blocks[k][0]);
      if (e !== undefined) e.blocks = blocks[k][1];
    }
    this.open = { step: r.step, t_start: r.t_start, sched_t: t, t_end: r.t_end, scheduled: sched.length, tokens, prefill, admitted: nw.length, running: r.running, waiting: r.waiting, free_blocks: r.free_blocks, out_t: -1, output_tokens: 0, finished: 0 };
  }

  update(r) {
    const t = r.out_t;
    const live = this.live;
    let out = 0;
    const tok = r.tokens;
    const at = this.tokensAt;
    if (at) at.begin();
    for (let k = 0; k < tok.length; k++) {
      const s = tok[k];
      const e = at ? at.get(k, s[0]) : live.get(s[0]);
      if (e === undefined) {
        this.missing++;
        continue;
      }
      e.out += s[1];
      if (e.firstToken < 0) e.firstToken = t;
      e.lastToken = t;
      out += s[1];
    }
    const fin = r.finished;
    for (let k = 0; k < fin.length; k++) this.complete(fin[k][0], fin[k][1], fin[k][2], r.t_end);
    const row = this.open;
    if (row !== null && row.step === r.step) {
      row.out_t = t;
      row.output_tokens = out;
      row.finished = fin.length;
      this.iteration(row);
      this.open = null;
    }
  }

  complete(id, reason, outputTokens, t) {
    const e = this.live.get(id);
    if (e === undefined) {
      this.missing++;
      return;
    }
    this.live.delete(id);
    this.row(e, reason, outputTokens, t);
  }

  row(e, reason, outputTokens, t) {
    e.gone = true;
    this.perRequest++;
    this.last = {
      request_id: e.id,
      arrival: e.arrival,
      admitted: e.admitted,
      first_scheduled: e.firstSched,
      first_token: e.firstToken,
      last_token: e.lastToken,
      finished: t,
      prompt_tokens: e.prompt,
      max_tokens: e.maxTokens,
      output_tokens: outputTokens,
      scheduled_steps: e.schedSteps,
      scheduled_tokens: e.schedTokens,
      blocks: e.blocks,
      finish_reason: reason,
      ttft: e.firstToken < 0 ? null : e.firstToken - e.arrival,
    };
  }

  iteration(row) {
    this.perIteration++;
    this.last = row;
  }

  end() {
    if (this.open !== null) this.iteration(this.open);
    const left = this.live.size;
    // requests still live at the trace's end get their row too (per_request has every request)
    for (const e of this.live.values()) this.row(e, null, e.out, -1);
    this.live.clear();
    return { per_request: this.perRequest, per_iteration: this.perIteration, live_at_end: left, missing: this.missing };
  }
}

/** CPU s of the calling thread (Linux /proc; null elsewhere): the rest of the process is V8's helpers (GC, concurrent compilation) and libuv's. */
function mainThreadCpu() {
  try {
    const f = readFileSync("/proc/thread-self/stat", "utf8");
    const s = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(s[11]) + Number(s[12])) / 100;
  } catch {
    return null;
  }
}

function stageChild(stage, trace) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--stage", stage, "--trace", trace], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`stage ${stage} exited ${r.status}`);
  return { ...JSON.parse(r.stdout), wall_s: (performance.now() - t0) / 1000 };
}

/** `node --import convert-rss.mjs CLI ARGS` with its rusage at exit (CPU s of the whole process). */
function cliUsage(cli, args) {
  mkdirSync(scratch, { recursive: true });
  const rusage = path.join(scratch, `rusage-lf-${process.pid}.json`);
  const r = spawnSync(process.execPath, ["--import", path.join(root, "bench", "convert-rss.mjs"), cli, ...args], { env: { ...process.env, VSCHED_BENCH_RUSAGE: rusage }, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cli} ${args.join(" ")} exited ${r.status}`);
  const u = JSON.parse(readFileSync(rusage, "utf8"));
  rmSync(rusage, { force: true });
  rmSync(`${rusage}.threads`, { force: true });
  return u;
}

async function main() {
  const MB = Number(opt("mb", 200));
  const REPEAT = Number(opt("repeat", 3));
  const cli = path.resolve(opt("cli", path.join(root, "bin", "vsched.js")));
  const log = (...a) => console.error(...a);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  };
  const pick = (r) => ({ per_request: r.per_request, per_iteration: r.per_iteration, live_at_end: r.live_at_end, missing: r.missing });
  const trace = benchTrace(MB, log);
  const stages = ["floor", "sha", "min", "minpos", "lean"];
  const runs = Object.fromEntries([...stages, "startup"].map((s) => [s, []]));
  for (let k = 0; k < REPEAT; k++) {
    const order = k % 2 ? [...stages].reverse() : stages;
    for (const s of order) {
      const l0 = load();
      let r;
      if (s === "lean") {
        const out = path.join(scratch, "lean-floor-out");
        const { wall_s, usage: u, manifest: m } = convertChild(cli, trace, out, ["--threads", "1", ...MODE_ARGS.lean]);
        rmSync(out, { recursive: true, force: true });
        r = { proc_cpu_s: r2(u.user_s + u.sys_s), main_cpu_s: u.threads?.main ?? null, user_s: r2(u.user_s), sys_s: r2(u.sys_s), wall_s: r2(wall_s), max_rss_mb: Math.round(u.max_rss_kb / 1024), rows: m.totals.rows, sha256: m.sources?.[0]?.sha256?.slice(0, 12) };
      } else {
        const c = stageChild(s, trace);
        r = { ...c, loop_cpu_s: r2(c.loop_cpu_s), loop_wall_s: r2(c.loop_wall_s), proc_cpu_s: r2(c.proc_cpu_s), wall_s: r2(c.wall_s), max_rss_mb: Math.round(c.max_rss_kb / 1024), max_rss_kb: undefined };
      }
      r.load = [l0, load()];
      log(`${s}: ${JSON.stringify(r)}`);
      runs[s].push(r);
    }
    const u = cliUsage(cli, ["--version"]);
    runs.startup.push({ proc_cpu_s: r2(u.user_s + u.sys_s) });
  }
  const fl = median(runs.floor.map((r) => r.loop_cpu_s));
  const flProc = median(runs.floor.map((r) => r.proc_cpu_s));
  const table = {};
  for (const s of stages) {
    const loop = s === "lean" ? null : median(runs[s].map((r) => r.loop_cpu_s));
    const proc = median(runs[s].map((r) => r.proc_cpu_s));
    table[s] = {
      loop_cpu_s: loop === null ? null : r2(loop),
      proc_cpu_s: r2(proc),
      // the main thread alone (the replay); proc less this is V8's helper threads (GC, TurboFan) and libuv's
      main_cpu_s: runs[s][0].main_cpu_s === null ? null : r2(median(runs[s].map((r) => r.main_cpu_s))),
      runs_proc_cpu_s: runs[s].map((r) => r.proc_cpu_s),
      // the ratio: the floor (in-process, loop CPU) over the stage's CPU (lean: whole process)
      floor_ratio: r2(fl / (loop ?? proc)),
      // like for like: whole child processes, start-up in both
      floor_ratio_proc: r2(flProc / proc),
      floors: r2((loop ?? proc) / fl),
    };
  }
  const result = {
    trace: path.relative(root, trace),
    cli: path.relative(process.cwd(), cli),
    repeat: REPEAT,
    floor_cpu_s: r2(fl),
    startup_cpu_s: r2(median(runs.startup.map((r) => r.proc_cpu_s))),
    stages: table,
    checks: { min: pick(runs.min[0]), minpos: pick(runs.minpos[0]), lean_rows: runs.lean[0].rows, sha_equal: runs.sha[0].sha256 === runs.lean[0].sha256 },
    load: [runs.floor[0].load[0], load()],
  };
  console.log(JSON.stringify(result, null, 1));
}

// last: the classes above are initialised by now
if (STAGE) {
  // child: one stage, printed as JSON on stdout
  const file = opt("trace", null);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await runStage(STAGE, file);
  const c = process.cpuUsage(c0);
  const u = process.resourceUsage();
  console.log(JSON.stringify({ ...res, loop_cpu_s: (c.user + c.system) / 1e6, loop_wall_s: (performance.now() - t0) / 1000, proc_cpu_s: (u.userCPUTime + u.systemCPUTime) / 1e6, main_cpu_s: mainThreadCpu(), max_rss_kb: u.maxRSS }));
} else {
  await main();
}
