import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PrefixStep, type ProbeHit } from "../src/engine/binding-carry.js";
import { bindingSets } from "../src/engine/binding-limits.js";
import { relaxationsFor, stepIndex, type LimitsConfig, type LoopRequest, type StepInput } from "../src/engine/binding-loop.js";
import { answerOf } from "../src/engine/binding-plain-step.js";
import { BindingTracker, type CarryStats, type SetsFor } from "../src/engine/binding-tracker.js";
import { Reconstructor } from "../src/engine/reconstructor.js";
import { DEFAULT_ENGINE_OPTIONS, type RequestView, type RowSink } from "../src/engine/types.js";
import { BIND_BUCKETS } from "../src/schema/binding.js";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { referenceSets } from "./helpers/binding-reference.js";
import { FIXTURES, readTrace, traceFiles } from "./helpers/fixtures.js";
import { rng } from "./helpers/rng.js";
import { randomLimits } from "./helpers/random-limits.js";

/**
 * The binding tracker carries each waiting request's answer from decision to decision and
 * recomputes it only where its okBits changed (src/engine/binding-carry.ts). Differential
 * tests against the reference loop (test/helpers/binding-reference.ts), which answers every
 * request of every decision from scratch:
 *   - PrefixStep's answer function on random prefix-shaped steps;
 *   - whole replays of every recorded fixture (vLLM's own scheduler: preemptions, KV pressure,
 *     priority, async scheduling, sessions, LoRA, probes), engine with the carried answers vs
 *     engine with the reference on every decision: per_iteration_requests.binding_limits and
 *     per_request.bind_*_ns identical.
 */

function prefixStep(r: () => number): { cfg: LimitsConfig; st: StepInput; views: RequestView[]; probe: (ProbeHit | undefined)[] } {
  const int = (n: number) => Math.floor(r() * n);
  let next = 0;
  const req = (): LoopRequest => ({
    id: `p${next++}`,
    tokens: 1 + (int(2) ? int(40) * 8 : int(600)),
    computed: 0,
    evictable: 0,
    lora: int(6) === 0 ? 1 + int(3) : null,
    blockedOther: false,
  });
  const cfg = randomLimits(int, 40);
  const admitted = Array.from({ length: int(4) }, () => ({ req: req(), tokens: 1 + int(64), blocks: int(6) }));
  const waiting = Array.from({ length: int(60) }, req);
  // the probe names a few requests at the head with their prefix hits
  const probe: (ProbeHit | undefined)[] = [];
  for (let i = 0; i < Math.min(waiting.length, int(4)); i++) {
    if (int(2)) continue;
    probe[i] = { hit: int(64), evictable: int(3) };
    waiting[i].computed = probe[i]!.hit;
    waiting[i].evictable = probe[i]!.evictable;
  }
  const st: StepInput = {
    admitted,
    waiting,
    victims: [],
    running: admitted.length + int(cfg.maxNumSeqs + 2),
    runningLoras: new Set(),
    budgetLeft: int(200),
    freeBlocks: int(400),
    eligible: 1 + admitted.length + waiting.length,
    distinct: true,
  };
  const views = waiting.map((q) => ({ id: q.id, numTokens: q.tokens, lora: q.lora }) as RequestView);
  return { cfg, st, views, probe };
}

function replayWith(records: RawRecord[], setsFor: SetsFor | null): { labels: (string | null)[]; bind: number[][]; stats: CarryStats } {
  const labels: (string | null)[] = [];
  const bind: number[][] = [];
  const sink: RowSink = {
    perRequest: (row) => bind.push(BIND_BUCKETS.map((b) => row[`bind_${b}_ns`])),
    perIteration: () => {},
    perIterationRequest: (row) => labels.push(row.binding_limits ?? null),
    event: () => {},
    stateTransition: () => {},
    prediction: () => {},
    finding: () => {},
  };
  const [header, ...rest] = records;
  const tracker = new BindingTracker(header as HeaderRecord, sink, setsFor);
  const engine = new Reconstructor(header as HeaderRecord, tracker.sink, { ...DEFAULT_ENGINE_OPTIONS, onDecision: (v) => tracker.onDecision(v) });
  rest.forEach((rec, i) => engine.push(rec, i + 2));
  engine.end();
  return { labels, bind, stats: tracker.stats };
}

const vschedTraces = (name: string) => traceFiles(name).filter((f) => /vsched-[^/]*\.jsonl(\.gz)?$/.test(f));
const TRACED = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((d) => existsSync(join(FIXTURES, d, "recipe.json")) && vschedTraces(d).length > 0)
      .sort()
  : [];
/**
 * The A/B fixtures queue hundreds of requests, where the reference (a walk per relaxation per
 * request) takes ~10 s each: there the engine answering every decision with bindingSets, which
 * binding-limits-fast.test.ts compares with the reference, is the one to match.
 */
const oracleFor = (name: string): SetsFor => (name.startsWith("ab-") ? bindingSets : referenceSets);

describe("binding limits carried across decisions", () => {
  it("PrefixStep gives the reference's labels on 5,000 random prefix-shaped steps (seed 4004)", () => {
    const r = rng(4004);
    let headOnly = 0;
    for (let n = 0; n < 5000; n++) {
      const { cfg, st, views, probe } = prefixStep(r);
      const order = relaxationsFor(cfg);
      const step = PrefixStep.build(cfg, { ...st, waiting: [] }, stepIndex(cfg, { ...st, waiting: [] }), order, views, probe);
      expect(step).not.toBeNull();
      const got = views.map((_, pos) => answerOf(order, step!.bitsAt(pos)));
      const want = referenceSets(cfg, st);
      expect(got, `step ${n}`).toEqual(want);
      headOnly += want.filter((s) => s?.some((set) => set.includes("head_only"))).length;
    }
    expect(headOnly).toBeGreaterThan(5000);
  });

  it("covers the fixtures that preempt, run out of KV, order by priority, schedule asynchronously", () => {
    expect(TRACED).toEqual(expect.arrayContaining(["kv-pressure-preempt", "repreempt-fcfs", "repreempt-priority", "repreempt-async", "priority-policy", "async-scheduling", "lora-slots", "cf-prefix-probe"]));
  });

  const total: CarryStats = { prefixSteps: 0, generalSteps: 0, lazySteps: 0, carried: 0, changed: 0 };
  for (const name of TRACED) {
    it(`${name}: the same binding_limits and bind_*_ns as the reference on every decision`, () => {
      for (const file of vschedTraces(name)) {
        const records = readTrace(file);
        const carried = replayWith(records, null);
        const reference = replayWith(records, oracleFor(name));
        expect(reference.stats.prefixSteps).toBe(0);
        expect(carried.labels).toEqual(reference.labels);
        expect(carried.bind).toEqual(reference.bind);
        for (const k of Object.keys(total) as (keyof CarryStats)[]) total[k] += carried.stats[k];
      }
    });
  }

  it("exercised both paths and both outcomes of a carried answer", () => {
    // after the fixture replays above: answers kept and answers invalidated, on both paths
    expect(total.prefixSteps).toBeGreaterThan(100);
    expect(total.generalSteps).toBeGreaterThan(100);
    expect(total.carried).toBeGreaterThan(1000);
    expect(total.changed).toBeGreaterThan(1000);
  });
});
