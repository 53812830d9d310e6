/**
 * One step's binding answers as a function of the queue position, for the step that needs no
 * per-request walk: what lets BindingTracker carry each waiting request's answer from decision
 * to decision and touch it only when its inputs changed (src/engine/binding-tracker.ts).
 */

import { ADMIT, BREAK, BUDGET, examine, INF, KV, loopStart, SEQS, type LimitsConfig, type LoopRequest, type LoopState, type Relax, type Relaxation, type StepIndex, type StepInput } from "./binding-loop.js";
import { examineFrom, headBits, headOnly, type HeadOnly } from "./binding-plain-step.js";
import type { RequestView } from "./types.js";

/** A waiting request's prefix-cache hit this step (step.probe), when the trace has one. */
export interface ProbeHit {
  hit: number;
  evictable: number;
}

/**
 * Plain requests asked one by one before PrefixStep finds the head_only bounds by bisection: a
 * queue of a few requests (the 1 M-step timeline trace waits ~3 a step) costs a handful of
 * examines instead of ~25 per head_only relaxation; a long one pays the bisection once.
 */
const ASK_BEFORE_BOUNDS = 16;

/**
 * plainStepSets' step (no victims, no reordering, every id once) in which nothing can be
 * skipped: no LoRA slots configured, no request blocked for another cause, no oversized prompt
 * skipped with chunked prefill off. Then every relaxation without head_only admits a prefix of
 * the queue, so its answer for the whole queue is one number, the position its walk stopped at;
 * a request's okBits are those numbers compared with its position, plus head_only's answers for
 * it (headBits: token bounds, as plainStepSets asks them). Bit for bit what plainStepSets gives.
 *
 * bitsAt() is asked in queue order (a pointer walks the stop positions).
 */
export class PrefixStep {
  /** the walk relaxations' stop positions, ascending, and the okBit each one carries */
  private readonly ends: number[] = [];
  private readonly endBits: number[] = [];
  private readonly heads: HeadOnly[] = [];
  /**
   * head_only for a plain request (no prefix hit, no LoRA) is a function of its tokens that
   * only falls as they grow: relaxation h admits it while tokens ≤ its bound. The bounds
   * ascending and, at each, the bits of the relaxations whose bound is at least that (found
   * with examine() at the first plain request asked about, by doubling and bisection).
   */
  private bounds: number[] | null = null;
  private boundBits: number[] = [];
  private mask = 0;
  private k = 0;
  /** plain requests answered through headBits so far (the bounds are found after ASK_BEFORE_BOUNDS) */
  private asked = 0;
  /** one LoopRequest filled from a view at a time (the queue's views are what the engine holds) */
  private readonly q: LoopRequest = { id: "", tokens: 0, computed: 0, evictable: 0, lora: null, blockedOther: false };

  private constructor(
    private readonly cfg: LimitsConfig,
    private readonly st: StepInput,
    private readonly ix: StepIndex,
    private readonly views: readonly RequestView[],
    private readonly probe: readonly (ProbeHit | undefined)[],
    private readonly allocs: QueueAllocs | null,
  ) {}

  /**
   * The step's answer function; null when a relaxation's walk skipped someone (not prefix-shaped after all).
   * `allocs`: the queue's KV needs, synced to `views` with this step's long-prefill cap (QueueAllocs), for the walks that only KV stops.
   */
  static build(
    cfg: LimitsConfig,
    st: StepInput,
    ix: StepIndex,
    order: readonly Relaxation[],
    views: readonly RequestView[],
    probe: readonly (ProbeHit | undefined)[],
    allocs: QueueAllocs | null = null,
  ): PrefixStep | null {
    const p = new PrefixStep(cfg, st, ix, views, probe, allocs);
    const walks: [number, number][] = [];
    for (let i = 0; i < order.length; i++) {
      const o = order[i];
      if (o.headOnly) {
        const h = headOnly(cfg, st, ix, o.relax, 1 << i);
        if (h) p.heads.push(h);
        continue;
      }
      const end = p.walkEnd(o.relax);
      if (end < 0) return null;
      walks.push([end, 1 << i]);
    }
    walks.sort((a, b) => a[0] - b[0]);
    for (const [end, bit] of walks) {
      p.ends.push(end);
      p.endBits.push(bit);
      p.mask |= bit;
    }
    return p;
  }

  /** okBits of the request at `pos` (asked with pos ascending). */
  bitsAt(pos: number): number {
    while (this.k < this.ends.length && this.ends[this.k] <= pos) this.mask &= ~this.endBits[this.k++];
    if (pos === 0 || this.heads.length === 0) return this.mask; // nothing ahead: head_only changes nothing
    const r = this.views[pos];
    if ((pos < this.probe.length && this.probe[pos] !== undefined) || (r.lora !== null && r.lora > 0)) return this.mask | headBits(this.cfg, this.st, this.ix, this.heads, this.fill(pos));
    if (this.bounds === null && this.asked < ASK_BEFORE_BOUNDS) {
      // a short queue: ask each request (headBits keeps every relaxation's token bounds, so a
      // request inside them costs no examine) rather than bisect each bound (~25 examines a relaxation)
      this.asked++;
      return this.mask | headBits(this.cfg, this.st, this.ix, this.heads, this.fill(pos));
    }
    const bounds = this.bounds ?? this.plainBounds();
    let k = 0;
    while (k < bounds.length && bounds[k] < r.numTokens) k++;
    return k < bounds.length ? this.mask | this.boundBits[k] : this.mask;
  }

  /** The walk relaxations' stop positions, ascending (BindingTracker's runs split the queue at them). */
  get stops(): readonly number[] {
    return this.ends;
  }

  /** The okBits of the walks at a position at or past stops[r - 1] and before stops[r] (every walk that stops later admits it). */
  walkBitsFrom(r: number): number {
    let m = 0;
    for (let i = r; i < this.endBits.length; i++) m |= this.endBits[i];
    return m;
  }

  /** Positions below this one may carry a prefix-cache hit (step.probe): bitsAt() only. */
  get probed(): number {
    return this.probe.length;
  }

  /**
   * head_only's okBits shared by every plain request (no prefix hit, no LoRA) of `lo` to `hi`
   * tokens not at the head, or -1 when they differ: each head_only relaxation admits a plain
   * request while its tokens are at most some bound (its answer only falls as they grow, as
   * plainBounds and headBits take it), so the two ends of the range decide for all of it.
   */
  plainHeadBitsFor(lo: number, hi: number): number {
    let bits = 0;
    for (const h of this.heads) {
      const a = this.plainAdmits(h, lo);
      if (a !== this.plainAdmits(h, hi)) return -1;
      if (a) bits |= h.bit;
    }
    return bits;
  }

  /** headBits' answer of one head_only relaxation for a plain request of `tokens` (its token bounds kept). */
  private plainAdmits(h: HeadOnly, tokens: number): boolean {
    if (tokens <= h.lo) return true;
    if (tokens >= h.hi) return false;
    const q = this.q;
    q.id = "";
    q.tokens = tokens;
    q.computed = 0;
    q.evictable = 0;
    q.lora = null;
    const ok = examineFrom(this.cfg, this.st, this.ix, h.after, h.relax, q);
    if (ok) h.lo = tokens;
    else h.hi = tokens;
    return ok;
  }

  private plainBounds(): number[] {
    const hs = this.heads.map((h) => ({ bit: h.bit, bound: this.plainBound(h) })).sort((a, b) => a.bound - b.bound);
    const bounds = hs.map((h) => h.bound);
    this.boundBits = hs.map((_, k) => hs.slice(k).reduce((m, h) => m | h.bit, 0));
    return (this.bounds = bounds);
  }

  /** The largest token count of a plain request that head_only `h` admits (-∞: none, ∞: any). */
  private plainBound(h: HeadOnly): number {
    const q: LoopRequest = { id: "", tokens: 1, computed: 0, evictable: 0, lora: null, blockedOther: false };
    const admits = (tokens: number) => {
      q.tokens = tokens;
      return examineFrom(this.cfg, this.st, this.ix, h.after, h.relax, q);
    };
    if (!admits(1)) return -Infinity; // 0 tokens need one, as 1 does
    let lo = 1;
    let hi = 2;
    while (admits(hi)) {
      lo = hi;
      hi *= 2;
      if (hi > 2 ** 50) return Infinity;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (admits(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  private fill(pos: number): LoopRequest {
    const r = this.views[pos];
    // (a read past an array's end is slow in V8: the probe covers the first few positions)
    const p = pos < this.probe.length ? this.probe[pos] : undefined;
    const q = this.q;
    q.id = r.id;
    q.tokens = r.numTokens;
    q.computed = p ? p.hit : 0;
    q.evictable = p ? p.evictable : 0;
    q.lora = r.lora;
    return q;
  }

  /**
   * The position where the loop under `relax` stops (the queue's length when it admits
   * everyone): it admits exactly the requests ahead of it. -1 when it skipped someone.
   */
  private walkEnd(relax: Relax): number {
    const { cfg, st, ix } = this;
    const n = this.views.length;
    // nothing left to stop the loop (the budget and the pool are unlimited) and nothing to skip for
    if ((relax & (SEQS | BUDGET | KV)) === (SEQS | BUDGET | KV)) return n;
    const start = loopStart(cfg, st, relax, ix);
    const s: LoopState = { running: start.running, budget: start.budget, free: start.free, loras: null };
    for (const a of st.admitted) {
      const outcome = examine(cfg, st, relax, ix.threshold, a.req, s);
      if (outcome === BREAK) return 0;
    }
    // with the budget unlimited and KV limited, past the probed requests the walk is the queue's
    // running KV need against the free blocks (QueueAllocs), and the seats left if they count
    const fast = this.allocs !== null && relax & BUDGET && !(relax & KV) ? Math.min(n, this.probe.length) : n;
    for (let pos = 0; pos < fast; pos++) {
      const outcome = examine(cfg, st, relax, ix.threshold, this.fill(pos), s);
      if (outcome === BREAK) return pos;
      if (outcome !== ADMIT) return -1;
    }
    if (fast === n) return n;
    const seats = relax & SEQS ? INF : fast + Math.max(0, cfg.maxNumSeqs - s.running);
    return Math.min(seats, this.allocs!.firstBreak(fast, n, s.free));
  }
}

/**
 * The KV blocks each waiting request would take if the waiting loop reached it with the budget
 * unlimited and no prefix hit (examine's alloc, and its full-prompt gate), as running sums over the
 * queue, kept from decision to decision as FCFS's queue changes (its head leaves, arrivals join the
 * tail): PrefixStep's walks that only KV can stop find their stop without visiting each request.
 * Entry i of the arrays is the i-th request to join since the last rebuild; queue position p is
 * entry base + p. Block counts are integers: the sums are exact.
 */
export class QueueAllocs {
  /** cum[i]: blocks of entries [0, i) */
  private cum: number[] = [0];
  /** v[i]: cum[i] plus entry i's gate (what must be free for it: its alloc, or its whole prompt) */
  private v: number[] = [];
  /** the largest v of each 32 entries */
  private vMax: number[] = [];
  private base = 0;
  private threshold = Number.NaN;
  private reserve = false;
  private valid = false;

  /**
   * Follow the queue to `views`: the last synced queue less its first `shift` entries, plus arrivals
   * (shift -1: rebuilt); `edited`: a request's tokens changed while it waited. A long-prefill cap or
   * a full-prompt gate other than last time's makes it start again from `views`.
   */
  sync(cfg: LimitsConfig, views: readonly RequestView[], shift: number, threshold: number, edited: boolean): void {
    const n = views.length;
    const count = this.v.length - this.base;
    if (!this.valid || edited || shift < 0 || shift > count || count - shift > n || threshold !== this.threshold || cfg.reserveFullIsl !== this.reserve || this.base > 1 << 16) {
      this.cum = [0];
      this.v = [];
      this.vMax = [];
      this.base = 0;
      this.threshold = threshold;
      this.reserve = cfg.reserveFullIsl;
      this.valid = true;
      for (let i = 0; i < n; i++) this.append(cfg, views[i].numTokens);
      return;
    }
    this.base += shift;
    for (let i = count - shift; i < n; i++) this.append(cfg, views[i].numTokens);
  }

  invalidate(): void {
    this.valid = false;
  }

  private append(cfg: LimitsConfig, tokens: number): void {
    const i = this.v.length;
    const bs = cfg.blockSize;
    const chunk = Math.min(Math.max(1, tokens), this.threshold);
    const alloc = Math.max(0, Math.ceil(chunk / bs));
    const gate = this.reserve ? Math.max(alloc, Math.ceil(Math.min(tokens, cfg.maxModelLen) / bs)) : alloc;
    const before = this.cum[i];
    this.cum.push(before + alloc);
    const v = before + gate;
    this.v.push(v);
    const b = i >> 5;
    if (b === this.vMax.length) this.vMax.push(v);
    else if (v > this.vMax[b]) this.vMax[b] = v;
  }

  /**
   * The first position p ≥ from (below n) whose request does not fit in what is left of `free`
   * blocks once those from `from` to p - 1 were admitted; n when every one fits.
   */
  firstBreak(from: number, n: number, free: number): number {
    const base = this.base;
    const x = free + this.cum[base + from];
    const end = base + n;
    const v = this.v;
    let i = base + from;
    while (i < end) {
      if ((i & 31) === 0 && i + 32 <= end && this.vMax[i >> 5] <= x) {
        i += 32;
        continue;
      }
      if (v[i] > x) return i - base;
      i++;
    }
    return n;
  }
}
