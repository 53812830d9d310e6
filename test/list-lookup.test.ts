import { describe, expect, it } from "vitest";
import { ListLookup } from "../src/engine/list-lookup.js";
import { rng } from "./helpers/rng.js";

/**
 * ListLookup answers what the map would (the live request of each id) while it guesses from
 * the last list's order: random running lists that lose members, gain admissions, reorder a
 * little, skip some, and reuse the ids of finished requests.
 */
interface Req {
  id: string;
  gone: boolean;
}

describe("ListLookup", () => {
  it("gives the map's request for every entry of 2,000 random lists (seed 77)", () => {
    const r = rng(77);
    const int = (n: number) => Math.floor(r() * n);
    const live = new Map<string, Req>();
    const find = new ListLookup(live);
    let running: Req[] = [];
    let guesses = 0;
    for (let step = 0; step < 2000; step++) {
      // finish a few (their ids may come back as new requests), admit a few
      for (let k = int(3); k > 0 && running.length > 0; k--) {
        const gone = running.splice(int(running.length), 1)[0];
        gone.gone = true;
        live.delete(gone.id);
      }
      for (let k = int(4); k > 0; k--) {
        const id = `r${int(60)}`;
        if (live.has(id)) continue;
        const fresh = { id, gone: false };
        live.set(id, fresh);
        running.push(fresh);
      }
      if (int(10) === 0 && running.length > 1) running = [...running.slice(1), running[0]];
      // the list names most running requests (some got no tokens), in fresh strings, plus an unknown id
      const list = running.filter(() => int(8) !== 0).map((q) => `${q.id}`.slice(0));
      if (int(20) === 0) list.push("unknown");
      find.begin();
      list.forEach((id, i) => {
        const got = find.get(i, id);
        expect(got).toBe(live.get(id));
        if (got) guesses++;
      });
    }
    expect(guesses).toBeGreaterThan(10000);
  });
});
