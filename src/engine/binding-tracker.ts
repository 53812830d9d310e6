import type { HeaderRecord, SkipCause, StepRecord } from "../schema/raw.js";
import { StateHistory } from "./state-history.js";
import type { PerIterationRequestRow, PerRequestRow } from "../schema/tables.js";
import { PrefixStep, QueueAllocs, type ProbeHit } from "./binding-carry.js";
import { BIND_BUCKETS, bindingSets, bucketOf, formatSets, type BindBucket, type Limit, type LimitsConfig, type LoopRequest, type StepInput } from "./binding-limits.js";
import { relaxationsFor, stepIndex } from "./binding-loop.js";
import { answerOf } from "./binding-plain-step.js";
import { LAZY_FROM, type DecisionView, type RequestView, type RowSink } from "./types.js";

const BUCKET_INDEX = new Map<BindBucket, number>(BIND_BUCKETS.map((b, i) => [b, i]));
const NONE_BUCKET = BUCKET_INDEX.get("none")!;
/** per_request's bind_<bucket>_ns column names, built once (not a template string per request) */
const BIND_KEYS = BIND_BUCKETS.map((b) => `bind_${b}_ns`);
/** bindingSets shares one array per distinct answer, so each array's bucket is found once */
const bucketOfSets = new WeakMap<readonly (readonly Limit[])[], number>();
function bucketIndex(found: Limit[][] | null): number {
  if (found === null) return NONE_BUCKET;
  let b = bucketOfSets.get(found);
  if (b === undefined) bucketOfSets.set(found, (b = BUCKET_INDEX.get(bucketOf(found))!));
  return b;
}

/** The admitted requests' views: vLLM appends them to the running list, so look from its end. */
function admittedById(v: DecisionView): Map<string, RequestView> {
  const m = new Map<string, RequestView>();
  if (v.admitted.size === 0) return m;
  for (let i = v.running.length - 1; i >= 0 && m.size < v.admitted.size; i--) {
    const r = v.running[i];
    if (v.admitted.has(r.id) && !m.has(r.id)) m.set(r.id, r);
  }
  return m;
}
const ARRIVED = 0;

/**
 * step.probe's hits by queue position: the probe names the first few waiting requests, so the
 * queue is searched from its head until every probed id is found (the whole queue only when one
 * is missing from it).
 */
function probeByPosition(v: DecisionView): (ProbeHit | undefined)[] {
  const probe = v.step.probe;
  if (!probe?.length) return [];
  const byId = new Map(probe.map(([id, hit, evictable]) => [id, { hit, evictable }]));
  const out: (ProbeHit | undefined)[] = [];
  let left = byId.size;
  for (let i = 0; i < v.waiting.length && left > 0; i++) {
    const p = byId.get(v.waiting[i].id);
    if (p) {
      out[i] = p;
      left--;
    }
  }
  return out;
}
/** skip causes the replay models itself; any other skip keeps the request out whatever the limits */
const MODELLED_SKIPS = new Set<SkipCause>(["lora_slots", "prompt_exceeds_budget"]);

/** vLLM versions that check the whole prompt fits in KV before admitting (scheduler_reserve_full_isl on by default). */
export function reservesFullPrompt(vllmVersion: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(vllmVersion);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 0 || min >= 32; // checked: 0.32 and 0.33 on; 0.11 has no such check
}

export function limitsConfig(header: HeaderRecord): LimitsConfig {
  const c = header.config;
  const v = /^(\d+)\.(\d+)/.exec(header.vllm_version);
  return {
    maxNumSeqs: c.max_num_seqs,
    maxNumBatchedTokens: c.max_num_batched_tokens,
    blockSize: Math.max(1, c.block_size),
    maxModelLen: c.max_model_len,
    chunkedPrefill: c.enable_chunked_prefill,
    longPrefillThreshold: c.long_prefill_token_threshold,
    maxLoras: c.max_loras,
    reserveFullIsl: reservesFullPrompt(header.vllm_version),
    skipOversizedPrompt: v !== null && Number(v[1]) === 0 && Number(v[2]) <= 11,
  };
}

class BindClock {
  readonly acc = new Float64Array(BIND_BUCKETS.length);
  bucket = -1; // -1: not waiting
  since = 0;
  /** its queue position at the last decision (the next one finds it there, shifted) */
  pos = -1;
  /** its request finished: the clock left the map */
  done = false;
  /** its answer at the last decision: the okBits of a PrefixStep (answerOf), or bindingSets' sets when bits is -1 */
  bits = -1;
  sets: Limit[][] | null = null;
  /** the run it belongs to (lazy carry): then bucket, since and bits are the run's, settled when it leaves */
  run: BindRun | null = null;
  /** the run's segment it joined in, and the start of its open segment then */
  joinSeg = 0;
  joinT = 0;
}

const W = BIND_BUCKETS.length;
/** a run's history is cut (its members settled, the run begun again) past this many segments */
const MAX_SEGMENTS = 1024;

/**
 * A stretch of the waiting queue whose requests all have the same okBits, so the same bucket at
 * every decision (BindingTracker.lazyCarry). The run keeps one bucket history for all of them
 * (StateHistory). A member's clock is settled (the spans it spent in the run added to its own)
 * only when it leaves; while it stays, a decision costs it nothing.
 */
class BindRun {
  bits = -1;
  readonly history = new StateHistory(W, -1);
  members = 0;
  /** the token counts of its members (of all that joined since it was last empty: a superset) */
  minTokens = Infinity;
  maxTokens = -Infinity;
  /** its history is long: every member leaves at the next decision (and joins again) */
  cut = false;

  /** the bucket of the open segment */
  get bucket(): number {
    return this.history.state;
  }

  /** From D on the run's okBits are `bits` (bucket `bucket`): a new segment when the bucket changes. */
  moveTo(bits: number, bucket: number, D: number): void {
    this.bits = bits;
    if (this.members === 0) {
      this.history.restart(bucket, D);
      this.cut = false;
      return;
    }
    this.history.change(bucket, D);
    if (this.history.segments > MAX_SEGMENTS) this.cut = true;
  }

  join(c: BindClock, tokens: number): void {
    c.run = this;
    c.joinSeg = this.history.openSegment;
    c.joinT = c.since;
    this.members++;
    if (tokens < this.minTokens) this.minTokens = tokens;
    if (tokens > this.maxTokens) this.maxTokens = tokens;
  }

  /** The member's clock as the eager carry would have it now: its spans in the run added, the open segment the run's. */
  settle(c: BindClock): void {
    c.since = this.history.addSpans(c.acc, c.joinSeg, c.joinT);
    c.bucket = this.bucket;
    c.bits = this.bits;
    c.run = null;
    if (--this.members === 0) {
      this.minTokens = Infinity;
      this.maxTokens = -Infinity;
    }
  }
}

/** The minimal sets of every waiting position, from a step's inputs (bindingSets, or a reference in tests). */
export type SetsFor = (cfg: LimitsConfig, st: StepInput) => (Limit[][] | null)[];

/** What the tracker did, per decision (tests check the carried path is the one exercised). */
export interface CarryStats {
  /** decisions answered by a PrefixStep, and by bindingSets */
  prefixSteps: number;
  generalSteps: number;
  /** of the PrefixStep decisions, those carried by runs (lazyCarry) */
  lazySteps: number;
  /** waiting requests whose answer a PrefixStep decision carried over unchanged, and those it changed or set */
  carried: number;
  changed: number;
}

const NO_LORAS: ReadonlySet<number> = new Set();

/**
 * Feeds the estimator from the engine's decisions and fills the binding columns on the way
 * to the sink: per_iteration_requests.binding_limits and per_request.bind_<bucket>_ns.
 * State: one clock per waiting request, which also carries its answer from decision to
 * decision, the previous step record, the current step's queue (labels formatted when a row asks).
 *
 * Most decisions are prefix-shaped (binding-carry.ts): the answer of every waiting request is a
 * few integer compares of its position and tokens against the step's stop positions, and a
 * request whose okBits did not change keeps its answer, its bucket and its open clock segment
 * untouched. The others (victims, reordering, LoRA slots, skips) ask bindingSets for every
 * position, as the reference does.
 */
export class BindingTracker {
  private cfg: LimitsConfig;
  private readonly full: boolean;
  private readonly clocks = new Map<string, BindClock>();
  /** the current step's waiting queue; each position's answer is on its clock (prevClocks) */
  private labelStep = -1;
  private labelDistinct = true;
  /** the previous step record: its sched (victims' need) and probe (admitted requests' evictable hits) */
  private prevStep: StepRecord | null = null;
  /** FCFS: the waiting queue after the previous step, the order this step's loop examines */
  private prevOrder: readonly RequestView[] = [];
  private readonly fcfs: boolean;
  /** the LoopRequest of each waiting position, reused from step to step (bindingSets keeps none) */
  private readonly pool: LoopRequest[] = [];
  /** the last decision's waiting queue and each position's clock */
  private prevViews: readonly RequestView[] = [];
  /** position i's clock is prevClocks[prevBase + i] (lazyCarry moves the base as the head leaves, not the clocks) */
  private prevClocks: BindClock[] = [];
  private prevBase = 0;
  private spareClocks: BindClock[] = [];
  private readonly setsFor: SetsFor | null;
  /**
   * each okBits' label, formatted once: a lookup of the relaxations and one of the sets' text per waiting
   * row were a tenth of its cost. Allocated whole: an array first written at a high index (okBits of
   * 16 relaxations) turns into a hash table in V8, a hash lookup per waiting row.
   */
  private readonly labelByBits: (string | undefined)[] = new Array<string | undefined>(LABEL_CACHE).fill(undefined);
  /** each okBits' bucket, found once (PrefixStep's steps have 16 relaxations: no LoRA slots) */
  private readonly bucketByBits = new Int8Array(1 << 16).fill(-1);
  readonly stats: CarryStats = { prefixSteps: 0, generalSteps: 0, lazySteps: 0, carried: 0, changed: 0 };
  readonly sink: RowSink;
  /** the runs of the last lazy decision, one per stretch between the walks' stops (runStart[r]: its first position then) */
  private runs: BindRun[] = [];
  private runStart: number[] = [];
  /** lazyCarry's scratch: each run's token range with this decision's joiners */
  private readonly runLo: number[] = [];
  private readonly runHi: number[] = [];
  /** every waiting position of the last decision from runStart[0] on is a member of its stretch's run */
  private lazyValid = false;
  private lastD = -Infinity;
  private lastTokenEdits = -1;
  /** queues of at least this many waiting requests are carried by runs (a short one costs less visited than followed) */
  private readonly lazyFrom: number;
  /** the waiting queue's KV needs, followed from decision to decision (PrefixStep's KV-bound walks) */
  private readonly allocs = new QueueAllocs();

  /**
   * `setsFor`: answer every decision with it (no PrefixStep); the differential tests pass the reference.
   * `lazyFrom`: the shortest waiting queue carried by runs (lazyCarry, QueueAllocs); Infinity: every waiting
   * request's answer carried at every decision (the differential tests' other side), 0: runs at every length.
   */
  constructor(header: HeaderRecord, inner: RowSink, setsFor: SetsFor | null = null, lazyFrom = LAZY_FROM) {
    this.lazyFrom = lazyFrom;
    this.cfg = limitsConfig(header);
    this.full = header.level === "full";
    this.fcfs = header.config.policy.toLowerCase() !== "priority";
    this.setsFor = setsFor;
    this.sink = {
      perRequest: (row) => inner.perRequest(this.fillRequest(row)),
      perIteration: (row) => inner.perIteration(row),
      perIterationRequest: (row) => inner.perIterationRequest(this.fillIterationRequest(row)),
      event: (row) => inner.event(row),
      stateTransition: (row) => inner.stateTransition(row),
      prediction: (row) => inner.prediction(row),
      finding: (f) => inner.finding(f),
    };
    // the columnar path: lanes go through; their waiting rows ask for their label as they are written
    const lanes = inner.perIterationRequestLanes;
    if (lanes) {
      this.sink.perIterationRequestLanes = lanes.bind(inner);
      this.sink.waitingLabel = (id, step, pos) => (step === this.labelStep ? this.labelOf(id, pos) : null);
    }
    // events carry no binding limits: their lanes go through as they are
    if (inner.eventLanes) this.sink.eventLanes = inner.eventLanes.bind(inner);
  }

  onDecision(v: DecisionView): void {
    const s = v.step;
    const D = v.decisionT;
    this.labelStep = s.step;
    this.labelDistinct = v.distinct;
    const st = this.stepBase(v);
    const edits = v.waitingTokenEdits ?? -1;
    const edited = edits < 0 || edits !== this.lastTokenEdits;
    this.lastTokenEdits = edits;
    const prefix = this.prefixShaped(v) ? this.prefixStep(v, st, edited) : null;
    if (!prefix) this.allocs.invalidate();
    const canLazy = prefix !== null && v.waiting.length >= this.lazyFrom && (v.queueShift ?? -1) >= 0 && D >= this.lastD && !edited;
    this.lastD = D;
    if (!canLazy) this.settleAll();
    if (prefix) {
      for (const id of v.admitted) this.close(id, D);
      if (!canLazy || !this.lazyCarry(v.waiting, prefix, D, v.queueShift!)) this.carryAll(v.waiting, prefix, D);
      this.stats.prefixSteps++;
    } else {
      this.fillWaiting(v, st);
      const sets = (this.setsFor ?? bindingSets)(this.cfg, st);
      for (const id of v.admitted) this.close(id, D);
      this.switchAll(v.waiting, sets, D);
      this.stats.generalSteps++;
    }
    this.prevStep = s;
    if (this.fcfs) this.prevOrder = v.waiting;
  }

  /** No victims, no reordering, every id once, nothing that can be skipped (PrefixStep's step). */
  private prefixShaped(v: DecisionView): boolean {
    const c = this.cfg;
    return this.setsFor === null && v.distinct && v.preempted.size === 0 && !v.step.skipped?.length && c.maxLoras === null && (c.chunkedPrefill || !c.skipOversizedPrompt);
  }

  private prefixStep(v: DecisionView, st: StepInput, edited: boolean): PrefixStep | null {
    const order = relaxationsFor(this.cfg);
    const ix = stepIndex(this.cfg, st);
    let allocs: QueueAllocs | null = null;
    if (v.waiting.length >= this.lazyFrom) {
      this.allocs.sync(this.cfg, v.waiting, v.queueShift ?? -1, ix.threshold, edited);
      allocs = this.allocs;
    } else this.allocs.invalidate();
    return PrefixStep.build(this.cfg, st, ix, order, v.waiting, probeByPosition(v), allocs);
  }

  /** The step's inputs without the waiting queue (PrefixStep reads that from the views). */
  private stepBase(v: DecisionView): StepInput {
    const s: StepRecord = v.step;
    const bs = this.cfg.blockSize;
    const prevProbe = this.prevStep?.probe?.length ? new Map(this.prevStep.probe.map(([id, , evictable]) => [id, evictable])) : null;
    const admittedViews = admittedById(v);
    const admitted: StepInput["admitted"] = [];
    if (admittedViews.size > 0) {
      // the engine resolved sched's ids already: an identity check, not a hash of each fresh id string
      const views = new Set(admittedViews.values());
      // only the entries the engine saw admitted can be among `views` (the others need no look)
      const places = v.scheduledAdmitted;
      const count = places ? places.length : s.sched.length;
      for (let k = 0; k < count; k++) {
        const i = places ? places[k] : k;
        const [id, n] = s.sched[i];
        const found = v.scheduled[i];
        const r = found !== undefined && views.has(found) ? found : undefined;
        if (!r) continue;
        const computed = Math.max(0, r.computed - n);
        // blocks it took from the free pool: new ones, plus prefix-hit blocks that were free
        // (known from the previous step's probe); r.blocks also counts hits shared with others
        const hit = prevProbe?.get(id) ?? 0;
        const fresh = Math.ceil((computed + n) / bs) - Math.floor(computed / bs);
        const blocks = computed > 0 ? fresh + hit : this.full ? r.blocks : fresh;
        const evictable = computed > 0 ? hit : 0; // the replay takes the same blocks again
        admitted.push({ req: { id, tokens: r.numTokens, computed, evictable, lora: r.lora, blockedOther: false }, tokens: n, blocks });
      }
    }
    if (this.cfg.reserveFullIsl) this.checkFullPromptGate(s, admitted);
    return {
      admitted,
      waiting: [],
      victims: [],
      running: s.running,
      runningLoras: NO_LORAS,
      budgetLeft: s.budget_left,
      freeBlocks: s.free_blocks,
      eligible: s.running + v.waiting.length,
      distinct: v.distinct,
    };
  }

  /** bindingSets' inputs beyond stepBase: the waiting queue, victims, running LoRAs, the loop order. */
  private fillWaiting(v: DecisionView, st: StepInput): void {
    const s = v.step;
    const skipped = s.skipped?.length ? new Map<string, SkipCause>(s.skipped) : null;
    // the prefix-cache hit a waiting request would get: recorded for the first few (step.probe,
    // VLLM_SCHEDULER_LOG_WAITING_PROBE); otherwise unknown and taken as none
    const probe = s.probe?.length ? new Map(s.probe.map(([id, hit, evictable]) => [id, { hit, evictable }])) : null;
    const waiting = this.waitingInput(v.waiting, skipped, probe);
    st.waiting = waiting;
    if (v.preempted.size > 0) {
      const prevComputed = new Map((this.prevStep?.sched ?? []).map(([id, n, before]) => [id, before + n]));
      st.victims = waiting.filter((q) => v.preempted.has(q.id)).map((q) => ({ req: q, need: Math.max(1, q.tokens - (prevComputed.get(q.id) ?? q.tokens - 1)) }));
    }
    const runningLoras = new Set<number>();
    for (const r of v.running) if (r.lora !== null && r.lora > 0 && !v.admitted.has(r.id)) runningLoras.add(r.lora);
    st.runningLoras = runningLoras;
    if (this.fcfs && s.skipped && s.skipped.length > 0) {
      // skipped requests went back to the head: examine in the previous queue order, arrivals after
      const here = new Set([...st.admitted.map((a) => a.req.id), ...waiting.map((q) => q.id)]);
      st.order = this.prevOrder.map((r) => r.id).filter((id) => here.has(id) && !v.preempted.has(id));
    }
  }

  /** The waiting queue as the loop sees it, in pooled objects (a new array: the pool outlives it). */
  private waitingInput(views: readonly RequestView[], skipped: Map<string, SkipCause> | null, probe: Map<string, { hit: number; evictable: number }> | null): LoopRequest[] {
    const out: LoopRequest[] = new Array(views.length);
    for (let i = 0; i < views.length; i++) {
      const r = views[i];
      let q = this.pool[i];
      if (!q) this.pool.push((q = { id: "", tokens: 0, computed: 0, evictable: 0, lora: null, blockedOther: false }));
      const skip = skipped?.get(r.id);
      const p = probe?.get(r.id);
      q.id = r.id;
      q.tokens = r.numTokens;
      q.computed = p ? p.hit : 0;
      q.evictable = p ? p.evictable : 0;
      q.lora = r.lora;
      q.blockedOther = skip !== undefined && !MODELLED_SKIPS.has(skip);
      out[i] = q;
    }
    return out;
  }

  /**
   * The header does not say whether scheduler_reserve_full_isl was on; the version's default is
   * assumed until an admission shows otherwise: a request admitted while its whole prompt did
   * not fit in the free blocks. From then on the replay checks the first chunk only.
   */
  private checkFullPromptGate(s: StepRecord, admitted: StepInput["admitted"]): void {
    if (s.preempted.length > 0) return;
    const bs = this.cfg.blockSize;
    let free = s.free_blocks + admitted.reduce((n, a) => n + a.blocks, 0);
    for (const a of admitted) {
      const held = Math.floor(a.req.computed / bs) - (a.req.evictable ?? 0);
      const whole = Math.ceil(Math.min(a.req.tokens, this.cfg.maxModelLen) / bs) - held;
      if (whole > free) {
        this.cfg = { ...this.cfg, reserveFullIsl: false };
        return;
      }
      free -= a.blocks;
    }
  }

  /**
   * Each waiting request's clock to this decision's answer. Most of a queue sits where it sat
   * at the last decision, moved up by the requests that left its head, so a request's clock
   * is looked for at its old position shifted by that much before the map is asked.
   */
  private clockAt(i: number, r: RequestView, shift: number): BindClock | undefined {
    const j = i + shift;
    const c = j < this.prevViews.length && this.prevViews[j] === r ? this.prevClocks[this.prevBase + j] : undefined;
    return c === undefined || c.done ? this.clocks.get(r.id) : c;
  }

  /** bindingSets' answers: every position's clock takes its answer (switchTo keeps an unchanged bucket). */
  private switchAll(waiting: readonly RequestView[], sets: readonly (Limit[][] | null)[], D: number): void {
    const clocks = this.spareClocks;
    clocks.length = waiting.length;
    let shift = 0;
    for (let i = 0; i < waiting.length; i++) {
      const r = waiting[i];
      let c = this.clockAt(i, r, shift);
      if (c && c.pos >= 0) shift = c.pos - i;
      c = this.switchTo(c, r.id, r.waitStart, D, bucketIndex(sets[i]));
      c.sets = sets[i];
      c.bits = -1;
      c.pos = i;
      clocks[i] = c;
    }
    this.turnOver(waiting, clocks);
  }

  /**
   * A PrefixStep's answers: a request whose okBits are those of its last decision keeps its
   * answer and its open segment; only the others are looked up and switched.
   */
  private carryAll(waiting: readonly RequestView[], step: PrefixStep, D: number): void {
    const order = relaxationsFor(this.cfg);
    const clocks = this.spareClocks;
    clocks.length = waiting.length;
    let shift = 0;
    let carried = 0;
    for (let i = 0; i < waiting.length; i++) {
      const r = waiting[i];
      let c = this.clockAt(i, r, shift);
      if (c && c.pos >= 0) shift = c.pos - i;
      const bits = step.bitsAt(i);
      if (c !== undefined && c.bucket >= 0 && c.bits === bits) {
        carried++;
      } else {
        // a step-wide change (seats left or not) changes many answers but few buckets
        let bucket = this.bucketByBits[bits];
        if (bucket < 0) bucket = this.bucketByBits[bits] = bucketIndex(answerOf(order, bits));
        if (c === undefined || c.bucket !== bucket) c = this.switchTo(c, r.id, r.waitStart, D, bucket);
        c.bits = bits;
      }
      c.pos = i;
      clocks[i] = c;
    }
    this.stats.carried += carried;
    this.stats.changed += waiting.length - carried;
    this.turnOver(waiting, clocks);
  }

  /** Every member's clock settled and the runs emptied: the eager paths see each request's own clock. */
  private settleAll(): void {
    if (!this.lazyValid) return;
    this.lazyValid = false;
    const clocks = this.prevClocks;
    const base = this.prevBase;
    for (let i = base; i < clocks.length; i++) {
      const c = clocks[i] as BindClock | undefined;
      if (c === undefined) continue;
      if (c.run) c.run.settle(c);
      c.pos = i - base;
    }
  }

  /**
   * carryAll's answers in time proportional to what changed, for FCFS's usual step (the queue
   * is the last one less its first `shift` entries, plus arrivals; no waiting request's tokens
   * changed). Past the head (position 0 and the probed ones, asked one by one) a PrefixStep's
   * okBits are the same for every plain request between two of its walks' stops that falls
   * under the same head_only bound, so each such stretch is a run (BindRun): its members' clocks
   * follow the run's bucket without being visited. A decision visits the head, the requests
   * whose stretch changed (a stop moved past them, or they moved past the head's end) and the
   * arrivals. False, with every clock settled, where a stretch is not one answer (a LoRA
   * request, requests on both sides of a head_only bound): carryAll answers that decision.
   */
  private lazyCarry(waiting: readonly RequestView[], step: PrefixStep, D: number, shift: number): boolean {
    const n = waiting.length;
    const prev = this.prevClocks;
    const kept = this.prevViews.length - shift;
    if (kept < 0 || kept > n) {
      this.settleAll();
      return false;
    }
    const head = Math.min(n, Math.max(1, step.probed));
    const stops = step.stops;
    const R = stops.length + 1;
    while (this.runs.length < R) this.runs.push(new BindRun());
    const runs = this.runs;
    // this decision's stretches: run r holds positions [start[r], start[r + 1]), start[R] = n
    const start = new Array<number>(R + 1);
    start[0] = head;
    for (let r = 1; r < R; r++) start[r] = Math.min(n, Math.max(head, stops[r - 1]));
    start[R] = n;
    // the last decision's clocks, less the head that left (its queue, less its head, is this
    // one's first `kept`): the base moves on, the clocks stay where they are until the array is
    // mostly spent; an arrival not seen before has none yet (undefined until it joins)
    let base = this.prevBase + shift;
    if (base > 1 << 10 && base * 2 > prev.length) {
      prev.splice(0, base);
      base = 0;
    }
    prev.length = base + kept;
    for (let i = kept; i < n; i++) prev.push(this.clocks.get(waiting[i].id)!);
    this.prevBase = base;
    const at = prev as (BindClock | undefined)[];
    // the positions whose run may differ from the last decision's: between each stretch's old
    // bounds (shifted) and its new ones (the arrivals: the old end to the new), and the whole of a run being cut
    const spans: number[] = [];
    if (this.lazyValid) {
      const old = this.runStart;
      const oldAt = (r: number) => (r < old.length ? Math.max(0, Math.min(kept, old[r] - shift)) : kept);
      const M = Math.max(R, old.length);
      for (let r = 0; r <= M; r++) {
        const a = oldAt(r);
        const b = r < R ? start[r] : n;
        if (a !== b) spans.push(Math.min(a, b), Math.max(a, b));
        if (r < old.length && r < runs.length && runs[r].cut) spans.push(a, oldAt(r + 1));
      }
    } else spans.push(0, n);
    // leave: members whose run is not their stretch's now (settled as of the last decision);
    // the spans in position order, each position visited once (p only moves on)
    const joinAt: number[] = [];
    const joinRun: number[] = [];
    let r = 0;
    let p = 0;
    sortSpans(spans);
    for (let x = 0; x < spans.length; x += 2) {
      for (p = Math.max(p, spans[x]); p < spans[x + 1]; p++) {
        while (r < R && start[r + 1] <= p) r++;
        const want = p < head ? null : runs[r];
        const c = at[base + p];
        if (c !== undefined) {
          if (c.run !== null && (c.run !== want || c.run.cut)) c.run.settle(c);
          if (c.run !== null) continue;
        }
        if (want !== null) {
          joinAt.push(p);
          joinRun.push(r);
        }
      }
    }
    for (const run of runs) run.cut = false;
    // each run's token range with its joiners: one head_only answer for the whole stretch, or no run this decision
    const lo = this.runLo;
    const hi = this.runHi;
    for (let k = 0; k < R; k++) {
      lo[k] = runs[k].minTokens;
      hi[k] = runs[k].maxTokens;
    }
    for (let k = 0; k < joinAt.length; k++) {
      const r = waiting[joinAt[k]];
      if (r.lora !== null && r.lora > 0) return this.abandonLazy(waiting);
      const t = r.numTokens;
      const j = joinRun[k];
      if (t < lo[j]) lo[j] = t;
      if (t > hi[j]) hi[j] = t;
    }
    const order = relaxationsFor(this.cfg);
    let carried = 0;
    let changed = 0;
    for (let r = 0; r < R; r++) {
      if (lo[r] > hi[r]) continue; // no member, no joiner
      const headBits = step.plainHeadBitsFor(lo[r], hi[r]);
      if (headBits < 0) return this.abandonLazy(waiting);
      const bits = step.walkBitsFrom(r) | headBits;
      const run = runs[r];
      if (run.bits === bits) carried += run.members;
      else changed += run.members;
      let bucket = this.bucketByBits[bits];
      if (bucket < 0) bucket = this.bucketByBits[bits] = bucketIndex(answerOf(order, bits));
      run.moveTo(bits, bucket, D);
    }
    // join: each clock first brought to D as carryAll would (its bucket switched if the run's differs)
    for (let k = 0; k < joinAt.length; k++) {
      const p = joinAt[k];
      const r = waiting[p];
      const run = runs[joinRun[k]];
      const c = this.switchTo(at[base + p], r.id, r.waitStart, D, run.bucket);
      c.bits = run.bits;
      c.pos = p;
      run.join(c, r.numTokens);
      at[base + p] = c;
    }
    changed += joinAt.length;
    // the head, one by one
    for (let i = 0; i < head; i++) {
      const r = waiting[i];
      let c = at[base + i];
      const bits = step.bitsAt(i);
      if (c !== undefined && c.bucket >= 0 && c.bits === bits) carried++;
      else {
        let bucket = this.bucketByBits[bits];
        if (bucket < 0) bucket = this.bucketByBits[bits] = bucketIndex(answerOf(order, bits));
        if (c === undefined || c.bucket !== bucket) c = this.switchTo(c, r.id, r.waitStart, D, bucket);
        c.bits = bits;
        changed++;
      }
      c.pos = i;
      at[base + i] = c;
    }
    this.stats.carried += carried;
    this.stats.changed += changed;
    this.stats.lazySteps++;
    this.runStart = start.slice(0, R);
    this.lazyValid = true;
    // the same array as the last decision's (spareClocks stays the other one)
    this.prevViews = waiting;
    return true;
  }

  /** lazyCarry gives up on this decision: the clocks of the last one, settled, for carryAll. */
  private abandonLazy(waiting: readonly RequestView[]): false {
    // the clocks were shifted to this queue: carryAll finds them there (or in the map, where undefined)
    this.prevViews = waiting;
    this.settleAll();
    for (const run of this.runs) run.cut = false;
    return false;
  }

  private turnOver(waiting: readonly RequestView[], clocks: BindClock[]): void {
    this.prevViews = waiting;
    this.spareClocks = this.prevClocks;
    this.prevClocks = clocks;
    this.prevBase = 0;
  }

  private switchTo(found: BindClock | undefined, id: string, waitStart: number, D: number, bucket: number): BindClock {
    let c = found;
    if (!c) {
      c = new BindClock();
      this.clocks.set(id, c);
      c.acc[ARRIVED] += Math.max(0, D - waitStart);
    } else if (c.bucket < 0) {
      c.since = D; // waiting again after a preemption at this decision
    } else if (c.bucket !== bucket) {
      c.acc[c.bucket] += Math.max(0, D - c.since);
    } else {
      return c;
    }
    c.bucket = bucket;
    c.since = D;
    return c;
  }

  private close(id: string, D: number): void {
    const c = this.clocks.get(id);
    if (c?.run) c.run.settle(c);
    if (!c || c.bucket < 0) return;
    c.acc[c.bucket] += Math.max(0, D - c.since);
    c.bucket = -1;
  }

  /** binding_limits of a row object (the columnar path asks waitingLabel as it writes a waiting row: the same answer) */
  private fillIterationRequest(row: PerIterationRequestRow): PerIterationRequestRow {
    const waiting = row.state === "waiting" || row.state === "preempted";
    row.binding_limits = waiting && row.iteration_id === this.labelStep ? this.labelOf(row.request_id, row.queue_position) : null;
    return row;
  }

  /**
   * The label of a request waiting at this step; its row's queue_position finds it without a
   * map. An id queued twice (a malformed trace) takes its last entry's label, as one map did.
   */
  private labelOf(id: string, pos: number | null): string | null {
    const ids = this.prevViews;
    let i = this.labelDistinct && pos !== null && ids[pos]?.id === id ? pos : -1;
    for (let k = ids.length - 1; i < 0 && k >= 0; k--) if (ids[k].id === id) i = k;
    if (i < 0) return null;
    const c = this.prevClocks[this.prevBase + i];
    const bits = c.run ? c.run.bits : c.bits;
    if (bits >= 0 && bits < LABEL_CACHE) return (this.labelByBits[bits] ??= labelText(answerOf(relaxationsFor(this.cfg), bits)));
    return labelText(bits >= 0 ? answerOf(relaxationsFor(this.cfg), bits) : c.sets);
  }

  /** The open segment (or the whole wait of a request never seen at a decision) takes the rest, so the columns sum to waiting_time. */
  private fillRequest(row: PerRequestRow): PerRequestRow {
    const c = this.clocks.get(row.request_id);
    this.clocks.delete(row.request_id);
    if (c?.run) c.run.settle(c);
    if (c) c.done = true;
    const acc = c ? c.acc : new Float64Array(BIND_BUCKETS.length);
    let sum = 0;
    for (const x of acc) sum += x;
    const rest = row.waiting_time - sum;
    if (rest !== 0) acc[c && c.bucket >= 0 ? c.bucket : c ? lastBucket(acc) : ARRIVED] += rest;
    const out = row as Record<string, unknown>;
    for (let i = 0; i < BIND_KEYS.length; i++) out[BIND_KEYS[i]] = acc[i];
    return row;
  }
}

/** okBits below this have their label kept (labelByBits): 16 relaxations, no LoRA slots */
const LABEL_CACHE = 1 << 16;
const labelText = (found: readonly (readonly Limit[])[] | null): string => (found === null ? "unresolved" : formatSets(found));

/** [start, end) pairs (flat, a few) sorted by start in place: visited in order, a position already passed is skipped. */
function sortSpans(flat: number[]): void {
  for (let i = 2; i < flat.length; i += 2) {
    const a = flat[i];
    const b = flat[i + 1];
    let j = i - 2;
    for (; j >= 0 && flat[j] > a; j -= 2) {
      flat[j + 2] = flat[j];
      flat[j + 3] = flat[j + 1];
    }
    flat[j + 2] = a;
    flat[j + 3] = b;
  }
}

function lastBucket(acc: Float64Array): number {
  let best = ARRIVED;
  for (let i = 0; i < acc.length; i++) if (acc[i] > 0) best = i;
  return best;
}
