/**
 * Finds live requests by id for a list that mostly repeats the previous one's order: a step's
 * `sched` and an update's `tokens` name the running requests in running order, step after
 * step. A trace's ids are new strings on every line, so a map lookup hashes every one (a
 * tenth of a lean convert at 256 running); the request found at the same place last time,
 * shifted by what left before it, is compared first, and the map is asked only when it is
 * not the one (an admission, a finished request, a malformed trace).
 */
export class ListLookup<T extends { readonly id: string; gone: boolean }> {
  private prev: (T | undefined)[] = [];
  private next: (T | undefined)[] = [];
  private shift = 0;

  constructor(private readonly map: ReadonlyMap<string, T>) {}

  /** The current list's requests so far, entry by entry (undefined: an id the map does not hold). */
  get found(): readonly (T | undefined)[] {
    return this.next;
  }

  /** A new list starts: the one just read becomes the guide. */
  begin(): void {
    const p = this.prev;
    this.prev = this.next;
    this.next = p;
    this.next.length = 0;
    this.shift = 0;
  }

  /** The live request with this id (entry i of the current list), as the map would give it. */
  get(i: number, id: string): T | undefined {
    const prev = this.prev;
    const j = i + this.shift;
    let r = j < prev.length ? prev[j] : undefined;
    // a live request is the map's entry for its id (a finished one is gone: its id may be reused)
    if (r === undefined || r.gone || r.id !== id) {
      r = this.map.get(id);
      if (r !== undefined) this.realign(i, j, r);
    }
    this.next.push(r);
    return r;
  }

  /** Entries that left ahead of it move a request up; look a few places on (and back) for it. */
  private realign(i: number, j: number, r: T): void {
    const prev = this.prev;
    for (let d = 1; d <= 8; d++) {
      if (prev[j + d] === r) return void (this.shift += d);
      if (j - d >= 0 && prev[j - d] === r) return void (this.shift -= d);
    }
  }
}
