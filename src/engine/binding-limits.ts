/**
 * binding_limits: which limits would have had to be larger for a waiting request to be
 * admitted at a decision (docs/waiting-reasons.md, "Binding limits"). Pure: a step's facts
 * in, one label per waiting request out.
 *
 * It replays vLLM's waiting loop offline (requests examined head to tail; a break on
 * max_num_seqs, the token budget, a prompt larger than the budget with chunked prefill off,
 * or a failed KV allocation; LoRA-slot skips) once per relaxation set, with each limit
 * either as it was or unlimited, and keeps the minimal sets that admit the request: a set
 * is minimal when it admits it and no proper subset does. The counterfactual oracle of the
 * harness (emitter/src/vsched_emitter/harness/counterfactual.py) does the same with vLLM's
 * own schedule() on copies of the scheduler; test/binding-limits-agreement.test.ts compares.
 */

import { BIND_BUCKETS, formatLimitSets, LIMITS, type BindBucket, type Limit } from "../schema/binding.js";

export { BIND_BUCKETS, LIMITS, type BindBucket, type Limit };

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
}

const INF = Number.POSITIVE_INFINITY;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

type Relax = ReadonlySet<Limit>;

/** Start of the waiting loop under `relax`: running count, budget, free blocks. */
function loopStart(cfg: LimitsConfig, st: StepInput, relax: Relax, ix: { admittedTokens: number; admittedBlocks: number }): { running: number; budget: number; free: number; ran: boolean } {
  const { admittedTokens, admittedBlocks } = ix;
  const budget = relax.has("token_budget") ? INF : st.budgetLeft + admittedTokens;
  if (st.victims.length === 0) {
    return { running: st.running - st.admitted.length, budget, free: relax.has("kv_blocks") ? INF : st.freeBlocks + admittedBlocks, ran: true };
  }
  // vLLM preempted this step, so it skipped the waiting loop; only more KV avoids that. With
  // more KV the victims would have run (unless the budget is relaxed: the running loop then
  // keeps the tokens it really gave, and the victims got none).
  if (!relax.has("kv_blocks")) return { running: st.running, budget: 0, free: 0, ran: false };
  let b = budget;
  if (!relax.has("token_budget")) for (const v of st.victims) b -= Math.min(v.need, Math.max(0, b));
  return { running: st.running + st.victims.length, budget: b, free: INF, ran: true };
}

/**
 * The ids this relaxation admits. `removeAhead` drops the waiting requests ahead of that
 * index (head_only). Victims count as admitted when they keep running.
 */
export function admittedUnder(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead = -1): Set<string> {
  const out = new Set<string>();
  runLoop(cfg, st, relax, removeAhead, null, out);
  return out;
}

/**
 * admittedUnder(…).has(target) without walking past it: the loop's state when it reaches
 * `target` decides, and what it does after cannot change that. head_only's general case
 * (admitsAlone covers the usual one).
 */
function admits(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead: number, target: string): boolean {
  const out = new Set<string>();
  runLoop(cfg, st, relax, removeAhead, target, out);
  return out.has(target);
}

/** What both share, per StepInput: the loop order, each waiting id's index, the victims' ids. */
interface StepIndex {
  queue: LoopRequest[];
  waitingIndex: Map<string, number>;
  victims: Set<string>;
  /** each id's last index in queue */
  lastAt: Map<string, number>;
  admittedTokens: number;
  admittedBlocks: number;
  /** no reordering and no admitted id also waiting: admitsAlone's shortcut holds */
  simple: boolean;
  /** stateAfterAdmitted per relaxation set */
  afterAdmitted: Map<Relax, LoopState | null>;
  /** the long-prefill cap in effect */
  threshold: number;
}
const stepIndexes = new WeakMap<StepInput, StepIndex>();

function stepIndex(cfg: LimitsConfig, st: StepInput): StepIndex {
  let x = stepIndexes.get(st);
  if (!x) {
    const queue = loopOrder(st);
    x = {
      queue,
      lastAt: new Map(queue.map((q, k) => [q.id, k])),
      // an id's first index: head_only removes an id if any of its entries is ahead
      waitingIndex: firstIndex(st.waiting),
      victims: new Set(st.victims.map((v) => v.req.id)),
      admittedTokens: st.admitted.reduce((n, a) => n + a.tokens, 0),
      admittedBlocks: st.admitted.reduce((n, a) => n + a.blocks, 0),
      simple: false,
      afterAdmitted: new Map(),
      threshold: longPrefillCap(cfg, st),
    };
    const waitingIndex = x.waitingIndex;
    x.simple = !st.order && !st.admitted.some((a) => waitingIndex.has(a.req.id));
    stepIndexes.set(st, x);
  }
  return x;
}

function firstIndex(waiting: readonly LoopRequest[]): Map<string, number> {
  const m = new Map<string, number>();
  waiting.forEach((q, i) => {
    if (!m.has(q.id)) m.set(q.id, i);
  });
  return m;
}

/** The loop's running state while it walks the queue. */
interface LoopState {
  running: number;
  budget: number;
  free: number;
  /** LoRA slots taken; null until a LoRA request needs them (no copy per call otherwise) */
  loras: Set<number> | null;
}

const SKIP = 0;
const ADMIT = 1;
const BREAK = 2;
type Outcome = typeof SKIP | typeof ADMIT | typeof BREAK;

/** One request of vLLM's waiting loop, the same checks in the same order: updates `s` when it admits. */
function examine(cfg: LimitsConfig, st: StepInput, relax: Relax, threshold: number, q: LoopRequest, s: LoopState): Outcome {
  if (!relax.has("max_num_seqs") && s.running >= cfg.maxNumSeqs) return BREAK;
  if (s.budget <= 0) return BREAK;
  if (q.blockedOther) return SKIP;
  if (q.lora !== null && q.lora > 0 && cfg.maxLoras !== null && !relax.has("max_loras")) {
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

function runLoop(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead: number, target: string | null, out: Set<string>): void {
  const ix = stepIndex(cfg, st);
  const start = loopStart(cfg, st, relax, ix);
  if (!start.ran) return;
  if (st.victims.length > 0 && !relax.has("token_budget")) {
    let b = st.budgetLeft;
    for (const v of st.victims) {
      if (b <= 0) break;
      out.add(v.req.id);
      b -= v.need;
    }
  }
  const s: LoopState = { running: start.running, budget: start.budget, free: start.free, loras: null };
  const { queue, victims, waitingIndex, threshold } = ix;
  // the target's last place in the queue: past it nothing can add it any more
  const targetAt = target === null ? -1 : (ix.lastAt.get(target) ?? -1);
  for (let k = 0; k < queue.length; k++) {
    const q = queue[k];
    // victims: handled by the running loop above
    const outcome = victims.has(q.id) || (removeAhead > 0 && (waitingIndex.get(q.id) ?? INF) < removeAhead) ? SKIP : examine(cfg, st, relax, threshold, q, s);
    if (outcome === BREAK) break;
    if (outcome === ADMIT) out.add(q.id);
    if (k === targetAt) return; // the target decided: what follows cannot change it
  }
}

/**
 * head_only for the waiting request at `pos`: the loop with everything ahead of it removed.
 * Without reordering that is the admitted requests, then the request itself, so the state
 * after the admitted ones is computed once per relaxation and each request costs one
 * examine() (a 1,000-deep queue asks this ~10 times per request per step). Only where
 * canAskAlone holds.
 */
function admitsAlone(cfg: LimitsConfig, st: StepInput, ix: StepIndex, relax: Relax, pos: number): boolean {
  let after = ix.afterAdmitted.get(relax);
  if (after === undefined) {
    after = stateAfterAdmitted(cfg, st, relax, ix);
    ix.afterAdmitted.set(relax, after);
  }
  if (after === null) return false;
  scratch.running = after.running;
  scratch.budget = after.budget;
  scratch.free = after.free;
  scratch.loras = after.loras && new Set(after.loras);
  return examine(cfg, st, relax, ix.threshold, st.waiting[pos], scratch) === ADMIT;
}

/**
 * Whether admitsAlone answers for the request at `pos`: not with a reordered queue or
 * duplicate ids (then "everything ahead" is not one stretch), nor for a victim (the running
 * loop may admit it); admits() walks the loop then.
 */
function canAskAlone(st: StepInput, ix: StepIndex, pos: number): boolean {
  const id = st.waiting[pos].id;
  return ix.simple && !(st.victims.length > 0 && ix.victims.has(id)) && ix.waitingIndex.get(id) === pos && ix.lastAt.get(id) === st.admitted.length + pos;
}

/** admitsAlone's copy of the state it examines one request from (one object, not one per call) */
const scratch: LoopState = { running: 0, budget: 0, free: 0, loras: null };

/** The loop's state once it has examined the admitted requests; null when it stopped among them. */
function stateAfterAdmitted(cfg: LimitsConfig, st: StepInput, relax: Relax, ix: StepIndex): LoopState | null {
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

/**
 * The minimal relaxation sets for every waiting request, in queue order. A request that no
 * set admits gets []: none of these limits holds it (a grammar, a remote KV transfer, ...).
 * A request the replay admits with nothing relaxed (the replay disagrees with vLLM) gets
 * null, and the caller falls back to the structural label.
 */
interface Relaxation {
  set: Limit[];
  /** the set as bits of LIMITS: "a minimal set is contained in this one" is one AND */
  mask: number;
  headOnly: boolean;
  relax: Relax;
}

/** The relaxation sets, smallest first, for a config with or without LoRA slots (two lists, built once). */
const relaxations = new Map<boolean, Relaxation[]>();
function relaxationsFor(cfg: LimitsConfig): Relaxation[] {
  const lora = cfg.maxLoras !== null;
  let order = relaxations.get(lora);
  if (!order) {
    order = subsets(LIMITS.filter((l) => l !== "max_loras" || lora)).map((set) => ({
      set,
      mask: set.reduce((m, l) => m | (1 << LIMITS.indexOf(l)), 0),
      headOnly: set.includes("head_only"),
      relax: new Set(set.filter((l) => l !== "head_only")),
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
function shared(order: readonly Relaxation[], found: number): Limit[][] {
  let byBits = answers.get(order);
  if (!byBits) answers.set(order, (byBits = new Map()));
  let a = byBits.get(found);
  if (!a) {
    a = order.filter((_, i) => found & (1 << i)).map((o) => o.set);
    byBits.set(found, a);
  }
  return a;
}

export function bindingSets(cfg: LimitsConfig, st: StepInput): (Limit[][] | null)[] {
  const order = relaxationsFor(cfg);
  const ix = stepIndex(cfg, st);
  // what each relaxation admits, once per step, computed when first asked
  const admitted: (Set<string> | undefined)[] = new Array(order.length);
  const masks: number[] = [];
  return st.waiting.map((q, pos) => {
    let found = 0; // bit i: order[i] is a minimal set (at most 32 relaxations)
    masks.length = 0;
    const alone = pos > 0 && canAskAlone(st, ix, pos);
    next: for (let i = 0; i < order.length; i++) {
      const o = order[i];
      for (const m of masks) if ((m & o.mask) === m) continue next;
      let ok: boolean;
      if (o.headOnly) {
        if (pos === 0) continue; // nothing ahead: head_only changes nothing
        ok = alone ? admitsAlone(cfg, st, ix, o.relax, pos) : admits(cfg, st, o.relax, pos, q.id);
      } else {
        ok = (admitted[i] ??= admittedUnder(cfg, st, o.relax)).has(q.id);
      }
      if (ok) {
        if (o.set.length === 0) return null;
        found |= 1 << i;
        masks.push(o.mask);
      }
    }
    return shared(order, found >>> 0);
  });
}

const formatted = new WeakMap<readonly (readonly Limit[])[], string>();

/** The column text: minimal sets joined by "|", a set's limits by "+"; "none" when no set admits. */
export function formatSets(sets: readonly (readonly Limit[])[]): string {
  let text = formatted.get(sets);
  if (text === undefined) formatted.set(sets, (text = formatLimitSets(sets)));
  return text;
}

export function parseSets(text: string): Limit[][] {
  if (text === "none" || text === "") return [];
  return text.split("|").map((s) => s.split("+") as Limit[]);
}

/** The time-split bucket of one decision's sets. */
export function bucketOf(sets: readonly (readonly Limit[])[]): BindBucket {
  if (sets.length === 0) return "none";
  if (sets.length > 1) return "alternatives";
  return sets[0].length === 1 ? sets[0][0] : "joint";
}
