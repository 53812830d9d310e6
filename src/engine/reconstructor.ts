import type { ArrivalRecord, ChunkRecord, FinishReason, FinishRecord, HeaderRecord, KvRecord, RawRecord, SkipCause, StepRecord, UpdateRecord } from "../schema/raw.js";
import type { EventRow, PredictionRow, StateTransitionRow } from "../schema/tables.js";
import type { WaitingReason } from "../schema/waiting.js";
import { epochFormatter, plausibleVllmArrival } from "./epoch.js";
import { FindingCollector } from "./findings.js";
import { CauseRun, perRequestRow, REASON_INDEX, RequestState, type RowContext } from "./request-state.js";
import { LAZY_FROM, type Engine, type EngineOptions, type EngineTotals, type RowSink } from "./types.js";
import { PendingIteration } from "./iteration.js";
import { GpuJoin } from "./gpu-join.js";
import { PredictionLog } from "./predictions.js";
import { ObjectRows, type IterationRows } from "./iteration-request-row.js";
import { LaneRows } from "./iteration-request-lanes.js";
import { BLOCKS_DETAILS, EventObjects, SCHEDULED_DETAILS, type EventRows } from "./event-rows.js";
import { EventLanes } from "./event-lanes.js";
import { ListLookup } from "./list-lookup.js";
import { WaitingQueue } from "./waiting-queue.js";
import { uniformReason, waitingReason, type StepFacts } from "./waiting-reason.js";

type TransitionState = StateTransitionRow["to_state"];
const STREAMING_INPUT = REASON_INDEX.get("streaming_input")!;
const KV_EVENT_TYPES = {
  load_start: "kv_load_started",
  load_end: "kv_load_finished",
  load_failed: "kv_load_failed",
  store_start: "kv_store_started",
  store_end: "kv_store_finished",
  transfer_start: "kv_transfer_started",
  transfer_end: "kv_transfer_finished",
} as const satisfies Record<KvRecord["event"], EventRow["event_type"]>;
const ARRIVED_AFTER_DECISION = REASON_INDEX.get("arrived_after_decision")!;

/** What one step record's handling steps hand each other. */
interface StepScratch {
  s: StepRecord;
  /** decision time */
  D: number;
  it: PendingIteration;
  preempted: Set<string>;
  preemptedReqs: RequestState[];
  /** admitted or resumed this step */
  admittedIds: Set<string>;
  bestAdmittedPriority: number | null;
  /** tokens given to requests that were already running (phase 1 of schedule()) */
  runningPhaseTokens: number;
  skipped: Map<string, SkipCause>;
  /** waiting requests cache-aware admission moved behind one admitted this step */
  cacheAwareOutranked: Set<string>;
}

/**
 * Replays one scheduler process's trace. State is bounded by the live requests and
 * the steps in flight (async scheduling keeps at most a few); rows leave at once.
 */
export class Reconstructor implements Engine {
  private readonly reqs = new Map<string, RequestState>();
  /** the running requests of the last step's sched and the last update's tokens, by place */
  private readonly schedLookup = new ListLookup(this.reqs);
  private readonly tokensLookup = new ListLookup(this.reqs);
  private readonly running: RequestState[] = [];
  private readonly queue: WaitingQueue<RequestState>;
  private readonly pending = new Map<number, PendingIteration>();
  /**
   * finished lifetimes per request id: vLLM lets a finished id be used again, and each lifetime
   * gets its own rows (request_instance). The one structure that grows with every id seen.
   */
  private readonly lifetimes = new Map<string, number>();
  private readonly findings: FindingCollector;
  private readonly ctx: RowContext;
  private readonly counts: Record<string, number> = {};
  private readonly kvTotal: number;
  private readonly full: boolean;
  private readonly kvHoldingQueue: boolean;
  private readonly positionsKnown: boolean;
  private readonly byPriority: boolean;
  private readonly everyN: number;
  private readonly predictions: PredictionLog;
  /** per_iteration_requests rows: as objects, or into lanes where the sink takes them (perIterationRequestLanes) */
  private readonly iterRows: IterationRows;
  /** events rows: as objects, or into lanes where the sink takes them (eventLanes) */
  private readonly events: EventRows;
  private readonly gpu: GpuJoin;
  /** the latest event time written (trace ns): kv events are stamped no earlier */
  private lastEventT = -Infinity;
  /** requests whose asynchronous KV-connector load is in flight (kv load_start async … load_end) */
  private readonly remoteKv = new Set<string>();
  private lastT = 0;
  /** counts step records (RequestState.admittedInStep: admitted by this one; step ids can repeat in a bad trace) */
  private stepSerial = 0;
  private requestsSeen = 0;
  /**
   * the shortest waiting queue whose causes a run follows (causeStep); Infinity: switch every queued
   * request's cause at every decision (the differential tests' reference), 0: at every length
   */
  lazyCausesFrom = LAZY_FROM;
  /** DecisionView.scheduledAdmitted: the places in this step's sched of the requests it admitted or resumed */
  private readonly schedAdmitted: number[] = [];
  /** the queued requests that follow the uniform waiting cause (causeStep) */
  private readonly causeRun = new CauseRun();
  /** after the last decision every queued request follows causeRun, but looseCauses */
  private causesFollowed = false;
  private looseCauses: RequestState[] = [];
  /** the waiting queue of the last decision */
  private lastOrder: readonly RequestState[] = [];
  /** the last decision's time: a run follows decisions whose times do not go back */
  private lastCauseT = -Infinity;
  /** DecisionView.waitingTokenEdits: changes to a waiting request's numTokens (a chunk, a token given to a request not running) */
  private waitingTokenEdits = 0;
  private finished = 0;
  private iterations = 0;
  private dropped = 0;
  private line = 0;

  constructor(
    private readonly header: HeaderRecord,
    private readonly sink: RowSink,
    private readonly opts: EngineOptions,
  ) {
    const cfg = header.config;
    this.full = header.level === "full";
    this.kvHoldingQueue = header.capabilities.kv_holding_waiting_queue === true;
    // a scheduler class that orders its own queue (emitter: capabilities.queue_order_rule
    // false): positions only from a full-level trace, whose steps carry the true order
    this.positionsKnown = this.full || header.capabilities.queue_order_rule !== false;
    this.byPriority = cfg.policy.toLowerCase() === "priority";
    this.kvTotal = Math.max(0, cfg.num_gpu_blocks - 1);
    this.everyN = Math.max(1, opts.iterationRequestsEvery);
    this.findings = new FindingCollector(sink, opts.file);
    const lanes = sink.perIterationRequestLanes;
    this.iterRows = lanes
      ? new LaneRows({ perIterationRequestLanes: lanes.bind(sink), waitingLabel: sink.waitingLabel?.bind(sink) }, this.full, header.dp_rank, opts.iterationRequestLaneRows)
      : new ObjectRows(sink, this.full, header.dp_rank);
    this.predictions = new PredictionLog(header.dp_rank);
    this.gpu = new GpuJoin(header);
    this.queue = new WaitingQueue<RequestState>(this.byPriority, (id) => this.reqs.get(id));
    const epochZeroNs = opts.epochZeroNs ?? BigInt(header.clock.epoch_ns);
    this.ctx = {
      off: opts.timeOffsetNs,
      epoch: epochFormatter(epochZeroNs),
      bytesPerBlock: cfg.bytes_per_block,
      vllmClock: cfg.log_stats,
      dpRank: header.dp_rank,
      fullLevel: this.full,
    };
    const eventLanes = sink.eventLanes;
    this.events = eventLanes
      ? new EventLanes({ eventLanes: eventLanes.bind(sink) }, this.ctx.epoch, header.dp_rank, opts.eventLaneRows)
      : new EventObjects(sink, this.ctx.epoch, header.dp_rank);
  }

  push(rec: RawRecord, line: number): void {
    this.line = line;
    this.counts[rec.type] = (this.counts[rec.type] ?? 0) + 1;
    switch (rec.type) {
      case "arrival":
        return this.onArrival(rec);
      case "step":
        return this.onStep(rec);
      case "update":
        return this.onUpdate(rec);
      case "finish":
        return this.onFinish(rec);
      case "chunk":
        return this.onChunk(rec);
      case "score": {
        const r = this.reqs.get(rec.req);
        if (r) {
          r.score = rec.score;
          r.predictedRemaining = rec.predicted_remaining;
        }
        return;
      }
      case "prediction":
        if (!this.reqs.has(rec.req)) this.missingRecord("ENGINE_UNKNOWN_REQUEST", line, { request_id: rec.req, record: "prediction" });
        else if (!this.predictions.add(rec, rec.t + this.ctx.off)) this.findings.report("ENGINE_PREDICTIONS_CAPPED", "warning", line, { request_id: rec.req });
        return;
      case "gpu":
        this.gpu.add(rec);
        return;
      case "kv":
        return this.onKv(rec);
      case "dropped":
        this.dropped += rec.count;
        this.findings.report("ENGINE_EMITTER_DROPPED", "warning", line, { count: rec.count });
        return;
      case "emitter_error":
        this.findings.report("ENGINE_EMITTER_ERROR", "error", line, { where: rec.where, error: rec.error });
        return;
      case "end":
        this.lastT = Math.max(this.lastT, rec.t);
        return;
      case "header":
        this.findings.report("ENGINE_SECOND_HEADER", "error", line, {});
        return;
    }
  }

  // ---- records -------------------------------------------------------------

  private onArrival(a: ArrivalRecord): void {
    this.lastT = Math.max(this.lastT, a.t);
    if (this.reqs.has(a.req)) {
      this.findings.report("ENGINE_DUPLICATE_ARRIVAL", "warning", this.line, { request_id: a.req });
      return;
    }
    const r = new RequestState(a, this.vllmArrivalIsEpoch(a), this.lifetimes.get(a.req) ?? 0);
    this.reqs.set(a.req, r);
    this.requestsSeen++;
    this.queue.arrive(r);
    this.event(a.t, "request_arrived", r, { prompt_tokens: a.prompt_tokens, max_tokens: a.max_tokens, priority: a.priority }, null);
    this.transition(r, a.t, null, "waiting", null, "arrival");
  }

  private onStep(s: StepRecord): void {
    this.stepSerial++;
    this.lastT = Math.max(this.lastT, s.t_end);
    const D = s.sched_t ?? s.t_start; // the decision time, on vLLM's clock when the trace has it
    const st: StepScratch = {
      s,
      D,
      it: new PendingIteration(s, D, this.kvTotal, this.header.config.num_gpu_blocks),
      preempted: new Set(s.preempted),
      preemptedReqs: [],
      admittedIds: new Set<string>(),
      bestAdmittedPriority: null,
      runningPhaseTokens: 0,
      skipped: new Map<string, SkipCause>(),
      cacheAwareOutranked: new Set<string>(),
    };
    // a stop cause names the request the waiting loop stopped at: it must be live
    if (s.stop?.req != null && !this.reqs.has(s.stop.req)) this.missingRecord("ENGINE_UNKNOWN_REQUEST", this.line, { request_id: s.stop.req, record: "step" });
    this.preempt(st);
    this.admit(st);
    this.resume(st);
    st.it.admitted = s.new.length;
    st.it.resumed = s.resumed.length;
    this.giveTokens(st);
    this.stepEvents(st);
    const order = this.queueAfterStep(st);
    this.stepRows(st, order);
    st.it.runningCount = this.running.length;
    st.it.waitingCount = s.waiting;
    st.it.waitingQueueLength = order.length;
    this.pending.set(s.step, st.it);
  }

  /** 1. preemptions: running → waiting (vLLM frees the blocks and resets computed tokens) */
  private preempt(st: StepScratch): void {
    const { s, D } = st;
    for (const id of s.preempted) {
      const r = this.need(id);
      if (!r) continue;
      if (r.state !== "running") {
        // vLLM preempts only running requests: the entry contradicts the trace so far
        this.findings.report("ENGINE_STATE_CONTRADICTION", "error", this.line, { request_id: id, field: "preempted", state: r.state });
        st.preempted.delete(id);
        continue;
      }
      st.preemptedReqs.push(r);
      this.removeRunning(r);
      r.recomputeUntil = Math.max(r.recomputeUntil, r.computed);
      r.computedAtPreemption = r.computed;
      r.computed = 0;
      r.preemptions++;
      r.state = "preempted";
      r.stateSince = D;
      r.startWait(D, "preempted");
      r.setBlocks(0);
      this.event(D, "request_preempted", r, { computed_tokens: r.computedAtPreemption, preemptions: r.preemptions }, s.step);
      this.transition(r, D, "running", "preempted", s.step, "preempt");
    }
  }

  /** 2a. first admissions: waiting → running (a streaming-input session's next turn too) */
  private admit(st: StepScratch): void {
    const { s, D } = st;
    for (const [id, cached] of s.new) {
      const r = this.need(id);
      if (!r) continue;
      if (r.everAdmitted) {
        this.nextTurn(st, r, cached);
        continue;
      }
      r.endWait(D);
      r.firstSchedT = D;
      if (s.sched_t !== null) r.vllmFirstSchedT = s.sched_t;
      r.cachedAtAdmit = cached;
      r.everAdmitted = true;
      this.enterRunning(st, r);
      this.event(D, "request_admitted", r, { cached_tokens: cached }, s.step);
      this.transition(r, D, "waiting", "running", s.step, "admit");
    }
  }

  /**
   * A streaming-input session (vLLM ≥ 0.33, Request.resumable) admitted again for its next input
   * chunk. With trace schema 1.2 its turn end (update.turn_ends) and its chunk (chunk record)
   * came first, so it waits like any queued request. A 1.0/1.1 trace has neither: the session
   * is taken to have waited from its last token to this admission, under cause streaming_input.
   * Its first-turn stamps (first_scheduled_time, vLLM's intervals) stay those of its first turn.
   */
  private nextTurn(st: StepScratch, r: RequestState, cached: number): void {
    const { s, D } = st;
    const from = r.state === "running" ? "running" : "waiting";
    if (r.state === "running") {
      // a 1.0/1.1 trace: no turn end, no chunk record
      this.removeRunning(r);
      r.addWait(Math.min(D, r.lastTokenT ?? D), D, STREAMING_INPUT);
      r.sessionPrefill = true;
      r.turnStartOutputTokens = r.outputTokens;
    } else {
      r.endWait(D);
      r.turnFirstTokenPending = true;
    }
    r.turns++;
    r.computed = cached;
    this.enterRunning(st, r);
    this.event(D, "request_admitted", r, { cached_tokens: cached, turn: r.turns }, s.step);
    // from "running" when the trace never showed it leave (its turn end has no record of its own)
    this.transition(r, D, from, "running", s.step, "next_turn");
  }

  /** 2b. resumptions after a preemption: preempted → running */
  private resume(st: StepScratch): void {
    const { s, D } = st;
    const bs = this.header.config.block_size;
    for (const [id, cached] of s.resumed) {
      const r = this.need(id);
      if (!r) continue;
      if (r.state !== "preempted") {
        // vLLM resumes only preempted requests (a first admission is in `new`)
        this.findings.report("ENGINE_STATE_CONTRADICTION", "error", this.line, { request_id: id, field: "resumed", state: r.state });
        continue;
      }
      r.endWait(D);
      // what it must recompute to get back to its high-water mark (the chunks count what it really does)
      const lost = Math.max(0, r.recomputeUntil - cached);
      if (cached < Math.floor(r.computedAtPreemption / bs) * bs) {
        r.evictions++;
        this.event(D, "request_evicted", r, { computed_before_preemption: r.computedAtPreemption, found_in_prefix_cache: cached }, s.step);
      }
      r.computed = cached;
      this.enterRunning(st, r);
      this.event(D, "request_resumed", r, { cached_tokens: cached, recompute_tokens: lost }, s.step);
      this.transition(r, D, "preempted", "running", s.step, "resume");
    }
  }

  private enterRunning(st: StepScratch, r: RequestState): void {
    this.toRunning(r, st.D);
    st.admittedIds.add(r.id);
    r.admittedInStep = this.stepSerial;
    st.bestAdmittedPriority = st.bestAdmittedPriority === null ? r.priority : Math.min(st.bestAdmittedPriority, r.priority);
  }

  /** 3. the tokens each request got */
  private giveTokens(st: StepScratch): void {
    const { s, D, it } = st;
    const find = this.schedLookup;
    find.begin();
    this.schedAdmitted.length = 0;
    for (let i = 0; i < s.sched.length; i++) {
      const [id, n, before] = s.sched[i];
      const r = find.get(i, id);
      if (!r) {
        this.missingRecord("ENGINE_UNKNOWN_REQUEST", this.line, { request_id: id, record: "step" });
        continue;
      }
      if (r.admittedInStep === this.stepSerial) this.schedAdmitted.push(i);
      if (st.preempted.size > 0 && st.preempted.has(id)) continue;
      r.scheduledStep = s.step;
      r.scheduledTokens = n;
      if (r.admittedInStep !== this.stepSerial) st.runningPhaseTokens += n;
      const end = before + n;
      // positions below the prompt length, or below what was computed before a preemption,
      // rebuild KV for known tokens (prefill); the rest produce new output (decode)
      // a session's next input chunk is prefill until the turn's first token (its length is not in the trace)
      const prefill = r.sessionPrefill ? n : Math.max(0, Math.min(end, Math.max(r.promptTokens, r.recomputeUntil)) - before);
      const recompute = Math.max(0, Math.min(end, r.recomputeUntil) - before);
      it.addScheduled(n, prefill, recompute);
      r.recomputedTokens += recompute;
      r.computed = end;
      r.iterationsScheduled++;
      // r, not the record's id: the record's id is a new string on every line, so a lookup would hash
      // it; r is the map's live entry for it (ListLookup), so the text and instance are the same
      if (this.opts.scheduledEvents) this.events.requestPair(this.eventT(D), "request_scheduled", r, SCHEDULED_DETAILS, n, before, s.step);
    }
  }

  /** block counts, failed allocations and skipped requests of this step */
  private stepEvents(st: StepScratch): void {
    const { s, D, it } = st;
    if (s.blocks) for (const [id, n] of s.blocks) this.blocks(id, n, D, s.step);
    for (const [id, phase] of s.kv_fail) {
      it.kvFailures++;
      this.namedEvent(D, "kv_cache_allocation_failed", id, { phase }, s.step);
    }
    if (s.skipped) {
      for (const [id, cause] of s.skipped) {
        st.skipped.set(id, cause);
        this.namedEvent(D, "request_skipped", id, { cause }, s.step);
      }
    }
    it.skipped = s.skipped ? s.skipped.length : null;
    if (s.reorder) {
      this.namedEvent(D, "waiting_reordered", null, { cause: s.reorder.cause, before: s.reorder.before, after: s.reorder.after }, s.step);
      st.cacheAwareOutranked = outrankedByReorder(s.reorder.before, s.reorder.after, st.admittedIds);
    }
  }

  /** 4. the waiting queue after this decision, checked against the trace's counts */
  private queueAfterStep(st: StepScratch): readonly RequestState[] {
    const s = st.s;
    for (const id of st.admittedIds) this.queue.remove(id);
    const diff = this.queue.applyStep(st.preemptedReqs, s.order);
    if (diff.unexpected.length || diff.missing.length) {
      this.findings.report("ENGINE_ORDER_SET_MISMATCH", "warning", this.line, {
        step: s.step,
        unexpected: diff.unexpected.slice(0, 5).join(" "),
        missing: diff.missing.slice(0, 5).join(" "),
      });
    }
    if (this.running.length !== s.running) {
      this.findings.report("ENGINE_RUNNING_COUNT_MISMATCH", "warning", this.line, { step: s.step, trace: s.running, reconstructed: this.running.length });
    }
    return this.queue.current();
  }

  /** 5. a row per running request, then why each waiting request waits (its cause clock too) */
  private stepRows(st: StepScratch, order: readonly RequestState[]): void {
    const { s, D, it } = st;
    const facts: StepFacts = {
      step: s,
      preempted: st.preempted,
      skipped: st.skipped,
      runningPhaseTokens: st.runningPhaseTokens,
      maxNumBatchedTokens: this.header.config.max_num_batched_tokens,
      maxNumSeqs: this.header.config.max_num_seqs,
      bestAdmittedPriority: st.bestAdmittedPriority,
      byPriority: this.byPriority,
      cacheAwareOutranked: st.cacheAwareOutranked,
      remoteKv: this.remoteKv,
    };
    const emitRows = this.opts.iterationRequests !== "none" && s.step % this.everyN === 0;
    for (const r of this.running) {
      const n = r.scheduledStep === s.step ? r.scheduledTokens : 0;
      if (n === 0) it.runningUnscheduled++;
      if (emitRows) this.runningRow(s, D, r, n);
    }
    // -- binding limits (src/engine/binding-tracker.ts): the one hook it needs --
    if (this.opts.onDecision) {
      let distinct = this.queue.distinct;
      for (const id of st.admittedIds) if (distinct && this.reqs.get(id) && this.queue.holds(this.reqs.get(id)!)) distinct = false;
      this.opts.onDecision({
        step: s,
        decisionT: D,
        waiting: order,
        running: this.running,
        admitted: st.admittedIds,
        preempted: st.preempted,
        distinct,
        scheduled: this.schedLookup.found,
        scheduledAdmitted: this.schedAdmitted,
        queueShift: this.queue.lastShift,
        waitingTokenEdits: this.waitingTokenEdits,
      });
    }
    const emitWaiting = emitRows && this.opts.iterationRequests === "all";
    const uniform = uniformReason(facts);
    const uniformIndex = uniform === null ? -1 : REASON_INDEX.get(uniform)!;
    const eager = uniform === null || order.length < this.lazyCausesFrom;
    if (eager) this.settleCauses();
    else this.causeStep(order, D, uniformIndex);
    this.lastOrder = order;
    this.lastCauseT = D;
    if (!eager && !emitWaiting) return; // causeStep kept the cause clocks
    for (let pos = 0; pos < order.length; pos++) {
      const r = order[pos];
      // a session waiting for its next chunk waits for its client, whatever stopped the loop
      const reason = r.awaitingInput ? "streaming_input" : (uniform ?? waitingReason(r.id, r.priority, facts));
      if (eager) r.switchCauseIndex(D, r.awaitingInput ? STREAMING_INPUT : uniform === null ? REASON_INDEX.get(reason)! : uniformIndex);
      if (!emitWaiting) continue;
      this.iterRows.waiting(s.step, r, this.positionsKnown ? pos : null, reason, Math.max(0, D - r.stateSince));
    }
  }

  /**
   * The cause clocks at a decision whose waiting requests all wait under one cause (uniformReason),
   * in time proportional to what changed: the queued requests that follow the uniform cause are one
   * run (CauseRun) whose cause moves to this one at D; only the arrivals and the requests that do
   * not follow it (a session waiting for its next chunk, a wait that began after the decision) are
   * switched one by one, as the loop over the whole queue did. The whole queue is visited where
   * the queue was rebuilt, after a decision whose causes differed, or when the times go back.
   */
  private causeStep(order: readonly RequestState[], D: number, cause: number): void {
    const run = this.causeRun;
    const shift = this.queue.lastShift;
    const kept = this.lastOrder.length - shift;
    let visit: readonly RequestState[];
    let from: number;
    if (this.causesFollowed && shift >= 0 && kept >= 0 && kept <= order.length && D >= this.lastCauseT && !run.long) {
      run.moveTo(cause, D);
      visit = this.looseCauses;
      from = kept;
    } else {
      this.settleCauses();
      run.moveTo(cause, D);
      visit = order;
      from = order.length;
    }
    const loose: RequestState[] = [];
    const one = (r: RequestState) => {
      if (r.causeRun !== null) return;
      if (r.awaitingInput) {
        r.switchCauseIndex(D, STREAMING_INPUT);
        loose.push(r);
        return;
      }
      r.switchCauseIndex(D, cause);
      if (r.causeSince <= D) run.join(r);
      else loose.push(r);
    };
    // the requests that did not follow the run at the last decision, where still queued; the arrivals
    for (const r of visit) if (visit === order || this.queue.holds(r)) one(r);
    for (let i = from; i < order.length; i++) one(order[i]);
    this.looseCauses = loose;
    this.causesFollowed = true;
  }

  /**
   * Every cause clock its own again (before a decision that decides causes one by one): the run's
   * members are in the last decision's queue (one that left it since was settled as it left).
   */
  private settleCauses(): void {
    this.causesFollowed = false;
    this.looseCauses = [];
    if (this.causeRun.members === 0) return;
    for (const r of this.lastOrder) if (r.causeRun !== null) r.causeRun.settle(r);
  }

  private runningRow(s: StepRecord, D: number, r: RequestState, n: number): void {
    const before = r.computed - n;
    let note: "chunked_prefill" | "recomputation" | "running_unscheduled" | null = null;
    if (n === 0) note = "running_unscheduled";
    else if (before < r.recomputeUntil) note = "recomputation";
    else if (before < r.promptTokens && (r.computed < r.promptTokens || before > (r.cachedAtAdmit ?? 0))) note = "chunked_prefill";
    this.iterRows.running(s.step, r, Math.max(0, D - r.stateSince), n, note);
  }

  private onUpdate(u: UpdateRecord): void {
    this.lastT = Math.max(this.lastT, u.t_end);
    const it = this.pending.get(u.step);
    if (!it) {
      this.missingRecord("ENGINE_UPDATE_UNKNOWN_STEP", this.line, { step: u.step });
      return;
    }
    this.pending.delete(u.step);
    // flush iterations older than this one that never got an update (trace gap)
    for (const [k, old] of this.pending) {
      if (k < u.step) {
        this.pending.delete(k);
        this.emitIteration(old, null);
      }
    }
    const tokT = u.out_t ?? u.t_end;
    this.deliverTokens(u, it, tokT);
    if (u.blocks) for (const [id, n] of u.blocks) this.blocks(id, n, tokT, u.step);
    it.update = u;
    if (u.turn_ends) for (const [id, reason] of u.turn_ends) this.endTurn(id, reason, tokT, u.step);
    this.finishInUpdate(u, it, tokT);
    if (this.running.length !== u.running) {
      this.findings.report("ENGINE_RUNNING_COUNT_MISMATCH", "warning", this.line, { step: u.step, trace: u.running, reconstructed: this.running.length });
    }
    this.emitIteration(it, u);
  }

  private deliverTokens(u: UpdateRecord, it: PendingIteration, tokT: number): void {
    const find = this.tokensLookup;
    find.begin();
    for (let i = 0; i < u.tokens.length; i++) {
      const [id, n] = u.tokens[i];
      const r = find.get(i, id);
      if (!r) {
        this.missingRecord("ENGINE_UNKNOWN_REQUEST", this.line, { request_id: id, record: "update" });
        continue;
      }
      if (n > 0 && r.firstTokenT === null) {
        r.firstTokenT = tokT;
        this.event(tokT, "first_token_generated", r, { ttft_ns: tokT - r.arrivalT }, u.step);
      } else if (n > 0 && r.turnFirstTokenPending) {
        r.turnFirstTokenPending = false;
        this.event(tokT, "first_token_generated", r, { ttft_ns: tokT - (r.turnQueuedT ?? r.arrivalT), turn: r.turns }, u.step);
      }
      if (n > 0) {
        r.lastTokenT = tokT;
        r.sessionPrefill = false;
      }
      if (n !== 0 && r.state !== "running") this.waitingTokenEdits++;
      r.outputTokens += n;
      it.outputTokens += n;
    }
  }

  /** requests finished by this update; each also gets a `completed` row in this step */
  private finishInUpdate(u: UpdateRecord, it: PendingIteration, tokT: number): void {
    const emit = this.opts.iterationRequests !== "none" && u.step % this.everyN === 0;
    for (const [id, reason, outputTokens] of u.finished) {
      const r = this.reqs.get(id);
      if (!r) {
        this.missingRecord("ENGINE_UNKNOWN_REQUEST", this.line, { request_id: id, record: "update" });
        continue;
      }
      // vLLM counts a session's output per turn
      if (outputTokens !== r.outputTokens - r.turnStartOutputTokens) {
        this.findings.report("ENGINE_TOKEN_COUNT_MISMATCH", "warning", this.line, { request_id: id, trace: outputTokens, reconstructed: r.outputTokens - r.turnStartOutputTokens });
      }
      it.completed++;
      if (emit && (this.opts.iterationRequests === "all" || r.state === "running")) {
        this.iterRows.completed(u.step, r);
      }
      this.complete(r, tokT, reason, r.state === "running" ? "running" : "waiting", u.step);
    }
  }

  private onFinish(f: FinishRecord): void {
    this.lastT = Math.max(this.lastT, f.t);
    const r = this.need(f.req, "finish");
    if (!r) return;
    this.complete(r, f.t, f.reason, f.from, null);
  }

  /**
   * A session's next input chunk commenced (vLLM recorded QUEUED again). Waiting for it, the
   * session now queues like any request; still running its turn (the chunk had arrived while it
   * ran, and commenced inside the update that ends that turn), it applies at the turn end.
   */
  private onChunk(c: ChunkRecord): void {
    this.lastT = Math.max(this.lastT, c.t);
    const r = this.need(c.req, "chunk");
    if (!r) return;
    this.event(c.queued_t, "request_chunk_queued", r, { turn: r.turns + 1, prompt_tokens: c.prompt_tokens, max_tokens: c.max_tokens, computed_tokens: c.computed }, null);
    if (r.state === "running") {
      r.pendingChunk = c;
      return;
    }
    if (r.awaitingInput) r.switchCauseIndex(c.queued_t, ARRIVED_AFTER_DECISION);
    this.waitingTokenEdits++;
    r.applyChunk(c);
  }

  /**
   * A session's turn stopped and vLLM kept it (update.turn_ends): it leaves the running list and
   * re-enters the waiting queue at its tail, waiting for its next chunk (cause streaming_input)
   * unless that chunk already commenced in this update.
   */
  private endTurn(id: string, reason: FinishReason, t: number, step: number): void {
    const r = this.need(id, "update");
    if (!r) return;
    this.event(t, "request_turn_ended", r, { turn: r.turns, reason, output_tokens: r.outputTokens - r.turnStartOutputTokens }, step);
    const prev = r.state;
    if (prev === "running") this.removeRunning(r);
    else this.queue.remove(r.id);
    r.turnStartOutputTokens = r.outputTokens;
    r.state = "waiting";
    r.stateSince = t;
    r.kvHolding = this.kvHoldingQueue && r.computed > 0;
    this.queue.arrive(r);
    const chunk = r.pendingChunk;
    r.pendingChunk = null;
    if (chunk) {
      r.startWait(t, "arrived_after_decision");
      r.applyChunk(chunk);
    } else {
      r.awaitingInput = true;
      r.startWait(t, "streaming_input");
    }
    this.transition(r, t, prev, "waiting", step, "turn_end");
  }

  // ---- helpers ---------------------------------------------------------------

  private readonly predictionSink = (row: PredictionRow) => this.sink.prediction?.(row);
  /** vLLM's arrival_time on the epoch clock? If not, the columns derived from it stay empty. */
  private vllmArrivalIsEpoch(a: ArrivalRecord): boolean {
    if (a.vllm_arrival_epoch_ns === null) return true;
    const schedulerEpoch = this.ctx.epoch(a.t + this.ctx.off);
    if (plausibleVllmArrival(a.vllm_arrival_epoch_ns, schedulerEpoch)) return true;
    this.findings.report("ENGINE_VLLM_ARRIVAL_NOT_EPOCH", "warning", this.line, {
      request_id: a.req,
      vllm_arrival_epoch_ns: a.vllm_arrival_epoch_ns,
      scheduler_epoch_ns: schedulerEpoch,
    });
    return false;
  }

  /**
   * A record naming a request or a step the trace never showed: an error, unless the emitter
   * dropped records before it (buffer cap): the drop explains it, and it is a warning
   * (ENGINE_LOST_RECORD) beside ENGINE_EMITTER_DROPPED; the entry is ignored either way.
   */
  private missingRecord(code: "ENGINE_UNKNOWN_REQUEST" | "ENGINE_UPDATE_UNKNOWN_STEP", line: number, args: Record<string, string | number>): void {
    if (this.dropped > 0) this.findings.report("ENGINE_LOST_RECORD", "warning", line, { code, ...args });
    else this.findings.report(code, "error", line, args);
  }

  /** The live request, or an ENGINE_UNKNOWN_REQUEST naming the record that named it. */
  private need(id: string, record: RawRecord["type"] = "step"): RequestState | undefined {
    const r = this.reqs.get(id);
    if (!r) this.missingRecord("ENGINE_UNKNOWN_REQUEST", this.line, { request_id: id, record });
    return r;
  }

  private toRunning(r: RequestState, D: number): void {
    r.kvHolding = false;
    r.state = "running";
    r.stateSince = D;
    this.running.push(r);
  }

  private removeRunning(r: RequestState): void {
    const i = this.running.indexOf(r);
    if (i >= 0) this.running.splice(i, 1);
  }

  private blocks(id: string, n: number, t: number, step: number): void {
    const r = this.reqs.get(id);
    if (!r) return;
    const delta = n - r.blocks;
    if (delta === 0) return;
    r.setBlocks(n);
    // one event per block boundary a request crosses: the request is at hand (no second lookup of a fresh id string)
    this.events.requestPair(this.eventT(t), delta > 0 ? "kv_cache_allocated" : "kv_cache_freed", r, BLOCKS_DETAILS, n, delta, step);
  }

  private complete(r: RequestState, t: number, reason: FinishReason, from: "waiting" | "running", step: number | null): void {
    const prev = r.state;
    if (prev === "running") this.removeRunning(r);
    else this.queue.remove(r.id);
    if (r.blocks > 0) this.event(t, "kv_cache_freed", r, { blocks: 0, delta: -r.blocks }, step);
    this.event(t, "request_completed", r, { reason, from, output_tokens: r.outputTokens }, step);
    this.transition(r, t, prev, "completed", step, reason);
    this.sink.perRequest(perRequestRow(r, { t, reason, from, traceEndT: this.lastT }, this.ctx));
    this.predictions.complete(r.id, r.instance, r.outputTokens, reason, this.predictionSink);
    this.reqs.delete(r.id);
    this.iterRows.forget(r);
    this.events.forget(r);
    r.gone = true;
    this.remoteKv.delete(r.id);
    this.lifetimes.set(r.id, r.instance + 1);
    this.finished++;
  }

  /** a KV-connector load or store: an event row; an async load makes the request wait for it */
  private onKv(k: KvRecord): void {
    this.lastT = Math.max(this.lastT, k.t);
    // a finished request keeps its rows (a store may end after it); one never seen has none
    if (!this.reqs.has(k.req) && !this.lifetimes.has(k.req)) {
      this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: k.req, record: "kv" });
      return;
    }
    if (k.event === "load_start" && k.async === true && this.reqs.has(k.req)) this.remoteKv.add(k.req);
    else if (k.event === "load_end" || k.event === "load_failed") this.remoteKv.delete(k.req);
    const details: Record<string, unknown> = {};
    if (k.tokens !== null) details.tokens = k.tokens;
    if (k.async !== null) details.async = k.async;
    if (k.job !== null) details.job = k.job;
    if (k.direction !== null) details.direction = k.direction;
    if (k.blocks !== null) details.blocks = k.blocks;
    // vLLM notes finished transfers inside update_from_output() before it stamps the outputs
    // (out_t), but the emitter writes kv records after the update record whose events carry
    // out_t: such an event is stamped no earlier than the last event row, so the table stays in
    // time order (the raw trace keeps the exact time; docs/tables.md)
    this.namedEvent(Math.max(k.t, this.lastEventT), KV_EVENT_TYPES[k.event], k.req, details, null);
  }

  private emitIteration(it: PendingIteration, u: UpdateRecord | null): void {
    this.iterations++;
    const gpu = this.gpu.at(u ? u.t_end : it.rec.t_end);
    this.sink.perIteration(it.row(u, this.ctx, this.header.config.max_num_batched_tokens, gpu));
  }

  /** an event of the live request r (its id and instance) */
  private event(t: number, type: EventRow["event_type"], r: RequestState, details: Record<string, unknown>, step: number | null): void {
    this.events.request(this.eventT(t), type, r, JSON.stringify(details), step);
  }

  /** an event that names a request by id alone (its instance looked up: 0 when not live), or none */
  private namedEvent(t: number, type: EventRow["event_type"], id: string | null, details: Record<string, unknown>, step: number | null): void {
    this.events.named(this.eventT(t), type, id, id === null ? null : (this.reqs.get(id)?.instance ?? 0), JSON.stringify(details), step);
  }

  /** an event's time (trace ns) as its row's timestamp; kv events are stamped no earlier than the latest */
  private eventT(t: number): number {
    if (t > this.lastEventT) this.lastEventT = t;
    return t + this.ctx.off;
  }

  private transition(r: RequestState, t: number, from: StateTransitionRow["from_state"], to: TransitionState, step: number | null, detail: string): void {
    const tt = t + this.ctx.off;
    this.sink.stateTransition({
      request_id: r.id,
      timestamp: tt,
      from_state: from,
      to_state: to,
      iteration_id: step,
      timestamp_epoch_ns: this.ctx.epoch(tt),
      detail,
      dp_rank: this.header.dp_rank,
      request_instance: r.instance,
    });
  }

  end(): EngineTotals {
    for (const it of [...this.pending.values()].sort((a, b) => a.step - b.step)) this.emitIteration(it, null);
    this.pending.clear();
    let unfinished = 0;
    for (const r of this.reqs.values()) {
      unfinished++;
      this.sink.perRequest(perRequestRow(r, { t: null, reason: "unfinished", from: null, traceEndT: this.lastT }, this.ctx));
      this.predictions.complete(r.id, r.instance, r.outputTokens, "unfinished", this.predictionSink);
    }
    if (unfinished > 0) this.findings.report("ENGINE_UNFINISHED_REQUESTS", "info", undefined, { count: unfinished });
    this.iterRows.flush();
    this.events.flush();
    this.findings.end();
    return {
      records: { ...this.counts },
      requests: this.requestsSeen,
      finished: this.finished,
      unfinished,
      iterations: this.iterations,
      droppedByEmitter: this.dropped,
    };
  }
}

export type { WaitingReason };

/**
 * The requests of a reordered window that vLLM moved behind a request it then admitted:
 * ahead of that request before the reorder, behind it after, and not admitted themselves.
 */
export function outrankedByReorder(before: readonly string[], after: readonly string[], admitted: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  const was = new Map(before.map((id, i) => [id, i]));
  for (let j = 0; j < after.length; j++) {
    const y = after[j];
    if (!admitted.has(y)) continue;
    const yWas = was.get(y);
    if (yWas === undefined) continue;
    for (let k = j + 1; k < after.length; k++) {
      const x = after[k];
      const xWas = was.get(x);
      if (!admitted.has(x) && xWas !== undefined && xWas < yWas) out.add(x);
    }
  }
  return out;
}
