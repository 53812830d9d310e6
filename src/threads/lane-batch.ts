import { layout, PAIR, pairText, TEXT, type TableLanes } from "../schema/lanes.js";
import type { TableName } from "../schema/tables.js";
import { entriesHeap, LocalEntries } from "./local-entries.js";
import type { Lanes, RowBatch } from "./row-batch.js";

/**
 * The engine's own lanes (per_iteration_requests and events, src/engine/iteration-request-lanes.ts
 * and event-lanes.ts) posted as a RowBatch without a fill of the cells: its arrays go out as they are, and the engine gets spare ones
 * (returned by the consumer with the credit) to fill next. Its string cells are the engine's ids
 * (a request's for its lifetime, then reused); each slot's consumer mirrors the strings of the ids
 * it was sent, so a batch carries, with their ids (RowBatch.dictIds), the strings of the ids given
 * a string since its slot's last batch (TableLanes.fresh: no scan of the cells). The lanes' TEXT
 * cells (events' epoch digits and details) are ids into TableLanes.texts, so the texts become the
 * batch's first local entries, in order: entry k is text k, and the cells go as they are.
 */
export class LaneBatcher {
  /** per slot, per id: the string its consumer holds for it */
  private readonly sent: (string | undefined)[][];
  /** per slot: the ids given a string since its last batch, before this batch's */
  private readonly pending: number[][];
  private slot = 0;
  private heapUsed = 0;
  private readonly spare: Lanes[] = [];

  constructor(
    readonly table: TableName,
    private readonly slots: number,
  ) {
    this.sent = Array.from({ length: slots }, () => []);
    this.pending = Array.from({ length: slots }, () => []);
  }

  /** The lanes' rows as a batch for the next slot; the lanes get other arrays to fill. */
  take(l: TableLanes): RowBatch {
    const back = this.spare.pop();
    const entries = new LocalEntries(entriesHeap(back?.heap, this.heapUsed));
    for (const s of l.texts) entries.add(s);
    if (l.pairs && l.pairKeys) pairsAsTexts(l, entries);
    const dictNew: number[] = [];
    const dictIds: number[] = [];
    const sent = this.sent[this.slot];
    const send = (ids: readonly number[]) => {
      for (const id of ids) {
        const s = l.strings[id];
        // undefined: released since, not in this batch (reused later, it is fresh again)
        if (s === undefined || sent[id] === s) continue;
        sent[id] = s;
        dictIds.push(id);
        dictNew.push(entries.add(s));
      }
    };
    send(this.pending[this.slot]);
    send(l.fresh);
    this.pending[this.slot] = [];
    for (let k = 0; k < this.slots; k++) if (k !== this.slot) for (const id of l.fresh) this.pending[k].push(id);
    const b: RowBatch = { table: this.table, rows: l.rows, slot: this.slot, dictReset: false, dictNew: Int32Array.from(dictNew), dictIds: Int32Array.from(dictIds), tags: l.tags, num: l.num, str: l.str, ...entries.fields() };
    this.heapUsed = entries.bytes;
    const same = back && back.tags.length === l.tags.length && back.num.length === l.num.length && back.str.length === l.str.length;
    l.tags = same ? back.tags : new Uint8Array(l.tags.length);
    l.num = same ? back.num : new Float64Array(l.num.length);
    l.str = same ? back.str : new Int32Array(l.str.length);
    this.slot = (this.slot + 1) % this.slots;
    return b;
  }

  /** A batch's buffers back from its consumer (a few are kept). */
  recycle(l: Lanes): void {
    if (this.spare.length < 16) this.spare.push(l);
  }
}

/** PAIR cells (events' details) go as TEXT entries: a batch has no pairs lane, its consumer reads text */
function pairsAsTexts(l: TableLanes, entries: LocalEntries): void {
  const lay = layout(l.table);
  const n = lay.cols.length;
  const { tags, str } = l;
  const pairs = l.pairs!;
  const keys = l.pairKeys!;
  for (let k = 0; k < n; k++) {
    if (lay.lane[k].kind !== "json") continue;
    const s = lay.lane[k].index;
    for (let r = 0; r < l.rows; r++) {
      if (tags[r * n + k] !== PAIR) continue;
      const q = r * lay.nStr + s;
      tags[r * n + k] = TEXT;
      str[q] = entries.add(pairText(keys[str[q]], pairs[2 * r], pairs[2 * r + 1]));
    }
  }
}
