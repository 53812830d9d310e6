import type { InternedStepRecord, InternedUpdateRecord, WireRecord } from "../schema/raw.js";
import { PARSE_CODES } from "./messages.js";

/**
 * Schema 1.3's interned form back to the resolved records every reader hands on (see
 * "Interned form" in src/schema/raw.ts): handles become the request ids their arrival
 * records bound, delta lists become full lists. Records are rewritten in place, so the
 * engine and every table see exactly what a 1.1 trace of the same run gives them.
 *
 * Memory is bounded by the live requests: a handle is dropped by the record that finishes
 * its request, and the previous lists a delta applies to are one step's.
 */
export interface DecodeFault {
  code: string;
  /** dotted field path in the record as written */
  path: string;
  reason: string;
}

type Ref = number | string;

/** One list a delta applies to: the references as written and the counts of each entry. */
interface Prev {
  refs: Ref[];
  n: number[];
  /** sched only: computed tokens before the step */
  c: number[] | null;
}

class Fault extends Error {
  constructor(readonly fault: DecodeFault) {
    super(fault.reason);
  }
}

const bad = (code: string, path: string, reason: string): never => {
  throw new Fault({ code, path, reason });
};

interface Delta {
  n: number;
  drop?: number[];
  add?: unknown[][];
  fix?: unknown[][];
}

export class InternedDecoder {
  /** handle → request id, live requests only */
  private readonly ids = new Map<number, string>();
  private sched: Prev | null = null;
  private tokens: Prev | null = null;

  /** live handles (for tests of the memory bound) */
  get liveHandles(): number {
    return this.ids.size;
  }

  /**
   * A line was skipped (--lenient, validate): what it held is unknown, so no delta may
   * apply across it; the next full list starts the chains again.
   */
  broken(): void {
    this.sched = null;
    this.tokens = null;
  }

  /** Rewrites `rec` to its resolved form; returns the first fault instead, leaving the chains broken. */
  decode(rec: WireRecord): DecodeFault | null {
    try {
      this.apply(rec);
      return null;
    } catch (e) {
      if (e instanceof Fault) {
        this.broken();
        return e.fault;
      }
      throw e;
    }
  }

  private apply(rec: WireRecord): void {
    switch (rec.type) {
      case "arrival": {
        const h = rec.h;
        if (h !== undefined) {
          this.ids.set(h, rec.req);
          delete rec.h;
        }
        return;
      }
      case "step":
        return this.step(rec);
      case "update":
        return this.update(rec);
      case "finish": {
        const ref = rec.req;
        rec.req = this.id(ref, "req");
        if (typeof ref === "number") this.ids.delete(ref);
        return;
      }
      case "score":
      case "prediction":
      case "chunk":
        rec.req = this.id(rec.req, "req");
        return;
      default:
        return;
    }
  }

  private id(ref: Ref, path: string): string {
    if (typeof ref === "string") return ref;
    const id = this.ids.get(ref);
    if (id === undefined) bad(PARSE_CODES.unknownHandle, path, `handle ${ref} is not bound to a request (no arrival record gave it, or its request finished)`);
    return id!;
  }

  /** rewrites the first item of every tuple of `list` from a reference to an id */
  private ids0(list: unknown[][] | undefined, path: string): void {
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      e[0] = this.id(e[0] as Ref, `${path}.${i}.0`);
    }
  }

  private step(rec: InternedStepRecord): void {
    const prev = Array.isArray(rec.sched) ? full(rec.sched as unknown[][], true) : applyDelta(this.sched, rec.sched as Delta, true, "sched");
    this.sched = prev;
    const sched: [string, number, number][] = new Array(prev.refs.length);
    for (let i = 0; i < sched.length; i++) sched[i] = [this.id(prev.refs[i], `sched.${i}.0`), prev.n[i], prev.c![i]];
    (rec as { sched: unknown }).sched = sched;
    this.ids0(rec.new as unknown[][], "new");
    this.ids0(rec.resumed as unknown[][], "resumed");
    const pre = rec.preempted as Ref[];
    for (let i = 0; i < pre.length; i++) pre[i] = this.id(pre[i], `preempted.${i}`);
    this.ids0(rec.kv_fail as unknown[][], "kv_fail");
    if (rec.stop && rec.stop.req !== null) rec.stop.req = this.id(rec.stop.req, "stop.req");
    this.ids0(rec.skipped as unknown[][] | undefined, "skipped");
    this.ids0(rec.blocks as unknown[][] | undefined, "blocks");
    if (rec.order) {
      const o = rec.order as Ref[];
      for (let i = 0; i < o.length; i++) o[i] = this.id(o[i], `order.${i}`);
    }
    this.ids0(rec.probe as unknown[][] | undefined, "probe");
    if (rec.reorder) {
      for (const f of ["before", "after"] as const) {
        const o = rec.reorder[f] as Ref[];
        for (let i = 0; i < o.length; i++) o[i] = this.id(o[i], `reorder.${f}.${i}`);
      }
    }
  }

  private update(rec: InternedUpdateRecord): void {
    const prev = Array.isArray(rec.tokens) ? full(rec.tokens as unknown[][], false) : applyDelta(this.tokens, rec.tokens as Delta, false, "tokens");
    this.tokens = prev;
    const tokens: [string, number][] = new Array(prev.refs.length);
    for (let i = 0; i < tokens.length; i++) tokens[i] = [this.id(prev.refs[i], `tokens.${i}.0`), prev.n[i]];
    (rec as { tokens: unknown }).tokens = tokens;
    const finished = rec.finished as unknown[][];
    const freed: Ref[] = finished.map((e) => e[0] as Ref);
    this.ids0(finished, "finished");
    this.ids0(rec.blocks as unknown[][] | undefined, "blocks");
    this.ids0(rec.turn_ends as unknown[][] | undefined, "turn_ends");
    // freed after the whole record: its blocks may name the requests it finishes
    for (const ref of freed) if (typeof ref === "number") this.ids.delete(ref);
  }
}

function full(list: unknown[][], withComputed: boolean): Prev {
  const refs: Ref[] = new Array(list.length);
  const n: number[] = new Array(list.length);
  const c: number[] | null = withComputed ? new Array(list.length) : null;
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    refs[i] = e[0] as Ref;
    n[i] = e[1] as number;
    if (c) c[i] = e[2] as number;
  }
  return { refs, n, c };
}

/** The delta rule of src/schema/raw.ts; throws RAW_BAD_DELTA when it does not fit `prev`. */
function applyDelta(prev: Prev | null, d: Delta, withComputed: boolean, field: string): Prev {
  const code = PARSE_CODES.badDelta;
  if (prev === null) return bad(code, field, "a delta with no previous full list to apply to (the first record of its type, or one after a skipped line)");
  const drop = d.drop ?? [];
  const add = d.add ?? [];
  const fix = d.fix ?? [];
  const n = d.n;
  const m = prev.refs.length;
  if (m - drop.length + add.length !== n) bad(code, `${field}.n`, `${n} entries cannot come from ${m} previous ones less ${drop.length} dropped plus ${add.length} added`);
  for (let i = 0; i < drop.length; i++) {
    if (drop[i] >= m || (i > 0 && drop[i] <= drop[i - 1])) bad(code, `${field}.drop.${i}`, `positions must be ascending and below the previous list's length ${m}`);
  }
  for (let i = 0; i < add.length; i++) {
    const p = add[i][0] as number;
    if (p >= n || (i > 0 && p <= (add[i - 1][0] as number))) bad(code, `${field}.add.${i}.0`, `positions must be ascending and below the list's length ${n}`);
  }
  const refs: Ref[] = new Array(n);
  const cnt: number[] = new Array(n);
  const c: number[] | null = withComputed ? new Array(n) : null;
  let ai = 0;
  let di = 0;
  let src = 0;
  for (let j = 0; j < n; j++) {
    if (ai < add.length && add[ai][0] === j) {
      const e = add[ai++];
      refs[j] = e[1] as Ref;
      cnt[j] = e[2] as number;
      if (c) c[j] = e[3] as number;
      continue;
    }
    while (di < drop.length && drop[di] === src) {
      di++;
      src++;
    }
    refs[j] = prev.refs[src];
    cnt[j] = prev.n[src];
    if (c) c[j] = prev.c![src] + prev.n[src];
    src++;
  }
  for (let i = 0; i < fix.length; i++) {
    const e = fix[i];
    const p = e[0] as number;
    if (p >= n) bad(code, `${field}.fix.${i}.0`, `position ${p} is beyond the list's length ${n}`);
    cnt[p] = e[1] as number;
    if (c) c[p] = e[2] as number;
  }
  return { refs, n: cnt, c };
}
