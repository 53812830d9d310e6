import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path, { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PrefixStep, QueueAllocs, type ProbeHit } from "../src/engine/binding-carry.js";
import { relaxationsFor, stepIndex, type LoopRequest, type StepInput } from "../src/engine/binding-loop.js";
import { BindingTracker, type CarryStats } from "../src/engine/binding-tracker.js";
import { Reconstructor } from "../src/engine/reconstructor.js";
import { CauseRun, RequestState } from "../src/engine/request-state.js";
import { DEFAULT_ENGINE_OPTIONS, LAZY_FROM, type EngineOptions, type RequestView, type RowSink } from "../src/engine/types.js";
import type { ArrivalRecord, HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { WAITING_REASONS } from "../src/schema/waiting.js";
import { FIXTURES, readTrace, traceFiles } from "./helpers/fixtures.js";
import { rng } from "./helpers/rng.js";
import { randomLimits } from "./helpers/random-limits.js";

/**
 * Issue 20's runs: state kept per stretch of the waiting queue instead of per request, so that a
 * decision costs what changed (src/engine/binding-tracker.ts lazyCarry and BindRun,
 * src/engine/binding-carry.ts QueueAllocs, src/engine/request-state.ts CauseRun with
 * Reconstructor.causeStep). Differential tests against the straightforward computation, which
 * visits every waiting request at every decision:
 *   - whole replays (generated bench traces of several shapes, every recorded fixture): every row of
 *     every table the same with the runs as without them;
 *   - CauseRun under random joins, cause changes and departures against switching each request;
 *   - PrefixStep's KV-bound walks through QueueAllocs, followed over random queue changes, against the walk.
 */

const root = path.resolve(import.meta.dirname, "..");
const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-lazy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function generated(name: string, args: string[]): RawRecord[] {
  const file = path.join(dir, `${name}.jsonl`);
  const g = spawnSync(process.execPath, [path.join(root, "bench", "gen-trace.mjs"), ...args, "--out", file], { encoding: "utf8" });
  expect(g.status, g.stderr).toBe(0);
  return readTrace(file);
}

interface Replay {
  rows: string[];
  stats: CarryStats;
}

/** Every row the engine writes (findings aside), with runs (from queues of `lazyFrom` on) or without (Infinity). */
function replay(records: RawRecord[], lazyFrom: number, opts: Partial<EngineOptions> = {}): Replay {
  const rows: string[] = [];
  const put = (table: string) => (row: unknown) => rows.push(`${table} ${JSON.stringify(row)}`);
  const sink: RowSink = {
    perRequest: put("per_request"),
    perIteration: put("per_iteration"),
    perIterationRequest: put("per_iteration_requests"),
    event: put("events"),
    stateTransition: put("state_transitions"),
    prediction: put("predictions"),
    finding: () => {},
  };
  const [header, ...rest] = records;
  const tracker = new BindingTracker(header as HeaderRecord, sink, null, lazyFrom);
  const engine = new Reconstructor(header as HeaderRecord, tracker.sink, { ...DEFAULT_ENGINE_OPTIONS, ...opts, onDecision: (v) => tracker.onDecision(v) });
  engine.lazyCausesFrom = lazyFrom;
  rest.forEach((rec, i) => engine.push(rec, i + 2));
  engine.end();
  return { rows, stats: tracker.stats };
}

function expectSameRows(a: string[], b: string[]): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect(a[i], `row ${i}`).toBe(b[i]);
}

const GENERATED: [string, string[]][] = [
  ["bench-shape", ["--steps", "120", "--seed", "1"]],
  ["mid", ["--steps", "600", "--running", "32", "--waiting", "100", "--seed", "2"]],
  ["small-a", ["--steps", "1500", "--running", "8", "--waiting", "30", "--seed", "3"]],
  ["small-b", ["--steps", "1500", "--running", "4", "--waiting", "12", "--seed", "4"]],
  ["tiny", ["--steps", "800", "--running", "2", "--waiting", "3", "--seed", "5"]],
];

describe("runs of waiting requests: the tables of visiting every request at every decision", () => {
  let lazySteps = 0;
  for (const [name, args] of GENERATED) {
    it(`generated trace ${name} (${args.join(" ")}): every row identical, with and without runs`, () => {
      const records = generated(name, args);
      const lazy = replay(records, 0);
      const eager = replay(records, Infinity);
      expect(eager.stats.lazySteps).toBe(0);
      expectSameRows(lazy.rows, eager.rows);
      expect(lazy.rows.some((r) => r.startsWith("per_iteration_requests "))).toBe(true);
      // runs only on the longer queues (the default), switching between both ways as the queue grows and shrinks
      expectSameRows(replay(records, LAZY_FROM).rows, eager.rows);
      expectSameRows(replay(records, 20).rows, eager.rows);
      // lean: no per-iteration rows, so nothing reads the clocks between decisions
      const lean = { iterationRequests: "none", scheduledEvents: false } as const;
      expectSameRows(replay(records, 0, lean).rows, replay(records, Infinity, lean).rows);
      lazySteps += lazy.stats.lazySteps;
    });
  }

  const fixtures = existsSync(FIXTURES)
    ? readdirSync(FIXTURES)
        .filter((d) => existsSync(join(FIXTURES, d, "recipe.json")))
        .sort()
    : [];
  for (const name of fixtures) {
    const files = traceFiles(name).filter((f) => /vsched-[^/]*\.jsonl(\.gz)?$/.test(f));
    if (files.length === 0) continue;
    it(`fixture ${name}: every row identical, with and without runs`, () => {
      for (const file of files) {
        const records = readTrace(file);
        const lazy = replay(records, 0);
        const eager = replay(records, Infinity);
        expectSameRows(lazy.rows, eager.rows);
        expectSameRows(replay(records, 8).rows, eager.rows);
        lazySteps += lazy.stats.lazySteps;
      }
    });
  }

  it("took the runs' path on most decisions", () => {
    expect(lazySteps).toBeGreaterThan(3000);
  });
});

function arrival(id: string, t: number): ArrivalRecord {
  return { type: "arrival", t, req: id, vllm_arrival_epoch_ns: null, prompt_tokens: 10, max_tokens: 10, priority: 0, lora: null } as ArrivalRecord;
}

describe("CauseRun", () => {
  it("gives each request the waitByCause of switching it at every decision (random joins, causes, departures; seed 2020)", () => {
    const r = rng(2020);
    const int = (n: number) => Math.floor(r() * n);
    for (let trial = 0; trial < 200; trial++) {
      const run = new CauseRun();
      // twins: a request followed by the run, and the same request switched at every decision
      const pairs: { lazy: RequestState; eager: RequestState; queued: boolean }[] = [];
      let t = 1000;
      let cause = int(WAITING_REASONS.length);
      for (let d = 0; d < 60; d++) {
        // arrivals between decisions (some arrive at the decision's time or just after it)
        for (let k = int(3); k > 0; k--) {
          const at = t - 50 + int(80);
          const id = `r${pairs.length}`;
          pairs.push({ lazy: new RequestState(arrival(id, at)), eager: new RequestState(arrival(id, at)), queued: true });
        }
        // a departure: admitted (endWait at the decision)
        const D = (t += int(3) === 0 ? 0 : 1 + int(500));
        if (int(4) === 0) cause = int(WAITING_REASONS.length);
        run.moveTo(cause, D);
        for (const p of pairs) {
          if (!p.queued) continue;
          if (int(10) === 0) {
            p.queued = false;
            p.lazy.endWait(D);
            p.eager.endWait(D);
            continue;
          }
          p.eager.switchCauseIndex(D, cause);
          if (p.lazy.causeRun === null) {
            p.lazy.switchCauseIndex(D, cause);
            if (p.lazy.causeSince <= D) run.join(p.lazy);
          }
        }
        // between decisions a request may leave on its own (finished while waiting)
        for (const p of pairs) {
          if (p.queued && int(25) === 0) {
            const at = t + int(100);
            p.queued = false;
            p.lazy.endWait(at);
            p.eager.endWait(at);
          }
        }
      }
      for (const p of pairs) {
        if (p.queued) {
          p.lazy.endWait(t + 7);
          p.eager.endWait(t + 7);
        }
        expect([...p.lazy.waitByCause], p.lazy.id).toEqual([...p.eager.waitByCause]);
        expect(p.lazy.waitTotal).toBe(p.eager.waitTotal);
      }
      expect(run.members).toBe(0);
    }
  });
});

describe("QueueAllocs", () => {
  it("PrefixStep's walks through it stop where the walk does, over random queue changes (seed 3030)", () => {
    const r = rng(3030);
    const int = (n: number) => Math.floor(r() * n);
    let fast = 0;
    for (let trial = 0; trial < 300; trial++) {
      const cfg = randomLimits(int, 60);
      const allocs = new QueueAllocs();
      let next = 0;
      const view = (): RequestView => ({ id: `q${next++}`, numTokens: int(5) === 0 ? 0 : 1 + int(700), lora: null }) as RequestView;
      let queue: RequestView[] = Array.from({ length: int(80) }, view);
      let shift = -1;
      for (let step = 0; step < 30; step++) {
        const admitted = Array.from({ length: int(3) }, () => ({ req: { id: `a${next++}`, tokens: 1 + int(300), computed: 0, evictable: 0, lora: null, blockedOther: false } as LoopRequest, tokens: 1 + int(64), blocks: int(6) }));
        const probe: (ProbeHit | undefined)[] = [];
        for (let i = 0; i < Math.min(queue.length, int(4)); i++) if (int(2)) probe[i] = { hit: int(64), evictable: int(3) };
        const st: StepInput = {
          admitted,
          waiting: [],
          victims: [],
          running: admitted.length + int(cfg.maxNumSeqs + 2),
          runningLoras: new Set(),
          budgetLeft: int(400),
          freeBlocks: int(int(2) ? 400 : 4000),
          eligible: 1 + admitted.length + queue.length,
          distinct: true,
        };
        const order = relaxationsFor(cfg);
        const ix = stepIndex(cfg, st);
        allocs.sync(cfg, queue, shift, ix.threshold, int(20) === 0);
        const withAllocs = PrefixStep.build(cfg, st, ix, order, queue, probe, allocs);
        const ix2 = stepIndex(cfg, { ...st });
        const plain = PrefixStep.build(cfg, { ...st }, ix2, order, queue, probe);
        expect(withAllocs === null).toBe(plain === null);
        if (withAllocs && plain) {
          expect(withAllocs.stops).toEqual(plain.stops);
          for (let pos = 0; pos < queue.length; pos++) expect(withAllocs.bitsAt(pos)).toBe(plain.bitsAt(pos));
          fast++;
        }
        // the next queue: FCFS's usual step (head out, arrivals in) or, now and then, another order
        if (int(8) === 0) {
          queue = queue.filter(() => int(5) !== 0).concat(Array.from({ length: int(5) }, view));
          shift = -1;
        } else {
          const k = Math.min(queue.length, int(4));
          queue = queue.slice(k).concat(Array.from({ length: int(5) }, view));
          shift = k;
        }
      }
    }
    expect(fast).toBeGreaterThan(5000);
  });
});
