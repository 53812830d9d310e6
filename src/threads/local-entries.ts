import type { RowBatch } from "./row-batch.js";

/**
 * A batch's local entries: strings written as bytes into one heap, to cross to another thread
 * inside the batch's buffers (strings cannot be transferred). ASCII (UTF-8 as long as the string:
 * every character below 0x80) is kept as one byte per character and read back as latin1;
 * anything else goes as UTF-16 code units, exact for any JS string (lone surrogates too).
 */
export class LocalEntries {
  private heap: Buffer;
  private used = 0;
  private readonly starts: number[] = [0];
  private readonly wide: number[] = [];

  /** `heap`: a buffer to write into, not from Node's pool (its whole ArrayBuffer is transferred) */
  constructor(heap: Buffer) {
    this.heap = heap;
  }

  /** bytes written so far */
  get bytes(): number {
    return this.used;
  }

  /** Adds `s`; returns its entry number. */
  add(s: string): number {
    const need = this.used + 2 * s.length;
    if (need > this.heap.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.heap.length));
      this.heap.copy(grown, 0, 0, this.used);
      this.heap = grown;
    }
    // One native write for a long string, no regex; short strings (epoch digits, most ids) by a
    // charCodeAt loop: cheaper than a call into C++.
    let n = s.length;
    let wide = 0;
    if (n <= 64) {
      const h = this.heap;
      const at = this.used;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) {
          wide = 1;
          break;
        }
        h[at + i] = c;
      }
    } else wide = this.heap.write(s, this.used, "utf8") === n ? 0 : 1;
    if (wide) n = this.heap.write(s, this.used, "utf16le");
    this.used += n;
    this.starts.push(this.used);
    this.wide.push(wide);
    return this.wide.length - 1;
  }

  /** The batch's fields for these entries (the heap's used part). */
  fields(): Pick<RowBatch, "heap" | "starts" | "wide"> {
    return { heap: new Uint8Array(this.heap.buffer, this.heap.byteOffset, this.used), starts: Int32Array.from(this.starts), wide: Uint8Array.from(this.wide) };
  }
}

/** The heap for a batch's entries: a returned one if big enough for what the last batch used (plus a quarter), else a new one. */
export function entriesHeap(spare: Uint8Array | undefined, lastUsed: number): Buffer {
  const want = Math.max(1 << 12, lastUsed + (lastUsed >> 2));
  return spare && spare.length >= want ? Buffer.from(spare.buffer, spare.byteOffset, spare.length) : Buffer.allocUnsafeSlow(want);
}
