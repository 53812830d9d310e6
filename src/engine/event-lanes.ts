import { lanePlaces } from "../schema/lane-places.js";
import { batchRowsFor, laneArrays, layout, NULL, PAIR, TEXT, type TableLanes } from "../schema/lanes.js";
import { DETAIL_PAIRS, pairDetails, type EventRows, type EventType } from "./event-rows.js";
import type { RequestState } from "./request-state.js";
import { StringIds } from "./string-ids.js";

/**
 * events written by the engine straight into lanes (src/schema/lanes.ts), as per_iteration_requests
 * are (iteration-request-lanes.ts): the default convert's ~2 M events (1.9 M of them
 * request_scheduled) without a row object, a map lookup of the request id in the CSV encoder, or a
 * fill of the lanes from objects (convert --threads). A live request's id is a small integer it holds
 * until it completes (StringIds), an id named alone gets one for the batch; the epoch digits and the
 * JSON details are the batch's TEXT cells, but details of two integers (request_scheduled, block
 * counts) are PAIR cells: the integers, no string. Each cell gets the value EventObjects puts in the row
 * object, so the CSV is the same; test/event-lanes.test.ts holds the two paths to that.
 */

const LAY = layout("events");
const COLS = LAY.cols.length;
const NUMS = LAY.nNum;
const STRS = LAY.nStr;
const { cell, lane, codes } = lanePlaces("events");

const N_TIME = lane("timestamp", true);
const N_STEP = lane("iteration_id", true);
const N_RANK = lane("dp_rank", true);
const N_INSTANCE = lane("request_instance", true);
const S_TYPE = lane("event_type", false);
const S_ID = lane("request_id", false);
const S_DETAILS = lane("details", false);
const S_EPOCH = lane("timestamp_epoch_ns", false);
const T_ID = cell("request_id");
const T_DETAILS = cell("details");
const T_EPOCH = cell("timestamp_epoch_ns");
const T_STEP = cell("iteration_id");
const T_INSTANCE = cell("request_instance");
const TYPES = codes("event_type");

/** What EventLanes hands its lanes to. */
export interface EventLanesSink {
  eventLanes(lanes: TableLanes): void;
}

export class EventLanes implements EventRows {
  readonly lanes: TableLanes;
  private readonly ids = new StringIds();
  private readonly texts: string[] = [];
  /** the last event type and its code: request_scheduled comes in runs of a step's running requests */
  private lastType = "";
  private lastTypeCode = 0;
  /**
   * the last row's timestamp and its epoch text's id in this batch (-1: none yet): a step's events share
   * one time (~250 request_scheduled), so its digits are one string and one text, not one per row
   */
  private lastT = NaN;
  private lastEpochId = -1;

  constructor(
    private readonly sink: EventLanesSink,
    private readonly epoch: (ns: number) => string,
    private readonly dpRank: number,
    capacity = batchRowsFor("events"),
  ) {
    const lanes = { table: "events", rows: 0, capacity, strings: this.ids.strings, fresh: this.ids.fresh, texts: this.texts, ...laneArrays("events", capacity) } as const;
    this.lanes = { ...lanes, pairKeys: DETAIL_PAIRS, pairs: new Float64Array(2 * capacity) };
  }

  request(t: number, type: EventType, r: RequestState, details: string, step: number | null): void {
    this.text(this.begin(t, type, this.idOf(r), r.instance, step), details);
  }

  requestPair(t: number, type: EventType, r: RequestState, kind: number, a: number, b: number, step: number | null): void {
    // pairText's integers are JSON's only for safe integers: any other takes the text
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) return this.request(t, type, r, pairDetails(kind, a, b), step);
    const row = this.begin(t, type, this.idOf(r), r.instance, step);
    const l = this.lanes;
    l.tags[row * COLS + T_DETAILS] = PAIR;
    l.str[row * STRS + S_DETAILS] = kind;
    l.pairs![2 * row] = a;
    l.pairs![2 * row + 1] = b;
    this.end();
  }

  named(t: number, type: EventType, id: string | null, instance: number | null, details: string, step: number | null): void {
    let k = -1;
    if (id !== null) {
      // an id for this batch only: free again once the batch is consumed (settle)
      k = this.ids.acquire(id);
      this.ids.release(k);
    }
    this.text(this.begin(t, type, k, instance, step), details);
  }

  forget(r: RequestState): void {
    if (r.eventLaneId >= 0) this.ids.release(r.eventLaneId);
    r.eventLaneId = -1;
  }

  flush(): void {
    const l = this.lanes;
    if (l.rows > 0) {
      this.sink.eventLanes(l);
      // the sink may have taken the arrays and left others, not cleared
      l.tags.fill(0);
      l.rows = 0;
      this.ids.fresh.length = 0;
      this.texts.length = 0;
      this.lastEpochId = -1;
    }
    this.ids.settle();
  }

  private idOf(r: RequestState): number {
    let id = r.eventLaneId;
    if (id < 0) r.eventLaneId = id = this.ids.acquire(r.id);
    return id;
  }

  /** A row's cells but details; returns its index. `id` < 0: no request. */
  private begin(t: number, type: EventType, id: number, instance: number | null, step: number | null): number {
    const l = this.lanes;
    const row = l.rows;
    const { tags, num, str } = l;
    const c = row * COLS;
    const p = row * NUMS;
    const q = row * STRS;
    num[p + N_TIME] = t;
    if (type !== this.lastType) {
      this.lastType = type;
      this.lastTypeCode = TYPES.get(type)!;
    }
    str[q + S_TYPE] = this.lastTypeCode;
    if (id < 0) tags[c + T_ID] = NULL;
    else str[q + S_ID] = id;
    tags[c + T_EPOCH] = TEXT;
    // the epoch text is a function of t alone (EventObjects computes it per row: the same string)
    if (t !== this.lastT || this.lastEpochId < 0) {
      this.lastT = t;
      this.lastEpochId = this.texts.push(this.epoch(t)) - 1;
    }
    str[q + S_EPOCH] = this.lastEpochId;
    if (step === null) tags[c + T_STEP] = NULL;
    else num[p + N_STEP] = step;
    num[p + N_RANK] = this.dpRank;
    if (instance === null) tags[c + T_INSTANCE] = NULL;
    else num[p + N_INSTANCE] = instance;
    return row;
  }

  /** details as text, and the row is done */
  private text(row: number, details: string): void {
    this.lanes.tags[row * COLS + T_DETAILS] = TEXT;
    this.lanes.str[row * STRS + S_DETAILS] = this.texts.push(details) - 1;
    this.end();
  }

  private end(): void {
    if (++this.lanes.rows === this.lanes.capacity) this.flush();
  }
}
