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
  /**
   * the caller vouches that every waiting id appears once and none is also admitted (the
   * engine knows it from its queue); otherwise bindingSets checks with a map of the ids
   */
  distinct?: boolean;
}

const INF = Number.POSITIVE_INFINITY;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

/** A relaxation set as bits of LIMITS (one AND per check; the loop asks several per request). */
type Relax = number;
const bit = (l: Limit) => 1 << LIMITS.indexOf(l);
const SEQS = bit("max_num_seqs");
const BUDGET = bit("token_budget");
const KV = bit("kv_blocks");
const LORAS = bit("max_loras");
const relaxBits = (set: Iterable<Limit>): Relax => {
  let m = 0;
  for (const l of set) m |= bit(l);
  return m;
};

/** Start of the waiting loop under `relax`: running count, budget, free blocks. */
function loopStart(cfg: LimitsConfig, st: StepInput, relax: Relax, ix: { admittedTokens: number; admittedBlocks: number }): { running: number; budget: number; free: number; ran: boolean } {
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

/**
 * The ids this relaxation admits. `removeAhead` drops the waiting requests ahead of that
 * index (head_only). Victims count as admitted when they keep running.
 */
export function admittedUnder(cfg: LimitsConfig, st: StepInput, relax: ReadonlySet<Limit>, removeAhead = -1): Set<string> {
  return admittedUnderBits(cfg, st, relaxBits(relax), removeAhead);
}

function admittedUnderBits(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead = -1): Set<string> {
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

/** What both share, per StepInput: the admitted requests' totals, the victims' ids, the cap in effect. */
interface StepIndex {
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
interface WalkIndex {
  queue: LoopRequest[];
  waitingIndex: Map<string, number>;
  /** each id's last index in queue */
  lastAt: Map<string, number>;
  /** no reordering and no admitted id also waiting: admitsAlone's shortcut holds */
  simple: boolean;
}
const stepIndexes = new WeakMap<StepInput, StepIndex>();

function stepIndex(cfg: LimitsConfig, st: StepInput): StepIndex {
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

function walkIndex(st: StepInput, ix: StepIndex): WalkIndex {
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
function isPlainStep(st: StepInput, ix: StepIndex): boolean {
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

function runLoop(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead: number, target: string | null, out: Set<string>): void {
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
  const w = walkIndex(st, ix);
  return w.simple && !(st.victims.length > 0 && ix.victims.has(id)) && w.waitingIndex.get(id) === pos && w.lastAt.get(id) === st.admitted.length + pos;
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
  if (isPlainStep(st, ix)) return plainStepSets(cfg, st, ix, order);
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
        ok = (admitted[i] ??= admittedUnderBits(cfg, st, o.relax)).has(q.id);
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

/**
 * bindingSets for the usual step (no victims, no reordering, every id once): each relaxation
 * without head_only walks the queue once, marking the positions it admits (bit i of
 * okBits[pos] for order[i]); head_only asks one examine() of the request from the state after
 * the admitted ones, and for a plain request (no prefix hit, no LoRA, not blocked) that answer
 * only falls as its tokens grow, so each relaxation keeps the largest admitted and the smallest
 * refused token count seen this step and examines only what falls between. A request's answer
 * is then a function of its okBits alone (minimalFrom), computed once per distinct okBits.
 */
function plainStepSets(cfg: LimitsConfig, st: StepInput, ix: StepIndex, order: readonly Relaxation[]): (Limit[][] | null)[] {
  const n = st.waiting.length;
  const okBits = new Int32Array(n);
  const heads: HeadOnly[] = [];
  for (let i = 0; i < order.length; i++) {
    const o = order[i];
    if (!o.headOnly) markAdmitted(cfg, st, ix, o.relax, 1 << i, okBits);
    else {
      const after = stateAfterAdmitted(cfg, st, o.relax, ix);
      // the loop would stop before looking at anyone: no request alone at the head gets in
      if (after !== null && after.budget > 0 && (o.relax & SEQS || after.running < cfg.maxNumSeqs)) heads.push({ bit: 1 << i, relax: o.relax, after, lo: -INF, hi: INF });
    }
  }
  const out: (Limit[][] | null)[] = new Array(n);
  const memo = minimalMemo(order);
  // without LoRA slots 16 relaxations: the answers fit an array indexed by okBits
  const small = order.length <= 16 ? minimalArray(order) : null;
  for (let pos = 0; pos < n; pos++) {
    let bits = okBits[pos];
    if (pos > 0) {
      const q = st.waiting[pos];
      const plain = q.computed === 0 && !q.evictable && !(q.lora !== null && q.lora > 0) && !q.blockedOther;
      for (const h of heads) {
        let ok: boolean;
        if (plain && q.tokens <= h.lo) ok = true;
        else if (plain && q.tokens >= h.hi) ok = false;
        else {
          ok = examineFrom(cfg, st, ix, h.after, h.relax, q);
          if (plain) {
            if (ok) h.lo = q.tokens;
            else h.hi = q.tokens;
          }
        }
        if (ok) bits |= h.bit;
      }
    }
    let a = small ? small[bits] : memo.get(bits);
    if (a === undefined) {
      a = minimalFrom(order, bits);
      if (small) small[bits] = a;
      else memo.set(bits, a);
    }
    out[pos] = a;
  }
  return out;
}

const minimalArrays = new WeakMap<readonly Relaxation[], (Limit[][] | null | undefined)[]>();
function minimalArray(order: readonly Relaxation[]): (Limit[][] | null | undefined)[] {
  let m = minimalArrays.get(order);
  if (!m) minimalArrays.set(order, (m = new Array<Limit[][] | null | undefined>(1 << order.length).fill(undefined)));
  return m;
}

/** A head_only relaxation that can admit someone this step, with its token bounds. */
interface HeadOnly {
  bit: number;
  relax: Relax;
  after: LoopState;
  /** plain requests of at most `lo` tokens are admitted, of at least `hi` are not */
  lo: number;
  hi: number;
}

/** runLoop without victims or removals: bit `b` set on every waiting position it admits. */
function markAdmitted(cfg: LimitsConfig, st: StepInput, ix: StepIndex, relax: Relax, b: number, okBits: Int32Array): void {
  const start = loopStart(cfg, st, relax, ix);
  if (!start.ran) return;
  if ((relax & (SEQS | BUDGET | KV)) === (SEQS | BUDGET | KV) && (cfg.maxLoras === null || relax & LORAS)) {
    // nothing left to stop the loop or to skip for (the budget and the pool are unlimited): it
    // admits every request no other cause blocks, whatever came before
    const w = st.waiting;
    for (let pos = 0; pos < w.length; pos++) if (!w[pos].blockedOther) okBits[pos] |= b;
    return;
  }
  const s: LoopState = { running: start.running, budget: start.budget, free: start.free, loras: null };
  for (const a of st.admitted) if (examine(cfg, st, relax, ix.threshold, a.req, s) === BREAK) return;
  const w = st.waiting;
  for (let pos = 0; pos < w.length; pos++) {
    const outcome = examine(cfg, st, relax, ix.threshold, w[pos], s);
    if (outcome === BREAK) return;
    if (outcome === ADMIT) okBits[pos] |= b;
  }
}

/** One examine() from a copy of `after` (admitsAlone's step, with the state already computed). */
function examineFrom(cfg: LimitsConfig, st: StepInput, ix: StepIndex, after: LoopState, relax: Relax, q: LoopRequest): boolean {
  scratch.running = after.running;
  scratch.budget = after.budget;
  scratch.free = after.free;
  scratch.loras = after.loras && new Set(after.loras);
  return examine(cfg, st, relax, ix.threshold, q, scratch) === ADMIT;
}

/** bindingSets' selection of minimal sets, with every relaxation's answer given as bit i of okBits. */
function minimalFrom(order: readonly Relaxation[], okBits: number): Limit[][] | null {
  let found = 0;
  const masks: number[] = [];
  next: for (let i = 0; i < order.length; i++) {
    if (!(okBits & (1 << i))) continue;
    const o = order[i];
    for (const m of masks) if ((m & o.mask) === m) continue next;
    if (o.set.length === 0) return null;
    found |= 1 << i;
    masks.push(o.mask);
  }
  return shared(order, found >>> 0);
}

const minimalMemos = new WeakMap<readonly Relaxation[], Map<number, Limit[][] | null>>();
function minimalMemo(order: readonly Relaxation[]): Map<number, Limit[][] | null> {
  let m = minimalMemos.get(order);
  if (!m) minimalMemos.set(order, (m = new Map()));
  return m;
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
