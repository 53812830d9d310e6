import type { ArrivalRecord, ChunkRecord, FinishReason } from "../schema/raw.js";
import { StateHistory } from "./state-history.js";
import type { PerRequestRow } from "../schema/tables.js";
import { WAITING_REASONS, type WaitingReason } from "../schema/waiting.js";
import { diffAbsNs } from "./epoch.js";

export type LiveState = "waiting" | "preempted" | "running";
export const REASON_INDEX = new Map<WaitingReason, number>(WAITING_REASONS.map((r, i) => [r, i]));
const NOT_WAITING = -1;
/** per_request's wait_<reason>_ns column names, built once */
const WAIT_KEYS = WAITING_REASONS.map((r) => `wait_${r}_ns`);

/** Everything the engine tracks for one live request. Dropped when it finishes. */
export class RequestState {
  readonly id: string;
  readonly arrivalT: number;
  /** vLLM's Request.arrival_time as epoch ns text; null when absent or not epoch time (see vllmArrivalIsEpoch) */
  readonly vllmArrivalEpoch: string | null;
  /** first prompt; a session's later turns add to it (promptTokens) */
  readonly inputTokens: number;
  /** num_prompt_tokens of the current turn: positions below it are prefill */
  promptTokens: number;
  maxTokens: number | null;
  readonly priority: number;
  /** vLLM's arrival time (epoch ns text), the priority queue's tie-breaker; a session's chunk replaces it */
  arrivalKey: string;
  readonly lora: number | null;
  score: number | null;
  predictedRemaining: number | null;

  state: LiveState = "waiting";
  stateSince: number;
  firstSchedT: number | null = null;
  /** admission time on vLLM's clock (its first SCHEDULED event), when the trace has it */
  vllmFirstSchedT: number | null = null;
  cachedAtAdmit: number | null = null;
  computed = 0;
  /** high-water mark of computed tokens before any preemption: positions below it are recomputation */
  recomputeUntil = 0;
  /** vLLM's num_computed_tokens when it was last preempted (what that preemption threw away) */
  computedAtPreemption = 0;
  outputTokens = 0;
  firstTokenT: number | null = null;
  lastTokenT: number | null = null;
  preemptions = 0;
  evictions = 0;
  /** Σ over scheduled chunks of their positions below recomputeUntil (as per_iteration.recompute_tokens) */
  recomputedTokens = 0;
  blocks = 0;
  peakBlocks = 0;
  iterationsScheduled = 0;
  /** the step that last gave it tokens, and how many (saves a per-step map) */
  scheduledStep = -1;
  scheduledTokens = 0;
  everAdmitted = false;
  /** streaming-input session: admissions after the first (0 = not a session, or its first turn) */
  turns = 0;
  /** a session's new input chunk is being prefilled (until the turn's first token); 1.0/1.1 traces only */
  sessionPrefill = false;
  /** input chunks that commenced after the first prompt (chunk records) */
  chunks = 0;
  /** a session between turns whose next chunk has not arrived (vLLM's WAITING_FOR_STREAMING_REQ) */
  awaitingInput = false;
  /** a chunk that commenced inside the update that ends the running turn (applied at that turn end) */
  pendingChunk: ChunkRecord | null = null;
  /** the current turn's QUEUED time (its chunk record), once a later turn has commenced */
  turnQueuedT: number | null = null;
  /** the current later turn has not produced its first token yet */
  turnFirstTokenPending = false;
  /** output tokens when the current turn began */
  turnStartOutputTokens = 0;
  /** waiting in vLLM ≥ 0.33's kv_holding_waiting queue (a session between turns keeps its KV) */
  kvHolding = false;
  /** WaitingQueue's stamp (QueueEntry.queueMark) */
  queueMark = 0;
  /** finished: out of the engine's map (ListLookup's guide lists may still hold it) */
  gone = false;
  /** the engine's serial of the step record that last admitted or resumed it (StepScratch.admittedIds without a lookup) */
  admittedInStep = 0;
  /** its request_id's id in per_iteration_requests' lanes (LaneRows: StringIds), -1 before its first row there */
  laneId = -1;
  /** its request_id's id in events' lanes (EventLanes: StringIds), -1 before its first event there */
  eventLaneId = -1;

  waitTotal = 0;
  waitStart: number;
  longestWait = 0;
  readonly waitByCause = new Float64Array(WAITING_REASONS.length);
  /** index of the current waiting cause; NOT_WAITING while running or finished */
  cause = NOT_WAITING;
  causeSince: number;
  /** the run of queued requests whose cause it follows (CauseRun): then cause and causeSince are the run's until it is settled */
  causeRun: CauseRun | null = null;
  /** the run's segment it joined in, and the start of its open segment then */
  runSeg = 0;
  runSince = 0;

  /** vllmEpochOk: false when vLLM's arrival_time is not on the epoch clock (offline callers may pass their own) */
  /** which lifetime of this request id (0 = first): vLLM lets a finished id be reused */
  readonly instance: number;

  constructor(a: ArrivalRecord, vllmEpochOk = true, instance = 0) {
    this.id = a.req;
    this.instance = instance;
    this.arrivalT = a.t;
    this.vllmArrivalEpoch = vllmEpochOk ? a.vllm_arrival_epoch_ns : null;
    this.inputTokens = a.prompt_tokens;
    this.promptTokens = a.prompt_tokens;
    this.maxTokens = a.max_tokens;
    this.priority = a.priority;
    this.arrivalKey = a.vllm_arrival_epoch_ns ?? "";
    this.lora = a.lora;
    this.score = a.score ?? null;
    this.predictedRemaining = a.predicted_remaining ?? null;
    this.stateSince = a.t;
    this.waitStart = a.t;
    this.causeSince = a.t;
    this.startWait(a.t, "arrived_after_decision");
  }

  /** vLLM's num_tokens: the current turn's prompt plus its output so far */
  get numTokens(): number {
    return this.promptTokens + this.outputTokens - this.turnStartOutputTokens;
  }

  get waiting(): boolean {
    return this.state !== "running";
  }

  /** Enter the waiting queue at t (arrival, or preemption) with its first cause. */
  startWait(t: number, reason: WaitingReason): void {
    if (this.causeRun !== null) this.causeRun.settle(this);
    this.waitStart = t;
    this.causeSince = t;
    this.cause = REASON_INDEX.get(reason)!;
  }

  /** At a decision: the cause from t on. An unchanged cause keeps its segment open (the common case). */
  switchCauseIndex(t: number, next: number): void {
    if (this.causeRun !== null) this.causeRun.settle(this);
    if (next === this.cause) return;
    const span = t - this.causeSince;
    if (this.cause !== NOT_WAITING && span > 0) this.waitByCause[this.cause] += span;
    this.causeSince = t;
    this.cause = next;
  }

  /** Leave the waiting queue at t (admission, resume, or finishing while waiting). */
  endWait(t: number): void {
    this.switchCauseIndex(t, NOT_WAITING);
    const span = Math.max(0, t - this.waitStart);
    this.waitTotal += span;
    if (span > this.longestWait) this.longestWait = span;
  }

  /** A wait the trace shows only once it is over (a session between turns): [from, to) under one cause. */
  addWait(from: number, to: number, causeIndex: number): void {
    if (this.causeRun !== null) this.causeRun.settle(this);
    const span = Math.max(0, to - from);
    this.waitByCause[causeIndex] += span;
    this.waitTotal += span;
    if (span > this.longestWait) this.longestWait = span;
  }

  /** A session's next chunk commenced: its prompt, max_tokens and queue key are the chunk's. */
  applyChunk(c: ChunkRecord): void {
    this.promptTokens = c.prompt_tokens;
    this.maxTokens = c.max_tokens;
    if (c.vllm_arrival_epoch_ns !== null) this.arrivalKey = c.vllm_arrival_epoch_ns;
    this.turnQueuedT = c.queued_t;
    this.chunks++;
    this.awaitingInput = false;
  }

  setBlocks(n: number): void {
    this.blocks = n;
    if (n > this.peakBlocks) this.peakBlocks = n;
  }
}

/** a run's history is cut (its members settled, the run begun again) past this many segments */
const MAX_CAUSE_SEGMENTS = 1024;

/**
 * The queued requests whose waiting cause is the step's uniform one (uniformReason), as one
 * history (StateHistory): a step whose uniform cause differs adds a segment instead of switching
 * every member; a member's waitByCause gets its spans in the run when it is settled (it leaves
 * the queue, or its cause is decided on its own again). The columns are those of switching every
 * member at every decision (Reconstructor.causeStep).
 */
export class CauseRun {
  private readonly history = new StateHistory(WAITING_REASONS.length, NOT_WAITING);
  members = 0;

  /** the cause of the open segment */
  get cause(): number {
    return this.history.state;
  }

  /** its history is long: settle everyone and begin again */
  get long(): boolean {
    return this.history.segments > MAX_CAUSE_SEGMENTS;
  }

  /** From D on every member waits under `cause`. */
  moveTo(cause: number, D: number): void {
    if (this.members === 0) this.history.restart(cause, D);
    else this.history.change(cause, D);
  }

  /** `r`, already under the run's cause (its open segment from r.causeSince, no later than the run's last decision), follows the run. */
  join(r: RequestState): void {
    r.causeRun = this;
    r.runSeg = this.history.openSegment;
    r.runSince = r.causeSince;
    this.members++;
  }

  /** The member's cause clock as switching it at every decision would have left it; it no longer follows the run. */
  settle(r: RequestState): void {
    r.causeSince = this.history.addSpans(r.waitByCause, r.runSeg, r.runSince);
    r.cause = this.cause;
    r.causeRun = null;
    this.members--;
  }
}

export interface Completion {
  t: number | null;
  reason: FinishReason | "unfinished";
  from: "waiting" | "running" | null;
  /** last time the trace saw, to close open intervals of unfinished requests */
  traceEndT: number;
}

export interface RowContext {
  off: number;
  epoch: (rel: number) => string;
  bytesPerBlock: number | null;
  vllmClock: boolean;
  dpRank: number;
  fullLevel: boolean;
}

export function perRequestRow(r: RequestState, c: Completion, ctx: RowContext): PerRequestRow {
  const off = ctx.off;
  const end = c.t ?? c.traceEndT;
  if (r.waiting) r.endWait(end);
  const arrival = r.arrivalT;
  const e2e = c.t === null ? null : c.t - arrival;
  const waiting = r.waitTotal;
  const n = r.outputTokens;
  const ttft = r.firstTokenT === null ? null : r.firstTokenT - arrival;
  const decode = r.firstTokenT !== null && r.lastTokenT !== null ? r.lastTokenT - r.firstTokenT : null;
  const vllm = ctx.vllmClock && r.vllmFirstSchedT !== null;
  const rel = (t: number | null) => (t === null ? null : t + off);
  const ep = (t: number | null) => (t === null ? null : ctx.epoch(t + off));
  const row: Record<string, unknown> = {
    request_id: r.id,
    arrival_time: arrival + off,
    first_scheduled_time: rel(r.firstSchedT),
    completion_time: rel(c.t),
    waiting_time: waiting,
    execution_time: (e2e ?? end - arrival) - waiting,
    e2e_latency: e2e,
    input_tokens: r.inputTokens,
    output_tokens: n,
    ttft,
    tpot: decode !== null && n >= 2 ? Math.round(decode / (n - 1)) : null,
    throughput: e2e !== null && e2e > 0 ? n / (e2e / 1e9) : null,
    preemption_count: r.preemptions,
    eviction_count: r.evictions,
    kv_cache_blocks: ctx.fullLevel ? r.peakBlocks : null,
    arrival_time_epoch_ns: ep(arrival),
    first_scheduled_time_epoch_ns: ep(r.firstSchedT),
    completion_time_epoch_ns: ep(c.t),
    vllm_arrival_time_epoch_ns: r.vllmArrivalEpoch,
    ttft_from_vllm_arrival:
      r.firstTokenT !== null && r.vllmArrivalEpoch !== null ? diffAbsNs(ctx.epoch(r.firstTokenT + off), r.vllmArrivalEpoch) : null,
    first_token_time: rel(r.firstTokenT),
    last_token_time: rel(r.lastTokenT),
    vllm_queued_time: vllm ? r.vllmFirstSchedT! - arrival : null,
    vllm_prefill_time: vllm && r.firstTokenT !== null ? r.firstTokenT - r.vllmFirstSchedT! : null,
    vllm_decode_time: vllm && decode !== null ? decode : null,
    vllm_inference_time: vllm && r.lastTokenT !== null ? r.lastTokenT - r.vllmFirstSchedT! : null,
    vllm_mean_tpot: vllm && decode !== null ? (n > 1 ? Math.round(decode / (n - 1)) : 0) : null,
    finish_reason: c.reason,
    finished_from: c.from,
    prefix_cached_tokens: r.cachedAtAdmit,
    priority: r.priority,
    priority_score: r.score,
    predicted_remaining_tokens: r.predictedRemaining,
    max_tokens: r.maxTokens,
    lora_id: r.lora,
    kv_cache_memory_bytes: ctx.fullLevel && ctx.bytesPerBlock !== null ? r.peakBlocks * ctx.bytesPerBlock : null,
    longest_wait: r.longestWait,
    recomputed_tokens: r.recomputedTokens,
    iterations_scheduled: r.iterationsScheduled,
    total_tokens: r.inputTokens + n,
    dp_rank: ctx.dpRank,
  };
  for (let i = 0; i < WAIT_KEYS.length; i++) row[WAIT_KEYS[i]] = r.waitByCause[i];
  row.request_instance = r.instance;
  row.input_chunks = 1 + Math.max(r.chunks, r.turns);
  return row as PerRequestRow;
}
