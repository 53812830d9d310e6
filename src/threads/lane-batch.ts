import { layout, type TableLanes } from "../schema/lanes.js";
import type { TableName } from "../schema/tables.js";
import { entriesHeap, LocalEntries } from "./local-entries.js";
import type { Lanes, RowBatch } from "./row-batch.js";

/**
 * The engine's own lanes (per_iteration_requests, src/engine/iteration-request-lanes.ts) posted
 * as a RowBatch without a fill: its arrays go out as they are, and the engine gets spare ones
 * (returned by the consumer with the credit) to fill next. Its string cells are the engine's ids
 * (a request's for its lifetime, then reused); each slot's consumer mirrors the strings of the ids
 * it was sent, so a batch carries the strings of the ids whose string its slot does not hold yet
 * (new, or the id was reused), with their ids (RowBatch.dictIds).
 */
export class LaneBatcher {
  /** per slot, per id: the string its consumer holds for it */
  private readonly sent: (string | undefined)[][];
  /** [cell, str lane index] of the string columns whose untagged cells with an id ≥ 0 are dictionary strings */
  private readonly dictCols: [number, number][];
  private readonly cols: number;
  private readonly nStr: number;
  private slot = 0;
  private heapUsed = 0;
  private readonly spare: Lanes[] = [];

  constructor(
    readonly table: TableName,
    private readonly slots: number,
  ) {
    const lay = layout(table);
    this.cols = lay.cols.length;
    this.nStr = lay.nStr;
    this.dictCols = lay.lane.flatMap((l, k): [number, number][] => (l.dedupe ? [[k, l.index]] : []));
    this.sent = Array.from({ length: slots }, () => []);
  }

  /** The lanes' rows as a batch for the next slot; the lanes get other arrays to fill. */
  take(l: TableLanes): RowBatch {
    const sent = this.sent[this.slot];
    const back = this.spare.pop();
    const entries = new LocalEntries(entriesHeap(back?.heap, this.heapUsed));
    const dictNew: number[] = [];
    const dictIds: number[] = [];
    const { tags, str, strings } = l;
    for (let r = 0; r < l.rows; r++) {
      for (const [k, j] of this.dictCols) {
        if (tags[r * this.cols + k] !== 0) continue;
        const id = str[r * this.nStr + j];
        if (id < 0 || sent[id] === strings[id]) continue;
        const s = strings[id]!;
        sent[id] = s;
        dictIds.push(id);
        dictNew.push(entries.add(s));
      }
    }
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
