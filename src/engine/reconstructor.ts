import type { ArrivalRecord, FinishReason, FinishRecord, HeaderRecord, RawRecord, SkipCause, StepRecord, UpdateRecord } from "../schema/raw.js";
import type { EventRow, PerIterationRow, StateTransitionRow } from "../schema/tables.js";
import type { WaitingReason } from "../schema/waiting.js";
import { epochFormatter } from "./epoch.js";
import { FindingCollector } from "./findings.js";
import { perRequestRow, REASON_INDEX, RequestState, type RowContext } from "./request-state.js";
import type { Engine, EngineOptions, EngineTotals, RowSink } from "./types.js";
import { PendingIteration } from "./iteration.js";
import { WaitingQueue } from "./waiting-queue.js";
import { uniformReason, waitingReason, type StepFacts } from "./waiting-reason.js";

type TransitionState = StateTransitionRow["to_state"];

/**
 * Replays one scheduler process's trace. State is bounded by the live requests and
 * the steps in flight (async scheduling keeps at most a few); rows leave at once.
 */
export class Reconstructor implements Engine {
  private readonly reqs = new Map<string, RequestState>();
  private readonly running: RequestState[] = [];
  private readonly queue: WaitingQueue<RequestState>;
  private readonly pending = new Map<number, PendingIteration>();
  private readonly findings: FindingCollector;
  private readonly ctx: RowContext;
  private readonly counts: Record<string, number> = {};
  private readonly kvTotal: number;
  private readonly full: boolean;
  private readonly byPriority: boolean;
  private readonly everyN: number;
  private lastT = 0;
  private requestsSeen = 0;
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
    this.byPriority = cfg.policy.toLowerCase() === "priority";
    this.kvTotal = Math.max(0, cfg.num_gpu_blocks - 1);
    this.everyN = Math.max(1, opts.iterationRequestsEvery);
    this.findings = new FindingCollector(sink, opts.file);
    this.queue = new WaitingQueue<RequestState>(this.byPriority, (id) => this.reqs.get(id));
    const epochZeroNs = opts.epochZeroNs ?? BigInt(header.clock.epoch_ns);
    this.ctx = {
      off: opts.timeOffsetNs,
      epoch: epochFormatter(epochZeroNs),
      epochZeroNs,
      bytesPerBlock: cfg.bytes_per_block,
      vllmClock: cfg.log_stats,
      dpRank: header.dp_rank,
      fullLevel: this.full,
    };
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
      case "score": {
        const r = this.reqs.get(rec.req);
        if (r) {
          r.score = rec.score;
          r.predictedRemaining = rec.predicted_remaining;
        }
        return;
      }
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
    const r = new RequestState(a);
    this.reqs.set(a.req, r);
    this.requestsSeen++;
    this.queue.arrive(r);
    this.event(a.t, "request_arrived", a.req, { prompt_tokens: a.prompt_tokens, max_tokens: a.max_tokens, priority: a.priority }, null);
    this.transition(r, a.t, null, "waiting", null, "arrival");
  }

  private onStep(s: StepRecord): void {
    this.lastT = Math.max(this.lastT, s.t_end);
    const D = s.sched_t ?? s.t_start; // the decision time, on vLLM's clock when the trace has it
    const it = new PendingIteration(s, D, this.kvTotal, this.header.config.num_gpu_blocks);
    const preempted = new Set(s.preempted);
    const preemptedReqs: RequestState[] = [];
    const admittedIds = new Set<string>();
    let bestAdmittedPriority: number | null = null;

    // 1. preemptions: running → waiting (vLLM frees the blocks and resets computed tokens)
    for (const id of s.preempted) {
      const r = this.need(id);
      if (!r) continue;
      preemptedReqs.push(r);
      this.removeRunning(r);
      r.recomputeUntil = Math.max(r.recomputeUntil, r.computed);
      r.computed = 0;
      r.preemptions++;
      r.state = "preempted";
      r.stateSince = D;
      r.startWait(D, "preempted");
      r.setBlocks(0);
      this.event(D, "request_preempted", id, { computed_tokens: r.recomputeUntil, preemptions: r.preemptions }, s.step);
      this.transition(r, D, "running", "preempted", s.step, "preempt");
    }

    // 2. admissions and resumptions: waiting → running
    for (const [id, cached] of s.new) {
      const r = this.need(id);
      if (!r) continue;
      r.endWait(D);
      r.firstSchedT = D;
      if (s.sched_t !== null) r.vllmFirstSchedT = s.sched_t;
      r.cachedAtAdmit = cached;
      r.everAdmitted = true;
      this.toRunning(r, D);
      admittedIds.add(id);
      bestAdmittedPriority = bestAdmittedPriority === null ? r.priority : Math.min(bestAdmittedPriority, r.priority);
      this.event(D, "request_admitted", id, { cached_tokens: cached }, s.step);
      this.transition(r, D, "waiting", "running", s.step, "admit");
    }
    for (const [id, cached] of s.resumed) {
      const r = this.need(id);
      if (!r) continue;
      r.endWait(D);
      const lost = Math.max(0, r.recomputeUntil - cached);
      r.recomputedTokens += lost;
      const bs = this.header.config.block_size;
      if (cached < Math.floor(r.recomputeUntil / bs) * bs) {
        r.evictions++;
        this.event(D, "request_evicted", id, { computed_before_preemption: r.recomputeUntil, found_in_prefix_cache: cached }, s.step);
      }
      r.computed = cached;
      this.toRunning(r, D);
      admittedIds.add(id);
      bestAdmittedPriority = bestAdmittedPriority === null ? r.priority : Math.min(bestAdmittedPriority, r.priority);
      this.event(D, "request_resumed", id, { cached_tokens: cached, recompute_tokens: lost }, s.step);
      this.transition(r, D, "preempted", "running", s.step, "resume");
    }
    it.admitted = s.new.length;
    it.resumed = s.resumed.length;

    // 3. the tokens each request got
    let runningPhaseTokens = 0;
    for (const [id, n, before] of s.sched) {
      const r = this.reqs.get(id);
      if (!r) {
        this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: id, record: "step" });
        continue;
      }
      if (preempted.has(id)) continue;
      r.scheduledStep = s.step;
      r.scheduledTokens = n;
      if (!admittedIds.has(id)) runningPhaseTokens += n;
      const end = before + n;
      // positions below the prompt length, or below what was computed before a preemption,
      // rebuild KV for known tokens (prefill); the rest produce new output (decode)
      const prefill = Math.max(0, Math.min(end, Math.max(r.promptTokens, r.recomputeUntil)) - before);
      const recompute = Math.max(0, Math.min(end, r.recomputeUntil) - before);
      it.addScheduled(n, prefill, recompute);
      r.computed = end;
      r.iterationsScheduled++;
      if (this.opts.scheduledEvents) this.event(D, "request_scheduled", id, { tokens: n, computed_before: before }, s.step);
    }
    if (s.blocks) for (const [id, n] of s.blocks) this.blocks(id, n, D, s.step);
    for (const [id, phase] of s.kv_fail) {
      it.kvFailures++;
      this.event(D, "kv_cache_allocation_failed", id, { phase }, s.step);
    }
    const skipped = new Map<string, SkipCause>();
    if (s.skipped) {
      for (const [id, cause] of s.skipped) {
        skipped.set(id, cause);
        this.event(D, "request_skipped", id, { cause }, s.step);
      }
    }
    it.skipped = s.skipped ? s.skipped.length : null;

    // 4. the waiting queue after this decision, and why each request in it waits
    for (const id of admittedIds) this.queue.remove(id);
    const diff = this.queue.applyStep(preemptedReqs, s.order);
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
    const facts: StepFacts = {
      step: s,
      preempted,
      skipped,
      runningPhaseTokens,
      maxNumBatchedTokens: this.header.config.max_num_batched_tokens,
      maxNumSeqs: this.header.config.max_num_seqs,
      bestAdmittedPriority,
      byPriority: this.byPriority,
      fullLevel: this.full,
    };
    const emitRows = this.opts.iterationRequests !== "none" && s.step % this.everyN === 0;
    for (const r of this.running) {
      const n = r.scheduledStep === s.step ? r.scheduledTokens : 0;
      if (n === 0) it.runningUnscheduled++;
      if (emitRows) this.runningRow(s, D, r, n);
    }
    const order = this.queue.current();
    // -- binding limits (src/engine/binding-tracker.ts): the one hook it needs --
    this.opts.onDecision?.({ step: s, decisionT: D, waiting: order, running: this.running, admitted: admittedIds, preempted });
    const emitWaiting = emitRows && this.opts.iterationRequests === "all";
    const uniform = uniformReason(facts);
    const uniformIndex = uniform === null ? -1 : REASON_INDEX.get(uniform)!;
    for (let pos = 0; pos < order.length; pos++) {
      const r = order[pos];
      const reason = uniform ?? waitingReason(r.id, r.priority, facts);
      r.switchCauseIndex(D, uniform === null ? REASON_INDEX.get(reason)! : uniformIndex);
      if (emitWaiting) {
        this.sink.perIterationRequest({
          iteration_id: s.step,
          request_id: r.id,
          state: r.state === "preempted" ? "preempted" : "waiting",
          queue_position: pos,
          waiting_reason: reason,
          tokens_generated: r.outputTokens,
          kv_cache_blocks: this.full ? r.blocks : null,
          time_in_state: Math.max(0, D - r.stateSince),
          scheduled_tokens: 0,
          running_reason: null,
          waiting_phase: r.everAdmitted ? "after_preemption" : "initial",
          computed_tokens: r.computed,
          dp_rank: this.header.dp_rank,
        });
      }
    }
    it.runningCount = this.running.length;
    it.waitingCount = s.waiting;
    this.pending.set(s.step, it);
  }

  private runningRow(s: StepRecord, D: number, r: RequestState, n: number): void {
    const before = r.computed - n;
    let note: "chunked_prefill" | "recomputation" | "running_unscheduled" | null = null;
    if (n === 0) note = "running_unscheduled";
    else if (before < r.recomputeUntil) note = "recomputation";
    else if (before < r.promptTokens && (r.computed < r.promptTokens || before > (r.cachedAtAdmit ?? 0))) note = "chunked_prefill";
    this.sink.perIterationRequest({
      iteration_id: s.step,
      request_id: r.id,
      state: "running",
      queue_position: null,
      waiting_reason: null,
      tokens_generated: r.outputTokens,
      kv_cache_blocks: this.full ? r.blocks : null,
      time_in_state: Math.max(0, D - r.stateSince),
      scheduled_tokens: n,
      running_reason: note,
      waiting_phase: null,
      computed_tokens: r.computed,
      dp_rank: this.header.dp_rank,
    });
  }

  private onUpdate(u: UpdateRecord): void {
    this.lastT = Math.max(this.lastT, u.t_end);
    const it = this.pending.get(u.step);
    if (!it) {
      this.findings.report("ENGINE_UPDATE_UNKNOWN_STEP", "error", this.line, { step: u.step });
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
    for (const [id, n] of u.tokens) {
      const r = this.reqs.get(id);
      if (!r) {
        this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: id, record: "update" });
        continue;
      }
      if (n > 0 && r.firstTokenT === null) {
        r.firstTokenT = tokT;
        this.event(tokT, "first_token_generated", id, { ttft_ns: tokT - r.arrivalT }, u.step);
      }
      if (n > 0) r.lastTokenT = tokT;
      r.outputTokens += n;
      it.outputTokens += n;
    }
    if (u.blocks) for (const [id, n] of u.blocks) this.blocks(id, n, tokT, u.step);
    it.update = u;
    for (const [id, reason, outputTokens] of u.finished) {
      const r = this.reqs.get(id);
      if (!r) {
        this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: id, record: "update" });
        continue;
      }
      if (outputTokens !== r.outputTokens) {
        this.findings.report("ENGINE_TOKEN_COUNT_MISMATCH", "warning", this.line, { request_id: id, trace: outputTokens, reconstructed: r.outputTokens });
      }
      it.completed++;
      if (this.opts.iterationRequests === "all" || (this.opts.iterationRequests === "running" && r.state === "running")) {
        if (u.step % this.everyN === 0) {
          this.sink.perIterationRequest({
            iteration_id: u.step,
            request_id: id,
            state: "completed",
            queue_position: null,
            waiting_reason: null,
            tokens_generated: r.outputTokens,
            kv_cache_blocks: this.full ? 0 : null,
            time_in_state: 0,
            scheduled_tokens: 0,
            running_reason: null,
            waiting_phase: null,
            computed_tokens: r.computed,
            dp_rank: this.header.dp_rank,
          });
        }
      }
      this.complete(r, tokT, reason, r.state === "running" ? "running" : "waiting", u.step);
    }
    if (this.running.length !== u.running) {
      this.findings.report("ENGINE_RUNNING_COUNT_MISMATCH", "warning", this.line, { step: u.step, trace: u.running, reconstructed: this.running.length });
    }
    this.emitIteration(it, u);
  }

  private onFinish(f: FinishRecord): void {
    this.lastT = Math.max(this.lastT, f.t);
    const r = this.reqs.get(f.req);
    if (!r) {
      this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: f.req, record: "finish" });
      return;
    }
    this.complete(r, f.t, f.reason, f.from, null);
  }

  // ---- helpers ---------------------------------------------------------------

  private need(id: string): RequestState | undefined {
    const r = this.reqs.get(id);
    if (!r) this.findings.report("ENGINE_UNKNOWN_REQUEST", "error", this.line, { request_id: id, record: "step" });
    return r;
  }

  private toRunning(r: RequestState, D: number): void {
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
    this.event(t, delta > 0 ? "kv_cache_allocated" : "kv_cache_freed", id, { blocks: n, delta }, step);
  }

  private complete(r: RequestState, t: number, reason: FinishReason, from: "waiting" | "running", step: number | null): void {
    const prev = r.state;
    if (prev === "running") this.removeRunning(r);
    else this.queue.remove(r.id);
    if (r.blocks > 0) this.event(t, "kv_cache_freed", r.id, { blocks: 0, delta: -r.blocks }, step);
    this.event(t, "request_completed", r.id, { reason, from, output_tokens: r.outputTokens }, step);
    this.transition(r, t, prev, "completed", step, reason);
    this.sink.perRequest(perRequestRow(r, { t, reason, from, traceEndT: this.lastT }, this.ctx));
    this.reqs.delete(r.id);
    this.finished++;
  }

  private emitIteration(it: PendingIteration, u: UpdateRecord | null): void {
    this.iterations++;
    this.sink.perIteration(it.row(u, this.ctx, this.header.config.max_num_batched_tokens));
  }

  private event(t: number, type: EventRow["event_type"], id: string | null, details: Record<string, unknown>, step: number | null): void {
    const tt = t + this.ctx.off;
    this.sink.event({
      timestamp: tt,
      event_type: type,
      request_id: id,
      details: JSON.stringify(details),
      timestamp_epoch_ns: this.ctx.epoch(tt),
      iteration_id: step,
      dp_rank: this.header.dp_rank,
    });
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
    });
  }

  end(): EngineTotals {
    for (const it of [...this.pending.values()].sort((a, b) => a.step - b.step)) this.emitIteration(it, null);
    this.pending.clear();
    let unfinished = 0;
    for (const r of this.reqs.values()) {
      unfinished++;
      this.sink.perRequest(perRequestRow(r, { t: null, reason: "unfinished", from: null, traceEndT: this.lastT }, this.ctx));
    }
    if (unfinished > 0) this.findings.report("ENGINE_UNFINISHED_REQUESTS", "info", undefined, { count: unfinished });
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
