/**
 * bindingSets' answer for the usual step, without a walk per request (see plainStepSets).
 */

import type { Limit } from "../schema/binding.js";
import { ADMIT, BREAK, BUDGET, examine, INF, KV, loopStart, LORAS, scratch, SEQS, shared, stateAfterAdmitted, type LimitsConfig, type LoopRequest, type LoopState, type Relax, type Relaxation, type StepIndex, type StepInput } from "./binding-loop.js";

/**
 * bindingSets for the usual step (no victims, no reordering, every id once): each relaxation
 * without head_only walks the queue once, marking the positions it admits (bit i of
 * okBits[pos] for order[i]); head_only asks one examine() of the request from the state after
 * the admitted ones, and for a plain request (no prefix hit, no LoRA, not blocked) that answer
 * only falls as its tokens grow, so each relaxation keeps the largest admitted and the smallest
 * refused token count seen this step and examines only what falls between. A request's answer
 * is then a function of its okBits alone (minimalFrom), computed once per distinct okBits.
 */
export function plainStepSets(cfg: LimitsConfig, st: StepInput, ix: StepIndex, order: readonly Relaxation[]): (Limit[][] | null)[] {
  const n = st.waiting.length;
  const okBits = new Int32Array(n);
  const heads: HeadOnly[] = [];
  for (let i = 0; i < order.length; i++) {
    const o = order[i];
    if (!o.headOnly) markAdmitted(cfg, st, ix, o.relax, 1 << i, okBits);
    else {
      const h = headOnly(cfg, st, ix, o.relax, 1 << i);
      if (h) heads.push(h);
    }
  }
  const out: (Limit[][] | null)[] = new Array(n);
  for (let pos = 0; pos < n; pos++) out[pos] = answerOf(order, pos > 0 ? okBits[pos] | headBits(cfg, st, ix, heads, st.waiting[pos]) : okBits[pos]);
  return out;
}

/** head_only under `relax` for this step (bit `bit` of okBits); null when it admits no one. */
export function headOnly(cfg: LimitsConfig, st: StepInput, ix: StepIndex, relax: Relax, bit: number): HeadOnly | null {
  const after = stateAfterAdmitted(cfg, st, relax, ix);
  // the loop would stop before looking at anyone: no request alone at the head gets in
  if (after !== null && after.budget > 0 && (relax & SEQS || after.running < cfg.maxNumSeqs)) return { bit, relax, after, lo: -INF, hi: INF };
  return null;
}

/** The okBits of the head_only relaxations for a request not at the head (their token bounds updated). */
export function headBits(cfg: LimitsConfig, st: StepInput, ix: StepIndex, heads: readonly HeadOnly[], q: LoopRequest): number {
  let bits = 0;
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
  return bits;
}

/**
 * The minimal sets of a request whose relaxations' answers are `okBits` (bit i: order[i]
 * admits it): computed once per distinct okBits. Without LoRA slots 16 relaxations, so the
 * answers fit an array indexed by okBits.
 */
export function answerOf(order: readonly Relaxation[], okBits: number): Limit[][] | null {
  if (order.length <= 16) {
    const small = minimalArray(order);
    let a = small[okBits];
    if (a === undefined) small[okBits] = a = minimalFrom(order, okBits);
    return a;
  }
  const memo = minimalMemo(order);
  let a = memo.get(okBits);
  if (a === undefined) memo.set(okBits, (a = minimalFrom(order, okBits)));
  return a;
}

const minimalArrays = new WeakMap<readonly Relaxation[], (Limit[][] | null | undefined)[]>();
let lastOrder: readonly Relaxation[] | null = null;
let lastArray: (Limit[][] | null | undefined)[] = [];
function minimalArray(order: readonly Relaxation[]): (Limit[][] | null | undefined)[] {
  if (order === lastOrder) return lastArray;
  let m = minimalArrays.get(order);
  if (!m) minimalArrays.set(order, (m = new Array<Limit[][] | null | undefined>(1 << order.length).fill(undefined)));
  lastOrder = order;
  lastArray = m;
  return m;
}

/** A head_only relaxation that can admit someone this step, with its token bounds. */
export interface HeadOnly {
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
export function examineFrom(cfg: LimitsConfig, st: StepInput, ix: StepIndex, after: LoopState, relax: Relax, q: LoopRequest): boolean {
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

