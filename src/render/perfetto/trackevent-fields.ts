import type { ProtoWriter } from "./proto.js";

/**
 * Field numbers of the perfetto_trace.proto messages the timeline writes (TracePacket,
 * TrackEvent, TrackDescriptor, InternedData, DebugAnnotation, …), checked against
 * Perfetto's generated classes by test/python/perfetto, and the per-sequence interning.
 */
export const F = {
  // TracePacket
  timestamp: 8,
  seqId: 10,
  trackEvent: 11,
  internedData: 12,
  seqFlags: 13,
  defaults: 59,
  trackDescriptor: 60,
  // TracePacketDefaults
  trackEventDefaults: 11,
  // TrackEventDefaults / TrackEvent
  trackUuid: 11,
  extraCounterUuids: 31,
  // TrackEvent
  debugAnnotations: 4,
  type: 9,
  nameIid: 10,
  extraCounterValues: 12,
  name: 23,
  flowIds: 47,
  terminatingFlowIds: 48,
  // DebugAnnotation
  annNameIid: 1,
  annInt: 4,
  annString: 6,
  annStringIid: 17,
  // InternedData
  eventNames: 2,
  annotationNames: 3,
  annotationStrings: 29,
  // TrackDescriptor
  tdUuid: 1,
  tdName: 2,
  tdProcess: 3,
  tdParent: 5,
  tdCounter: 8,
  tdChildOrdering: 11,
  tdSiblingRank: 12,
  tdDescription: 14,
  // ProcessDescriptor
  pid: 1,
  processName: 6,
  // CounterDescriptor
  counterUnitName: 6,
} as const;

export const TYPE = { begin: 1, end: 2, instant: 3 } as const;
export const SEQ_CLEARED = 1;
export const SEQ_NEEDS = 2;
export const ORDER_EXPLICIT = 3;

/** One packet sequence with its own interning tables. */
export class Sequence {
  readonly names = new Map<string, number>();
  readonly annNames = new Map<string, number>();
  readonly strings = new Map<string, number>();
  newNames: [number, string][] = [];
  newAnnNames: [number, string][] = [];
  newStrings: [number, string][] = [];

  constructor(readonly id: number) {}

  private intern(m: Map<string, number>, pending: [number, string][], s: string): number {
    let iid = m.get(s);
    if (iid === undefined) {
      iid = m.size + 1;
      m.set(s, iid);
      pending.push([iid, s]);
    }
    return iid;
  }
  name(s: string): number {
    return this.intern(this.names, this.newNames, s);
  }
  annName(s: string): number {
    return this.intern(this.annNames, this.newAnnNames, s);
  }
  str(s: string): number {
    return this.intern(this.strings, this.newStrings, s);
  }
}

export function intAnn(p: ProtoWriter, nameIid: number, v: number): void {
  p.begin(F.debugAnnotations);
  p.uint(F.annNameIid, nameIid);
  p.int(F.annInt, v);
  p.end();
}

export function strIidAnn(p: ProtoWriter, nameIid: number, strIid: number): void {
  p.begin(F.debugAnnotations);
  p.uint(F.annNameIid, nameIid);
  p.uint(F.annStringIid, strIid);
  p.end();
}

export function internedEntry(p: ProtoWriter, field: number, iid: number, s: string): void {
  p.begin(field);
  p.uint(1, iid);
  p.string(2, s);
  p.end();
}
