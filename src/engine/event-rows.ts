import { pairText } from "../schema/lanes.js";
import type { EventRow } from "../schema/tables.js";
import type { RequestState } from "./request-state.js";
import type { RowSink } from "./types.js";

export type EventType = EventRow["event_type"];

/**
 * details of two integer fields, the keys of each kind; written into lanes as PAIR cells (no string:
 * building and quoting one per request_scheduled was most of the events table's cost)
 */
export const DETAIL_PAIRS = [
  ["tokens", "computed_before"],
  ["blocks", "delta"],
] as const satisfies readonly (readonly [string, string])[];
export const SCHEDULED_DETAILS = 0;
export const BLOCKS_DETAILS = 1;

/** a pair's details as JSON text: written out for safe integers, else JSON.stringify's (the same text where both apply) */
export function pairDetails(kind: number, a: number, b: number): string {
  const keys = DETAIL_PAIRS[kind];
  if (Number.isSafeInteger(a) && Number.isSafeInteger(b)) return pairText(keys, a, b);
  return JSON.stringify({ [keys[0]]: a, [keys[1]]: b });
}

/**
 * Where the engine's events rows go, one call per row: as row objects to the sink (EventObjects,
 * below), or written into lanes without an object per row (EventLanes, event-lanes.ts) when the
 * sink takes lanes. `t` is the row's timestamp (the output's ns: offset applied), `details` its
 * JSON text; the epoch digits and dp_rank are the writer's.
 */
export interface EventRows {
  /** an event of the live request r (its id and instance) */
  request(t: number, type: EventType, r: RequestState, details: string, step: number | null): void;
  /** request() with details pairDetails(kind, a, b) */
  requestPair(t: number, type: EventType, r: RequestState, kind: number, a: number, b: number, step: number | null): void;
  /** an event that names a request by id alone (one no longer live, or unknown), or none (null) */
  named(t: number, type: EventType, id: string | null, instance: number | null, details: string, step: number | null): void;
  /** r left the engine (completed): no row names it as a live request after this */
  forget(r: RequestState): void;
  /** the trace ended: rows held back go out */
  flush(): void;
}

/** Rows as objects, to sink.event (Parquet, the collectors, tests, any sink without eventLanes). */
export class EventObjects implements EventRows {
  constructor(
    private readonly sink: Pick<RowSink, "event">,
    private readonly epoch: (ns: number) => string,
    private readonly dpRank: number,
  ) {}

  request(t: number, type: EventType, r: RequestState, details: string, step: number | null): void {
    this.named(t, type, r.id, r.instance, details, step);
  }

  requestPair(t: number, type: EventType, r: RequestState, kind: number, a: number, b: number, step: number | null): void {
    this.named(t, type, r.id, r.instance, pairDetails(kind, a, b), step);
  }

  named(t: number, type: EventType, id: string | null, instance: number | null, details: string, step: number | null): void {
    this.sink.event({
      timestamp: t,
      event_type: type,
      request_id: id,
      details,
      timestamp_epoch_ns: this.epoch(t),
      iteration_id: step,
      dp_rank: this.dpRank,
      request_instance: instance,
    });
  }

  forget(): void {}

  flush(): void {}
}
