import type { EventRow } from "../schema/tables.js";
import type { RequestState } from "./request-state.js";
import type { RowSink } from "./types.js";

export type EventType = EventRow["event_type"];

/**
 * Where the engine's events rows go, one call per row: as row objects to the sink (EventObjects,
 * below), or written into lanes without an object per row (EventLanes, event-lanes.ts) when the
 * sink takes lanes. `t` is the row's timestamp (the output's ns: offset applied), `details` its
 * JSON text; the epoch digits and dp_rank are the writer's.
 */
export interface EventRows {
  /** an event of the live request r (its id and instance) */
  request(t: number, type: EventType, r: RequestState, details: string, step: number | null): void;
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
