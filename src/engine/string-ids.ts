/**
 * Small integer ids for the strings of per_iteration_requests' dictionary columns (request_id,
 * binding_limits) as the engine writes them into lanes: a cell holds the id, and the CSV encoder
 * finds the string's encoded bytes by index instead of hashing the string (a map lookup per
 * request id and label was a sixth of the default convert).
 *
 * A live request holds one id from its first row to its completion; the id is then reused, so
 * the ids stay as few as the live requests, whatever the trace's length. A released id keeps its
 * string until settle(), which the lanes call once the rows written before (which may name it)
 * are consumed: within one batch of lanes an id means one string. Labels are interned for the
 * whole replay (a few distinct strings).
 */
export class StringIds {
  /** id → its string (undefined: free) */
  readonly strings: (string | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly released: number[] = [];
  private readonly interned = new Map<string, number>();
  /** the ids given a string since the owner last emptied it: a consumer that mirrors the strings needs only these (convert --threads) */
  readonly fresh: number[] = [];

  acquire(s: string): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.strings.length;
    this.strings[id] = s;
    this.fresh.push(id);
    return id;
  }

  /** The id is free once the rows written so far are consumed (settle). */
  release(id: number): void {
    this.released.push(id);
  }

  /** The rows written so far were consumed: the ids released meanwhile are free. */
  settle(): void {
    for (const id of this.released) {
      this.strings[id] = undefined;
      this.free.push(id);
    }
    this.released.length = 0;
  }

  /** A permanent id for a string that repeats across the replay. */
  intern(s: string): number {
    let id = this.interned.get(s);
    if (id === undefined) this.interned.set(s, (id = this.acquire(s)));
    return id;
  }
}
