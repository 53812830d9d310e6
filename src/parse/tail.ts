import { open, stat } from "node:fs/promises";
import { createGunzip, constants as zlibConstants, type Gunzip } from "node:zlib";
import { LineSplitter } from "./lines.js";
import { TraceRecordParser } from "./records.js";
import type { HeaderRecord, RawRecord } from "../schema/raw.js";

/**
 * Follows one growing trace file (vsched watch): each poll() reads the bytes written since
 * the last one and hands complete records on; an incomplete last line waits for the rest.
 * A .jsonl.gz being written is readable up to the emitter's last flush (it flushes the
 * compressor with Z_SYNC_FLUSH, at least every 50 ms), through one streaming inflater.
 * What would stop a one-shot reader (a file deleted or shrunk, a bad line, a gzip that
 * cannot be inflated) becomes a note and, where the file cannot go on, the end of its tail.
 */
export type TailNoteCode =
  | "TAIL_NEW_FILE"
  | "TAIL_DELETED"
  | "TAIL_SHRUNK"
  | "TAIL_BAD_LINE"
  | "TAIL_BAD_RECORD"
  | "TAIL_BAD_GZIP"
  | "TAIL_INCOMPLETE_LINE"
  | "TAIL_UNREADABLE";

/** What happened to a followed file; worded by src/render/watch-text.ts. */
export interface TailNote {
  file: string;
  code: TailNoteCode;
  line?: number;
  /** the facts: sizes, an error, the code of a skipped line's fault */
  args: Record<string, string | number | null>;
}

export interface TailHandlers {
  onHeader(header: HeaderRecord): void;
  onRecord(record: RawRecord, line: number): void;
  onNote(note: TailNote): void;
}

/** Most bytes one poll reads from one file, so a large backlog does not stall the view. */
const POLL_BYTES = 8 << 20;

export class TraceTail {
  private offset = 0;
  private readonly splitter = new LineSplitter();
  private readonly parser: TraceRecordParser;
  private gunzip: Gunzip | null = null;
  private gzipChecked = false;
  /** false once the file cannot be followed any further */
  active = true;
  /** the trace's end record arrived */
  ended = false;

  constructor(
    readonly path: string,
    readonly display: string,
    private readonly handlers: TailHandlers,
  ) {
    this.parser = new TraceRecordParser(
      display,
      {
        lenient: true,
        onFault: (f) => handlers.onNote({ file: display, code: "TAIL_BAD_LINE", line: f.line, args: { detail: f.code } }),
      },
      (rec, line) => {
        if (rec.type === "end") this.ended = true;
        handlers.onRecord(rec, line);
      },
      (header) => handlers.onHeader(header),
    );
  }

  /** Reads what was appended since the last poll (at most POLL_BYTES). */
  async poll(): Promise<void> {
    if (!this.active) return;
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.stop(code === "ENOENT" ? "TAIL_DELETED" : "TAIL_UNREADABLE", { error: code ?? String(e) });
    }
    if (size < this.offset) return this.stop("TAIL_SHRUNK", { was: this.offset, now: size });
    if (size === this.offset) return;
    const want = Math.min(size - this.offset, POLL_BYTES);
    const buf = Buffer.alloc(want);
    let got = 0;
    try {
      const fh = await open(this.path, "r");
      try {
        got = (await fh.read(buf, 0, want, this.offset)).bytesRead;
      } finally {
        await fh.close();
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.stop(code === "ENOENT" ? "TAIL_DELETED" : "TAIL_UNREADABLE", { error: code ?? String(e) });
    }
    this.offset += got;
    const bytes = buf.subarray(0, got);
    if (!this.gzipChecked) {
      this.gzipChecked = true;
      if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) this.gunzip = this.makeGunzip();
    }
    if (this.gunzip) await this.inflate(bytes);
    else this.lines(bytes);
  }

  /** Call once when watching ends: an unterminated last line is reported, not guessed at. */
  finish(): void {
    if (!this.active) return;
    const tail = this.splitter.end();
    if (tail && tail.text.trim() !== "") {
      this.handlers.onNote({ file: this.display, code: "TAIL_INCOMPLETE_LINE", line: tail.line, args: {} });
    }
    this.active = false;
  }

  private lines(bytes: Buffer): void {
    if (!this.active) return;
    try {
      this.splitter.push(bytes, this.parser.line);
    } catch (e) {
      this.stop("TAIL_BAD_LINE", { error: (e as Error).message.split("\n")[0] });
    }
  }

  private makeGunzip(): Gunzip {
    // Z_SYNC_FLUSH: inflate what has arrived without waiting for the gzip trailer
    const g = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
    g.on("data", (chunk: Buffer) => this.lines(chunk));
    g.on("error", (e) => this.stop("TAIL_BAD_GZIP", { error: e.message }));
    return g;
  }

  private inflate(bytes: Buffer): Promise<void> {
    const g = this.gunzip!;
    return new Promise((resolve) => {
      const done = () => setImmediate(resolve);
      g.once("error", done);
      g.write(bytes);
      g.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        g.off("error", done);
        done();
      });
    });
  }

  /** Stops following this file (the consumer could not go on with its records). */
  abandon(code: TailNoteCode, args: TailNote["args"], line?: number): void {
    this.stop(code, args, line);
  }

  private stop(code: TailNoteCode, args: TailNote["args"], line?: number): void {
    if (!this.active) return;
    this.active = false;
    this.gunzip?.destroy();
    this.handlers.onNote({ file: this.display, code, args, ...(line !== undefined ? { line } : {}) });
  }
}
