import type { HeaderRecord, SkipCause, StepRecord } from "../schema/raw.js";
import type { PerIterationRequestRow, PerRequestRow } from "../schema/tables.js";
import { BIND_BUCKETS, bindingSets, bucketOf, formatSets, type BindBucket, type LimitsConfig, type LoopRequest, type StepInput } from "./binding-limits.js";
import type { DecisionView, RowSink } from "./types.js";

const BUCKET_INDEX = new Map<BindBucket, number>(BIND_BUCKETS.map((b, i) => [b, i]));
const ARRIVED = 0;
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
}

/**
 * Feeds the estimator from the engine's decisions and fills the binding columns on the way
 * to the sink: per_iteration_requests.binding_limits and per_request.bind_<bucket>_ns.
 * State: one clock per waiting request, the labels of the current step, the tokens computed
 * as of the previous step (bounded by the batch).
 */
export class BindingTracker {
  private cfg: LimitsConfig;
  private readonly full: boolean;
  private readonly clocks = new Map<string, BindClock>();
  private labels = new Map<string, string>();
  private labelStep = -1;
  private prevComputed = new Map<string, number>();
  private prevProbe = new Map<string, number>();
  /** FCFS: the waiting queue after the previous step, the order this step's loop examines */
  private prevOrder: string[] = [];
  private readonly fcfs: boolean;
  readonly sink: RowSink;

  constructor(header: HeaderRecord, inner: RowSink) {
    this.cfg = limitsConfig(header);
    this.full = header.level === "full";
    this.fcfs = header.config.policy.toLowerCase() !== "priority";
    this.sink = {
      perRequest: (row) => inner.perRequest(this.fillRequest(row)),
      perIteration: (row) => inner.perIteration(row),
      perIterationRequest: (row) => inner.perIterationRequest(this.fillIterationRequest(row)),
      event: (row) => inner.event(row),
      stateTransition: (row) => inner.stateTransition(row),
      prediction: (row) => inner.prediction(row),
      finding: (f) => inner.finding(f),
    };
  }

  onDecision(v: DecisionView): void {
    const s = v.step;
    const D = v.decisionT;
    const st = this.stepInput(v);
    const sets = bindingSets(this.cfg, st);
    this.labels = new Map();
    this.labelStep = s.step;
    for (const id of v.admitted) this.close(id, D);
    for (let i = 0; i < v.waiting.length; i++) {
      const r = v.waiting[i];
      const found = sets[i];
      const label = found === null ? "unresolved" : formatSets(found);
      this.labels.set(r.id, label);
      this.switchTo(r.id, r.waitStart, D, found === null ? BUCKET_INDEX.get("none")! : BUCKET_INDEX.get(bucketOf(found))!);
    }
    this.prevComputed = new Map(s.sched.map(([id, n, before]) => [id, before + n]));
    this.prevProbe = new Map((s.probe ?? []).map(([id, , evictable]) => [id, evictable]));
    if (this.fcfs) this.prevOrder = v.waiting.map((r) => r.id);
  }

  private stepInput(v: DecisionView): StepInput {
    const s: StepRecord = v.step;
    const bs = this.cfg.blockSize;
    const runningById = new Map(v.running.map((r) => [r.id, r]));
    const admitted: StepInput["admitted"] = [];
    for (const [id, n] of s.sched) {
      if (!v.admitted.has(id)) continue;
      const r = runningById.get(id);
      if (!r) continue;
      const computed = Math.max(0, r.computed - n);
      // blocks it took from the free pool: new ones, plus prefix-hit blocks that were free
      // (known from the previous step's probe); r.blocks also counts hits shared with others
      const fresh = Math.ceil((computed + n) / bs) - Math.floor(computed / bs);
      const blocks = computed > 0 ? fresh + (this.prevProbe.get(id) ?? 0) : this.full ? r.blocks : fresh;
      const evictable = computed > 0 ? (this.prevProbe.get(id) ?? 0) : 0; // the replay takes the same blocks again
      admitted.push({ req: { id, tokens: r.numTokens, computed, evictable, lora: r.lora, blockedOther: false }, tokens: n, blocks });
    }
    if (this.cfg.reserveFullIsl) this.checkFullPromptGate(s, admitted);
    const skipped = new Map<string, SkipCause>(s.skipped ?? []);
    // the prefix-cache hit a waiting request would get: recorded for the first few (step.probe,
    // VLLM_SCHEDULER_LOG_WAITING_PROBE); otherwise unknown and taken as none
    const probe = new Map((s.probe ?? []).map(([id, hit, evictable]) => [id, { hit, evictable }]));
    const waiting: LoopRequest[] = v.waiting.map((r) => {
      const skip = skipped.get(r.id);
      const p = probe.get(r.id);
      return {
        id: r.id,
        tokens: r.numTokens,
        computed: p ? p.hit : 0,
        evictable: p ? p.evictable : 0,
        lora: r.lora,
        blockedOther: skip !== undefined && !MODELLED_SKIPS.has(skip),
      };
    });
    const victims = waiting
      .filter((q) => v.preempted.has(q.id))
      .map((q) => ({ req: q, need: Math.max(1, q.tokens - (this.prevComputed.get(q.id) ?? q.tokens - 1)) }));
    const runningLoras = new Set<number>();
    for (const r of v.running) if (!v.admitted.has(r.id) && r.lora !== null && r.lora > 0) runningLoras.add(r.lora);
    let order: string[] | undefined;
    if (this.fcfs && s.skipped && s.skipped.length > 0) {
      // skipped requests went back to the head: examine in the previous queue order, arrivals after
      const here = new Set([...admitted.map((a) => a.req.id), ...waiting.map((q) => q.id)]);
      order = this.prevOrder.filter((id) => here.has(id) && !v.preempted.has(id));
    }
    return {
      order,
      admitted,
      waiting,
      victims,
      running: s.running,
      runningLoras,
      budgetLeft: s.budget_left,
      freeBlocks: s.free_blocks,
      eligible: s.running + v.waiting.length,
    };
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

  private switchTo(id: string, waitStart: number, D: number, bucket: number): void {
    let c = this.clocks.get(id);
    if (!c) {
      c = new BindClock();
      this.clocks.set(id, c);
      c.acc[ARRIVED] += Math.max(0, D - waitStart);
    } else if (c.bucket < 0) {
      c.since = D; // waiting again after a preemption at this decision
    } else if (c.bucket !== bucket) {
      c.acc[c.bucket] += Math.max(0, D - c.since);
    } else {
      return;
    }
    c.bucket = bucket;
    c.since = D;
  }

  private close(id: string, D: number): void {
    const c = this.clocks.get(id);
    if (!c || c.bucket < 0) return;
    c.acc[c.bucket] += Math.max(0, D - c.since);
    c.bucket = -1;
  }

  private fillIterationRequest(row: PerIterationRequestRow): PerIterationRequestRow {
    const waiting = row.state === "waiting" || row.state === "preempted";
    row.binding_limits = waiting && row.iteration_id === this.labelStep ? (this.labels.get(row.request_id) ?? null) : null;
    return row;
  }

  /** The open segment (or the whole wait of a request never seen at a decision) takes the rest, so the columns sum to waiting_time. */
  private fillRequest(row: PerRequestRow): PerRequestRow {
    const c = this.clocks.get(row.request_id);
    this.clocks.delete(row.request_id);
    const acc = c ? c.acc : new Float64Array(BIND_BUCKETS.length);
    let sum = 0;
    for (const x of acc) sum += x;
    const rest = row.waiting_time - sum;
    if (rest !== 0) acc[c && c.bucket >= 0 ? c.bucket : c ? lastBucket(acc) : ARRIVED] += rest;
    const out = row as Record<string, unknown>;
    for (let i = 0; i < BIND_BUCKETS.length; i++) out[`bind_${BIND_BUCKETS[i]}_ns`] = acc[i];
    return row;
  }
}

function lastBucket(acc: Float64Array): number {
  let best = ARRIVED;
  for (let i = 0; i < acc.length; i++) if (acc[i] > 0) best = i;
  return best;
}
