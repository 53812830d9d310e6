import { compareDecimal } from "./epoch.js";

/** What the queue model needs to know about a waiting request. */
export interface QueueEntry {
  id: string;
  priority: number;
  /** vLLM's arrival_time in epoch ns (decimal string); "" when unknown */
  arrivalKey: string;
  /** in vLLM ≥ 0.33's kv_holding_waiting queue (it kept its KV: a session between turns), which schedule() drains first */
  kvHolding: boolean;
  /** the queue's own mark: which applyStep last placed it (finds duplicates without a set) */
  queueMark?: number;
}

/**
 * The waiting queue as vLLM orders it, reconstructed step by step.
 *
 * FCFS (and unknown policies): vLLM appends arrivals at the tail and prepends each
 * preempted request at the head as it is preempted, so after a step the queue is
 * [preempted in reverse order] + [previous queue + arrivals, minus admitted and
 * finished]. The emitter writes the true order whenever it differs from this rule
 * (for example when skipped requests come back in another order); then it wins.
 *
 * Priority: vLLM pops by (priority, arrival_time, request_id); a preempted request
 * re-enters with its original arrival time, so the order is that sort. vLLM ≥ 0.33 keeps the
 * waiting requests that hold KV blocks (a streaming-input session between turns) in a second
 * queue of the same policy that it drains first, so those sort ahead.
 */
export class WaitingQueue<T extends QueueEntry> {
  private order: T[] = [];
  private pendingArrivals: T[] = [];
  private readonly removed = new Set<string>();
  private mark = 0;
  private distinctOrder = true;
  /**
   * How the last applyStep changed the order: k when it took FCFS's usual step (the first k
   * entries of the previous order left, arrivals joined the tail, nothing else moved), -1
   * when it rebuilt the order. Observers that keep state per queue position shift it by k.
   */
  lastShift = -1;

  constructor(
    private readonly byPriority: boolean,
    private readonly entries: (id: string) => T | undefined,
  ) {}

  arrive(entry: T): void {
    this.pendingArrivals.push(entry);
  }

  /** Removal between steps (abort from waiting) or at admission. */
  remove(id: string): void {
    this.removed.add(id);
  }

  /**
   * Apply one step: preempted requests enter, admitted ones left (via remove()).
   * `recorded` is the emitter's snapshot when it disagreed with the rule.
   * Returns ids the recorded order names that the model did not expect, and vice versa.
   */
  applyStep(preempted: readonly T[], recorded: readonly string[] | null | undefined): { unexpected: string[]; missing: string[] } {
    if (!this.byPriority && !recorded && preempted.length === 0 && this.headAndTail()) return { unexpected: [], missing: [] };
    this.lastShift = -1;
    const removed = this.removed;
    const merged = removed.size ? without(removed, this.order, this.pendingArrivals) : this.order.concat(this.pendingArrivals);
    // a request preempted between steps can be resumed in the same step; the emitter's
    // FCFS rule keeps the preempted head as is (its `order` corrects it), priority sorts
    const back = this.byPriority ? preempted.filter((e) => !removed.has(e.id)) : preempted;
    this.pendingArrivals = [];
    removed.clear();
    let next: T[];
    if (this.byPriority) {
      next = merged.concat(back);
      next.sort((a, b) => this.comparePriority(a, b));
    } else {
      next = back.length ? back.slice().reverse().concat(merged) : merged;
    }
    let unexpected: string[] = [];
    let missing: string[] = [];
    // priority: recorded only where vLLM's heap departs from the sort (a session's chunk changed
    // a queued entry's arrival_time in place), and the next step sorts again
    if (recorded) {
      const expected = new Set(next.map((e) => e.id));
      const got = new Set(recorded);
      unexpected = recorded.filter((id) => !expected.has(id));
      missing = next.filter((e) => !got.has(e.id)).map((e) => e.id);
      next = [];
      for (const id of recorded) {
        const e = this.entries(id);
        if (e) next.push(e);
      }
    }
    this.order = next;
    this.markOrder();
    return { unexpected, missing };
  }

  /**
   * FCFS's usual step, in time proportional to what changed: the requests that left were the
   * queue's head and the arrivals join its tail. The kept entries keep their stamp; those that
   * left lose it. False (nothing changed) when some other entry left.
   */
  private headAndTail(): boolean {
    const removed = this.removed;
    const order = this.order;
    if (!this.distinctOrder) return false;
    let k = 0;
    while (k < order.length && k < removed.size && removed.has(order[k].id)) k++;
    if (k !== removed.size) return false;
    for (const e of this.pendingArrivals) if (removed.has(e.id)) return false;
    const next = order.slice(k);
    this.lastShift = k;
    for (let i = 0; i < k; i++) order[i].queueMark = 0;
    for (const e of this.pendingArrivals) {
      // an arrival already queued (a session's next turn) is there twice, as markOrder finds
      if (e.queueMark === this.mark) this.distinctOrder = false;
      e.queueMark = this.mark;
      next.push(e);
    }
    this.order = next;
    this.pendingArrivals = [];
    removed.clear();
    return true;
  }

  /** Stamps every entry of the new order; an entry already stamped this step is there twice. */
  private markOrder(): void {
    const mark = ++this.mark;
    let distinct = true;
    for (const e of this.order) {
      if (e.queueMark === mark) distinct = false;
      e.queueMark = mark;
    }
    this.distinctOrder = distinct;
  }

  /** Every entry of current() appears once. */
  get distinct(): boolean {
    return this.distinctOrder;
  }

  /** Whether `e` is in current() (as of the last applied step). */
  holds(e: T): boolean {
    return e.queueMark === this.mark;
  }

  private comparePriority(ea: T, eb: T): number {
    if (ea.kvHolding !== eb.kvHolding) return ea.kvHolding ? -1 : 1;
    if (ea.priority !== eb.priority) return ea.priority - eb.priority;
    const c = compareDecimal(ea.arrivalKey, eb.arrivalKey);
    if (c !== 0) return c;
    return ea.id < eb.id ? -1 : ea.id > eb.id ? 1 : 0;
  }

  /** The queue head→tail as of the last applied step. */
  current(): readonly T[] {
    return this.order;
  }


  get size(): number {
    return this.order.length;
  }
}

/** a and b in order, less every entry whose id was removed: one array, no intermediate copy */
function without<T extends QueueEntry>(removed: ReadonlySet<string>, a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  for (const e of a) if (!removed.has(e.id)) out.push(e);
  for (const e of b) if (!removed.has(e.id)) out.push(e);
  return out;
}
