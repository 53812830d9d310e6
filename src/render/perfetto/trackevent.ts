import { TIMELINE_COUNTERS, type ChildSlice, type IterationSlice, type RequestSlice, type TimelineProcess, type TimelineSink, type TimelineTotals } from "../../analysis/timeline/types.js";
import { childSliceColor } from "../palette.js";
import { ChunkedFileWriter, ProtoWriter } from "./proto.js";
import { F, intAnn, internedEntry, ORDER_EXPLICIT, SEQ_CLEARED, SEQ_NEEDS, Sequence, strIidAnn, TYPE } from "./trackevent-fields.js";

/**
 * The timeline as Perfetto's native protobuf trace (perfetto.protos.Trace of
 * TracePackets holding TrackDescriptors and TrackEvents), written packet by packet.
 * Field numbers (trackevent-fields.ts) are those of perfetto_trace.proto; test/python/perfetto decodes
 * the output with Perfetto's own generated classes.
 *
 * Size: event names, argument names and repeated string values are interned per
 * packet sequence (InternedData, with SEQ_INCREMENTAL_STATE_CLEARED on a sequence's
 * first packet and SEQ_NEEDS_INCREMENTAL_STATE after); each rank's iterations sequence
 * sets TrackEventDefaults so its events carry neither a track uuid nor the counter
 * tracks' uuids, only the values (extra_counter_values on the step's begin event).
 * Track uuids are small integers handed out in order of first use.
 */

interface RankTracks {
  process: number;
  iterSeq: Sequence;
  reqSeq: Sequence;
  iterLanes: number[];
  counters: number[];
  reqLanes: number[];
}

export class TrackEventRenderer implements TimelineSink {
  private readonly p = new ProtoWriter();
  private readonly ranks = new Map<number, RankTracks>();
  private nextUuid = 1;
  private nextSeq = 1;

  constructor(private readonly out: ChunkedFileWriter) {}

  process(proc: TimelineProcess): void {
    const uuid = this.nextUuid++;
    this.descriptor(uuid, null, null, 0, (p) => {
      p.begin(F.tdProcess);
      p.uint(F.pid, proc.rank + 1);
      p.string(F.processName, proc.name);
      p.end();
      p.uint(F.tdChildOrdering, ORDER_EXPLICIT);
    });
    const counters = TIMELINE_COUNTERS.map((c, i) => {
      const cu = this.nextUuid++;
      this.descriptor(cu, uuid, c.name, 100 + i, (p) => {
        p.begin(F.tdCounter);
        p.string(F.counterUnitName, c.unit);
        p.end();
      });
      return cu;
    });
    const r: RankTracks = { process: uuid, iterSeq: new Sequence(this.nextSeq++), reqSeq: new Sequence(this.nextSeq++), iterLanes: [], counters, reqLanes: [] };
    this.ranks.set(proc.rank, r);
    this.iterLane(r, 0);
    // sequence starts: cleared incremental state; the iterations sequence's defaults
    this.startSequence(r.iterSeq, (p) => {
      p.begin(F.defaults);
      p.begin(F.trackEventDefaults);
      p.uint(F.trackUuid, r.iterLanes[0]);
      for (const c of counters) p.uint(F.extraCounterUuids, c);
      p.end();
      p.end();
    });
    this.startSequence(r.reqSeq, null);
  }

  iteration(it: IterationSlice): void {
    const r = this.ranks.get(it.rank)!;
    const track = this.iterLane(r, it.lane);
    const seq = r.iterSeq;
    const p = this.p;
    const name = seq.name(it.scheduler_action);
    const ann = [seq.annName("step"), seq.annName("batch_size"), seq.annName("prefill_tokens"), seq.annName("decode_tokens"), seq.annName("scheduling_overhead_ns"), seq.annName("scheduler_action")];
    const action = seq.str(it.scheduler_action);
    const unfinished = it.unfinished ? seq.annName("unfinished") : 0;
    this.eventPacket(seq, it.start_ns, () => {
      p.uint(F.type, TYPE.begin);
      if (it.lane !== 0) p.uint(F.trackUuid, track);
      p.uint(F.nameIid, name);
      intAnn(p, ann[0], it.step);
      intAnn(p, ann[1], it.batch_size);
      intAnn(p, ann[2], it.prefill_tokens);
      intAnn(p, ann[3], it.decode_tokens);
      intAnn(p, ann[4], it.scheduling_overhead_ns);
      strIidAnn(p, ann[5], action);
      if (unfinished) intAnn(p, unfinished, 1);
      for (const v of it.counters) p.int(F.extraCounterValues, v);
    });
    this.eventPacket(seq, it.end_ns, () => {
      p.uint(F.type, TYPE.end);
      if (it.lane !== 0) p.uint(F.trackUuid, track);
    });
  }

  request(q: RequestSlice): void {
    const r = this.ranks.get(q.rank)!;
    const track = this.reqLane(r, q.lane);
    const seq = r.reqSeq;
    const p = this.p;
    // intern before the packet is written: its interned_data goes out ahead of the event
    const args: [number, number, boolean][] = [];
    for (const [k, v] of Object.entries(q.args)) {
      if (v === null) continue;
      args.push(typeof v === "number" ? [seq.annName(k), v, false] : [seq.annName(k), seq.str(v), true]);
    }
    this.eventPacket(seq, q.start_ns, () => {
      p.uint(F.type, TYPE.begin);
      p.uint(F.trackUuid, track);
      p.string(F.name, q.id);
      for (const [k, v, isStr] of args) (isStr ? strIidAnn : intAnn)(p, k, v);
    });
    // children in time order; a depth-2 slice closes before its depth-1 parent
    let open: ChildSlice | null = null;
    const first = q.first_token_ns;
    let firstDone = first === null;
    const instantBefore = (t: number) => {
      if (!firstDone && first! < t) {
        firstDone = true;
        this.instant(seq, track, first!);
      }
    };
    for (const c of q.children) {
      if (c.depth === 1 && open) {
        instantBefore(open.end_ns);
        this.endEvent(seq, track, open.end_ns);
        open = null;
      }
      instantBefore(c.start_ns);
      this.childBegin(seq, track, c);
      if (c.depth === 1 && c.name === "preempted") open = c;
      else {
        instantBefore(c.end_ns);
        this.endEvent(seq, track, c.end_ns);
      }
    }
    if (open) {
      instantBefore(open.end_ns);
      this.endEvent(seq, track, open.end_ns);
    }
    if (!firstDone) this.instant(seq, track, first!);
    this.endEvent(seq, track, q.end_ns);
  }

  end(_totals: TimelineTotals): void {
    this.out.flush();
  }

  // ---- packets ---------------------------------------------------------------

  private childBegin(seq: Sequence, track: number, c: ChildSlice): void {
    const p = this.p;
    const name = seq.name(c.name);
    const colorName = seq.annName("color");
    const color = seq.str(childSliceColor(c.name));
    const args = Object.entries(c.args).map(([k, v]) => [seq.annName(k), v] as const);
    this.eventPacket(seq, c.start_ns, () => {
      p.uint(F.type, TYPE.begin);
      p.uint(F.trackUuid, track);
      p.uint(F.nameIid, name);
      strIidAnn(p, colorName, color);
      for (const [k, v] of args) if (typeof v === "number") intAnn(p, k, v);
      if (c.flow_out !== undefined) p.fixed64(F.flowIds, c.flow_out);
      if (c.flow_in !== undefined) p.fixed64(F.terminatingFlowIds, c.flow_in);
    });
  }

  private instant(seq: Sequence, track: number, t: number): void {
    const name = seq.name("first token");
    this.eventPacket(seq, t, () => {
      this.p.uint(F.type, TYPE.instant);
      this.p.uint(F.trackUuid, track);
      this.p.uint(F.nameIid, name);
    });
  }

  private endEvent(seq: Sequence, track: number, t: number): void {
    this.eventPacket(seq, t, () => {
      this.p.uint(F.type, TYPE.end);
      this.p.uint(F.trackUuid, track);
    });
  }

  /** a TracePacket with a timestamp, the sequence's new interned entries, and one TrackEvent */
  private eventPacket(seq: Sequence, t: number, body: () => void): void {
    const p = this.p;
    p.reset();
    p.uint(F.timestamp, t);
    p.uint(F.seqId, seq.id);
    p.uint(F.seqFlags, SEQ_NEEDS);
    if (seq.newNames.length || seq.newAnnNames.length || seq.newStrings.length) {
      p.begin(F.internedData);
      for (const [iid, s] of seq.newNames) internedEntry(p, F.eventNames, iid, s);
      for (const [iid, s] of seq.newAnnNames) internedEntry(p, F.annotationNames, iid, s);
      for (const [iid, s] of seq.newStrings) internedEntry(p, F.annotationStrings, iid, s);
      p.end();
      seq.newNames = [];
      seq.newAnnNames = [];
      seq.newStrings = [];
    }
    p.begin(F.trackEvent);
    body();
    p.end();
    this.out.packet(p);
  }

  private startSequence(seq: Sequence, defaults: ((p: ProtoWriter) => void) | null): void {
    const p = this.p;
    p.reset();
    p.uint(F.seqId, seq.id);
    p.uint(F.seqFlags, SEQ_CLEARED);
    defaults?.(p);
    this.out.packet(p);
  }

  private descriptor(uuid: number, parent: number | null, name: string | null, rank: number, extra: ((p: ProtoWriter) => void) | null): void {
    const p = this.p;
    p.reset();
    p.begin(F.trackDescriptor);
    p.uint(F.tdUuid, uuid);
    if (parent !== null) p.uint(F.tdParent, parent);
    if (name !== null) p.string(F.tdName, name);
    if (parent !== null) p.int(F.tdSiblingRank, rank);
    extra?.(p);
    p.end();
    this.out.packet(p);
  }

  private iterLane(r: RankTracks, lane: number): number {
    while (r.iterLanes.length <= lane) {
      const uuid = this.nextUuid++;
      const n = r.iterLanes.length;
      this.descriptor(uuid, r.process, n === 0 ? "iterations" : `iterations (overlapping ${n})`, n, (p) =>
        p.string(F.tdDescription, "one slice per scheduler step, named by its scheduler_action; steps that overlap (async scheduling) go to the next iterations track"),
      );
      r.iterLanes.push(uuid);
    }
    return r.iterLanes[lane];
  }

  private reqLane(r: RankTracks, lane: number): number {
    while (r.reqLanes.length <= lane) {
      const uuid = this.nextUuid++;
      const n = r.reqLanes.length;
      this.descriptor(uuid, r.process, `requests ${n}`, 1000 + n, null);
      r.reqLanes.push(uuid);
    }
    return r.reqLanes[lane];
  }
}
