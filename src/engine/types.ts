import type { HeaderRecord, RawRecord, StepRecord } from "../schema/raw.js";
import type {
  EventRow,
  PerIterationRequestRow,
  PerIterationRow,
  PerRequestRow,
  PredictionRow,
  StateTransitionRow,
} from "../schema/tables.js";

import type { Finding } from "../core/finding.js";
import type { TableLanes } from "../schema/lanes.js";

/** Where the engine's rows go. Implementations stream them out; the engine keeps no rows. */
export interface RowSink {
  perRequest(row: PerRequestRow): void;
  perIteration(row: PerIterationRow): void;
  perIterationRequest(row: PerIterationRequestRow): void;
  event(row: EventRow): void;
  stateTransition(row: StateTransitionRow): void;
  /** predictions.csv rows (trace schema 1.1): required, so no sink can drop the table silently */
  prediction(row: PredictionRow): void;
  finding(f: Finding): void;
  /**
   * The columnar path (optional): a sink that has it gets per_iteration_requests as lanes the engine
   * fills itself (iteration-request-lanes.ts), a batch at a time and at end(), instead of row objects
   * through perIterationRequest (a CSV writer: no object per row to build, to look up strings of, to collect).
   */
  perIterationRequestLanes?(lanes: TableLanes): void;
  /** events the same way (event-lanes.ts): lanes the engine fills itself, instead of row objects through event */
  eventLanes?(lanes: TableLanes): void;
  /** binding_limits of a waiting row written into lanes at this step (the binding tracker's sink answers it); absent: null */
  waitingLabel?(requestId: string, step: number, pos: number | null): string | null;
}

/** A request as the engine holds it, seen read-only by observers (RequestState satisfies it). */
export interface RequestView {
  readonly id: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** vLLM's num_tokens: the current turn's prompt and output (a session's turns differ) */
  readonly numTokens: number;
  readonly lora: number | null;
  /** num_computed_tokens after this step's schedule() */
  readonly computed: number;
  readonly blocks: number;
  /** start of its current wait (arrival or preemption) */
  readonly waitStart: number;
}

/** One scheduling decision after the engine applied it (src/engine/binding-tracker.ts reads it). */
export interface DecisionView {
  step: StepRecord;
  /** the decision time (step.sched_t, else t_start) */
  decisionT: number;
  /** the waiting queue after schedule(), head first */
  waiting: readonly RequestView[];
  /** the running list after schedule() */
  running: readonly RequestView[];
  /** admitted or resumed this step */
  admitted: ReadonlySet<string>;
  /** preempted this step */
  preempted: ReadonlySet<string>;
  /** every waiting request appears once and none of them is among `admitted` */
  distinct: boolean;
  /** step.sched's requests, entry by entry (undefined: an id the engine does not hold) */
  scheduled: readonly (RequestView | undefined)[];
  /** the indexes into step.sched, ascending, of every entry whose request was admitted or resumed this step (absent: look at all) */
  scheduledAdmitted?: readonly number[];
  /**
   * k when `waiting` is the previous decision's queue less its first k entries, plus arrivals at
   * the tail (FCFS's usual step); -1 when the queue was rebuilt, or unknown
   */
  queueShift?: number;
  /**
   * counts changes to the token count (numTokens) of requests that were waiting at the time:
   * equal at two decisions, every request waiting at both kept its numTokens
   */
  waitingTokenEdits?: number;
}

/**
 * The engine's runs (BindingTracker.lazyCarry, QueueAllocs, Reconstructor.causeStep) follow waiting
 * queues of at least this many requests; a shorter queue costs less visited whole at each decision.
 */
export const LAZY_FROM = 64;

export interface EngineOptions {
  /** called once per step after the waiting queue is rebuilt, before its rows are written */
  onDecision?: (view: DecisionView) => void;
  /**
   * Added to every relative time so several traces (one per process / DP rank)
   * share one t=0: the earliest anchor among the inputs. Integer ns.
   */
  timeOffsetNs: number;
  /** absolute epoch ns of t=0 of the output (BigInt: exceeds 2^53); defaults to this trace's anchor */
  epochZeroNs?: bigint;
  /** per_iteration_requests: every request, only running ones, or none */
  iterationRequests: "all" | "running" | "none";
  /** per_iteration_requests: keep only iterations whose id is a multiple of this */
  iterationRequestsEvery: number;
  /** events.csv: include one request_scheduled event per request per step */
  scheduledEvents: boolean;
  /** rows per batch of per_iteration_requests' lanes (where the sink takes lanes); tests pass a few, to cross batch ends often */
  iterationRequestLaneRows?: number;
  /** rows per batch of events' lanes (where the sink takes lanes); tests pass a few */
  eventLaneRows?: number;
  file?: string;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  timeOffsetNs: 0,
  iterationRequests: "all",
  iterationRequestsEvery: 1,
  scheduledEvents: true,
};

/** Totals the engine reports when the trace ends (for the manifest and summary). */
export interface EngineTotals {
  records: Record<string, number>;
  requests: number;
  finished: number;
  unfinished: number;
  iterations: number;
  droppedByEmitter: number;
}

/**
 * The reconstruction engine: pure, push-style. Feed it the header first, then every
 * record in file order, then call end(). It never does I/O and never reads a clock.
 */
export interface Engine {
  push(record: RawRecord, line: number): void;
  end(): EngineTotals;
}

export type EngineFactory = (header: HeaderRecord, sink: RowSink, options: EngineOptions) => Engine;
