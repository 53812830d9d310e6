/**
 * The waiting loop that binding_limits replays (src/engine/binding-limits.ts): a step's
 * inputs, vLLM's checks for one request (examine), the loop's start and its walk, the per-step
 * index both share, and the relaxation sets with the answer arrays they share.
 */

import { LIMITS, type Limit } from "../schema/binding.js";

export interface LimitsConfig {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  blockSize: number;
  maxModelLen: number;
  chunkedPrefill: boolean;
  longPrefillThreshold: number;
  maxLoras: number | null;
  /** vLLM checks that the whole prompt fits in KV before admitting (scheduler_reserve_full_isl) */
  reserveFullIsl: boolean;
  /** chunked prefill off and the prompt larger than the budget: skip it (v0.11) rather than stop */
  skipOversizedPrompt: boolean;
}

/** One request as the waiting loop sees it. */
export interface LoopRequest {
  id: string;
  /** tokens known: prompt, plus output tokens after a preemption */
  tokens: number;
  /** tokens it would start from (prefix-cache hit); for an admitted one, what it really had */
  computed: number;
  /** of its prefix-hit blocks, those in the free pool (evictable): admitting it takes them out */
  evictable?: number;
  lora: number | null;
  /** skipped for a cause no limit here lifts (grammar, remote KV, ...) */
  blockedOther: boolean;
}

export interface StepInput {
  /** requests admitted or resumed this step, in loop order, with the tokens they got */
  admitted: { req: LoopRequest; tokens: number; blocks: number }[];
  /** the waiting queue after schedule(), head first (preempted-this-step requests included) */
  waiting: LoopRequest[];
  /** requests preempted this step, with the tokens they would have been given next */
  victims: { req: LoopRequest; need: number }[];
  /** len(running) after schedule() */
  running: number;
  /** LoRA ids of the running requests after schedule() minus those admitted this step */
  runningLoras: ReadonlySet<number>;
  budgetLeft: number;
  freeBlocks: number;
  /** requests running or waiting before schedule(): vLLM drops the long-prefill cap when only one */
  eligible: number;
  /**
   * ids of `admitted` and `waiting` in the order the loop examined them, when it differs from
   * admitted-then-waiting: FCFS puts requests it skipped (LoRA slots) back at the head, so the
   * queue after the step is not the order they were examined in
   */
  order?: readonly string[];
  /**
   * the caller vouches that every waiting id appears once and none is also admitted (the
   * engine knows it from its queue); otherwise bindingSets checks with a map of the ids
   */
  distinct?: boolean;
}

export const INF = Number.POSITIVE_INFINITY;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

/** A relaxation set as bits of LIMITS (one AND per check; the loop asks several per request). */
export type Relax = number;
const bit = (l: Limit) => 1 << LIMITS.indexOf(l);
export const SEQS = bit("max_num_seqs");
export const BUDGET = bit("token_budget");
export const KV = bit("kv_blocks");
export const LORAS = bit("max_loras");
export const relaxBits = (set: Iterable<Limit>): Relax => {
  let m = 0;
  for (const l of set) m |= bit(l);
  return m;
};

/** Start of the waiting loop under `relax`: running count, budget, free blocks. */
export function loopStart(cfg: LimitsConfig, st: StepInput, relax: Relax, ix: { admittedTokens: number; admittedBlocks: number }): { running: number; budget: number; free: number; ran: boolean } {
  const { admittedTokens, admittedBlocks } = ix;
  const budget = relax & BUDGET ? INF : st.budgetLeft + admittedTokens;
  if (st.victims.length === 0) {
    return { running: st.running - st.admitted.length, budget, free: relax & KV ? INF : st.freeBlocks + admittedBlocks, ran: true };
  }
  // vLLM preempted this step, so it skipped the waiting loop; only more KV avoids that. With
  // more KV the victims would have run (unless the budget is relaxed: the running loop then
  // keeps the tokens it really gave, and the victims got none).
  if (!(relax & KV)) return { running: st.running, budget: 0, free: 0, ran: false };
  let b = budget;
  if (!(relax & BUDGET)) for (const v of st.victims) b -= Math.min(v.need, Math.max(0, b));
  return { running: st.running + st.victims.length, budget: b, free: INF, ran: true };
}


/** What both share, per StepInput: the admitted requests' totals, the victims' ids, the cap in effect. */
export interface StepIndex {
  victims: Set<string>;
  admittedTokens: number;
  admittedBlocks: number;
  /** stateAfterAdmitted per relaxation set */
  afterAdmitted: Map<Relax, LoopState | null>;
  /** the long-prefill cap in effect */
  threshold: number;
  /** built when a step needs the general walk (not plainStepSets) */
  walk: WalkIndex | null;
}

/** The general walk's lookups: the loop order and where each id sits in it. */
export interface WalkIndex {
  queue: LoopRequest[];
  waitingIndex: Map<string, number>;
  /** each id's last index in queue */
  lastAt: Map<string, number>;
  /** no reordering and no admitted id also waiting: admitsAlone's shortcut holds */
  simple: boolean;
}
const stepIndexes = new WeakMap<StepInput, StepIndex>();

export function stepIndex(cfg: LimitsConfig, st: StepInput): StepIndex {
  let x = stepIndexes.get(st);
  if (!x) {
    let admittedTokens = 0;
    let admittedBlocks = 0;
    for (const a of st.admitted) {
      admittedTokens += a.tokens;
      admittedBlocks += a.blocks;
    }
    x = {
      victims: new Set(st.victims.map((v) => v.req.id)),
      admittedTokens,
      admittedBlocks,
      afterAdmitted: new Map(),
      threshold: longPrefillCap(cfg, st),
      walk: null,
    };
    stepIndexes.set(st, x);
  }
  return x;
}

export function walkIndex(st: StepInput, ix: StepIndex): WalkIndex {
  if (ix.walk) return ix.walk;
  const queue = loopOrder(st);
  // an id's first index: head_only removes an id if any of its entries is ahead
  const waitingIndex = firstIndex(st.waiting);
  return (ix.walk = {
    queue,
    lastAt: new Map(queue.map((q, k) => [q.id, k])),
    waitingIndex,
    simple: !st.order && !st.admitted.some((a) => waitingIndex.has(a.req.id)),
  });
}

/** Every waiting id once, none of them admitted, no reordering: the step plainStepSets answers. */
export function isPlainStep(st: StepInput, ix: StepIndex): boolean {
  if (st.victims.length > 0 || st.order) return false;
  if (st.distinct) return true;
  const w = walkIndex(st, ix);
  return w.simple && w.waitingIndex.size === st.waiting.length;
}

function firstIndex(waiting: readonly LoopRequest[]): Map<string, number> {
  const m = new Map<string, number>();
  waiting.forEach((q, i) => {
    if (!m.has(q.id)) m.set(q.id, i);
  });
  return m;
}

/** The loop's running state while it walks the queue. */
export interface LoopState {
  running: number;
  budget: number;
  free: number;
  /** LoRA slots taken; null until a LoRA request needs them (no copy per call otherwise) */
  loras: Set<number> | null;
}

const SKIP = 0;
export const ADMIT = 1;
export const BREAK = 2;
type Outcome = typeof SKIP | typeof ADMIT | typeof BREAK;

/** One request of vLLM's waiting loop, the same checks in the same order: updates `s` when it admits. */
export function examine(cfg: LimitsConfig, st: StepInput, relax: Relax, threshold: number, q: LoopRequest, s: LoopState): Outcome {
  if (!(relax & SEQS) && s.running >= cfg.maxNumSeqs) return BREAK;
  if (s.budget <= 0) return BREAK;
  if (q.blockedOther) return SKIP;
  if (q.lora !== null && q.lora > 0 && cfg.maxLoras !== null && !(relax & LORAS)) {
    s.loras ??= new Set(st.runningLoras);
    if (!s.loras.has(q.lora) && s.loras.size >= cfg.maxLoras) return SKIP;
  }
  const need = Math.max(1, q.tokens - q.computed);
  let chunk = Math.min(need, threshold);
  if (!cfg.chunkedPrefill && chunk > s.budget) return cfg.skipOversizedPrompt ? SKIP : BREAK;
  chunk = Math.min(chunk, s.budget);
  const bs = cfg.blockSize;
  // prefix-hit blocks held by running requests cost nothing; evictable ones come out of the free pool
  const held = Math.floor(q.computed / bs) - (q.evictable ?? 0);
  const alloc = Math.max(0, cdiv(q.computed + chunk, bs) - held);
  const gate = cfg.reserveFullIsl ? Math.max(alloc, cdiv(Math.min(q.tokens, cfg.maxModelLen), bs) - held) : alloc;
  if (gate > s.free) return BREAK;
  s.running++;
  s.budget -= chunk;
  s.free -= alloc;
  if (q.lora !== null && q.lora > 0) (s.loras ??= new Set(st.runningLoras)).add(q.lora);
  return ADMIT;
}

const longPrefillCap = (cfg: LimitsConfig, st: StepInput) => (cfg.longPrefillThreshold > 0 && st.eligible > 1 ? cfg.longPrefillThreshold : INF);

export function runLoop(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead: number, target: string | null, out: Set<string>): void {
  const ix = stepIndex(cfg, st);
  const start = loopStart(cfg, st, relax, ix);
  if (!start.ran) return;
  if (st.victims.length > 0 && !(relax & BUDGET)) {
    let b = st.budgetLeft;
    for (const v of st.victims) {
      if (b <= 0) break;
      out.add(v.req.id);
      b -= v.need;
    }
  }
  const s: LoopState = { running: start.running, budget: start.budget, free: start.free, loras: null };
  const { victims, threshold } = ix;
  const { queue, waitingIndex, lastAt } = walkIndex(st, ix);
  // the target's last place in the queue: past it nothing can add it any more
  const targetAt = target === null ? -1 : (lastAt.get(target) ?? -1);
  for (let k = 0; k < queue.length; k++) {
    const q = queue[k];
    // victims: handled by the running loop above
    const outcome = victims.has(q.id) || (removeAhead > 0 && (waitingIndex.get(q.id) ?? INF) < removeAhead) ? SKIP : examine(cfg, st, relax, threshold, q, s);
    if (outcome === BREAK) break;
    if (outcome === ADMIT) out.add(q.id);
    if (k === targetAt) return; // the target decided: what follows cannot change it
  }
}


/** admitsAlone's copy of the state it examines one request from (one object, not one per call) */
export const scratch: LoopState = { running: 0, budget: 0, free: 0, loras: null };

/** The loop's state once it has examined the admitted requests; null when it stopped among them. */
export function stateAfterAdmitted(cfg: LimitsConfig, st: StepInput, relax: Relax, ix: StepIndex): LoopState | null {
  const start = loopStart(cfg, st, relax, ix);
  if (!start.ran) return null;
  const s: LoopState = { running: start.running, budget: start.budget, free: start.free, loras: null };
  for (const a of st.admitted) {
    if (ix.victims.has(a.req.id)) continue; // as runLoop: the running loop handled it
    if (examine(cfg, st, relax, ix.threshold, a.req, s) === BREAK) return null;
  }
  return s;
}

function loopOrder(st: StepInput): LoopRequest[] {
  const all = [...st.admitted.map((a) => a.req), ...st.waiting];
  if (!st.order) return all;
  const byId = new Map(all.map((q) => [q.id, q]));
  const out: LoopRequest[] = [];
  for (const id of st.order) {
    const q = byId.get(id);
    if (q) {
      out.push(q);
      byId.delete(id);
    }
  }
  for (const q of all) if (byId.has(q.id)) out.push(q);
  return out;
}


function subsets(limits: readonly Limit[]): Limit[][] {
  const out: Limit[][] = [];
  for (let mask = 0; mask < 1 << limits.length; mask++) out.push(limits.filter((_, i) => mask & (1 << i)));
  return out.sort((a, b) => a.length - b.length || LIMITS.indexOf(a[0]) - LIMITS.indexOf(b[0]));
}


export interface Relaxation {
  set: Limit[];
  /** the set as bits of LIMITS: "a minimal set is contained in this one" is one AND */
  mask: number;
  headOnly: boolean;
  relax: Relax;
}

/** The relaxation sets, smallest first, for a config with or without LoRA slots (two lists, built once). */
const relaxations = new Map<boolean, Relaxation[]>();
export function relaxationsFor(cfg: LimitsConfig): Relaxation[] {
  const lora = cfg.maxLoras !== null;
  let order = relaxations.get(lora);
  if (!order) {
    order = subsets(LIMITS.filter((l) => l !== "max_loras" || lora)).map((set) => ({
      set,
      mask: set.reduce((m, l) => m | (1 << LIMITS.indexOf(l)), 0),
      headOnly: set.includes("head_only"),
      relax: relaxBits(set.filter((l) => l !== "head_only")),
    }));
    relaxations.set(lora, order);
  }
  return order;
}

/**
 * One array per distinct answer, shared by every request that gets it: most of a long queue
 * gets one of a few answers, and formatSets then formats each once (formatting per request
 * was a fifth of convert). Bounded by the antichains of 5 limits, a few hundred at most.
 */
const answers = new WeakMap<readonly Relaxation[], Map<number, Limit[][]>>();
export function shared(order: readonly Relaxation[], found: number): Limit[][] {
  let byBits = answers.get(order);
  if (!byBits) answers.set(order, (byBits = new Map()));
  let a = byBits.get(found);
  if (!a) {
    a = order.filter((_, i) => found & (1 << i)).map((o) => o.set);
    byBits.set(found, a);
  }
  return a;
}

