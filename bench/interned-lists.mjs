// Schema 1.3's delta lists (src/schema/raw.ts, "Interned form") for the bench generators:
// a second, independent writer of the rule the CLI's reader (src/parse/interned.ts) and
// the emitter (emitter/src/vsched_emitter/interned.py) follow, so a bench trace checks
// the reader too.
export const KEYFRAME = 100;

const same = (a, b) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

export class ListChain {
  /** handle → position in the previous list (freed handles removed) */
  pos = null;
  pred = null;
  m = 0;
  sinceFull = KEYFRAME;

  /** a freed handle is not carried over: whoever binds it next is a new request */
  forget(h) {
    this.pos?.delete(h);
  }

  /**
   * The JSON of a list of [handle, ...vals]: full, or a delta when one applies and is
   * smaller. `predNext[i]`: what the next record is predicted to carry for entry i.
   */
  field(refs, vals, predNext) {
    const d = this.delta(refs, vals);
    let out;
    if (d === null) {
      this.sinceFull = 0;
      out = `[${refs.map((r, i) => `[${r},${vals[i].join(",")}]`).join(",")}]`;
    } else {
      this.sinceFull++;
      const parts = [`"n":${refs.length}`];
      if (d.drop.length) parts.push(`"drop":[${d.drop.join(",")}]`);
      if (d.add.length) parts.push(`"add":[${d.add.map((j) => `[${j},${refs[j]},${vals[j].join(",")}]`).join(",")}]`);
      if (d.fix.length) parts.push(`"fix":[${d.fix.map((j) => `[${j},${vals[j].join(",")}]`).join(",")}]`);
      out = `{${parts.join(",")}}`;
    }
    this.pos = new Map(refs.map((r, i) => [r, i]));
    this.pred = predNext;
    this.m = refs.length;
    return out;
  }

  delta(refs, vals) {
    if (this.pos === null || this.sinceFull >= KEYFRAME) return null;
    const kept = new Set();
    const add = [];
    const fix = [];
    let last = -1;
    for (let j = 0; j < refs.length; j++) {
      const p = this.pos.get(refs[j]);
      if (p === undefined) {
        add.push(j);
        continue;
      }
      if (p <= last) return null; // carried-over entries reordered
      last = p;
      kept.add(p);
      if (!same(vals[j], this.pred[p])) fix.push(j);
    }
    const drop = [];
    for (let i = 0; i < this.m; i++) if (!kept.has(i)) drop.push(i);
    if (drop.length + 2 * (add.length + fix.length) > refs.length) return null;
    return { drop, add, fix };
  }
}
