/**
 * Push-style line splitter: the core of trace reading. It knows nothing about files
 * or streams (csv-parse's model): feed it chunks with push(), get every complete line
 * with its 1-based line number, then call end() for the unterminated last piece.
 *
 * Works on bytes (splitting on 0x0A before decoding is ~1.5x faster than decoding whole
 * chunks first and lets a UTF-8 sequence straddle chunks safely). A trailing "\r" is
 * stripped (CRLF files). Empty lines are counted but not delivered.
 */
export type LineHandler = (text: string, line: number) => void;

/** The last piece of input when it did not end with a newline. */
export interface UnterminatedTail {
  text: string;
  line: number;
}

/** A line longer than this is not a trace record (binary file, missing newlines). */
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

export class LineTooLongError extends Error {
  constructor(
    readonly line: number,
    readonly limit: number,
  ) {
    super(`line ${line} is longer than ${limit} bytes`);
  }
}

const NL = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  /** number of the last line delivered or skipped */
  private lineNo = 0;
  /** bytes of an incomplete line carried over from earlier chunks */
  private carry: Buffer[] = [];
  private carryBytes = 0;

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** lines completed so far (the number of the last complete line) */
  get lines(): number {
    return this.lineNo;
  }

  /**
   * Delivers the complete lines of `chunk`. With `pause`, checked after each line, it
   * may stop early: it returns how many bytes of `chunk` it consumed, and the caller
   * pushes the rest once the consumer has caught up (backpressure per record, so one
   * record that fans out into many rows cannot pile up a chunk's worth of them).
   */
  push(chunk: Uint8Array | string, onLine: LineHandler, pause?: () => boolean): number {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    let nl = buf.indexOf(NL);
    if (nl !== -1 && this.carryBytes > 0) {
      this.carry.push(buf.subarray(0, nl));
      const joined = Buffer.concat(this.carry, this.carryBytes + nl);
      this.carry = [];
      this.carryBytes = 0;
      this.emit(joined, 0, joined.length, onLine);
      start = nl + 1;
      if (pause?.()) return start;
      nl = buf.indexOf(NL, start);
    }
    while (nl !== -1) {
      this.emit(buf, start, nl, onLine);
      start = nl + 1;
      if (pause?.()) return start;
      nl = buf.indexOf(NL, start);
    }
    if (start < buf.length) {
      this.carry.push(buf.subarray(start));
      this.carryBytes += buf.length - start;
      if (this.carryBytes > this.maxLineBytes) throw new LineTooLongError(this.lineNo + 1, this.maxLineBytes);
    }
    return buf.length;
  }

  /** Ends the input; returns the last piece if the input did not end with a newline. */
  end(): UnterminatedTail | null {
    if (this.carryBytes === 0) return null;
    const joined = Buffer.concat(this.carry, this.carryBytes);
    this.carry = [];
    this.carryBytes = 0;
    let end = joined.length;
    if (joined[end - 1] === CR) end--;
    return { text: joined.toString("utf8", 0, end), line: this.lineNo + 1 };
  }

  private emit(buf: Buffer, start: number, end: number, onLine: LineHandler): void {
    const line = ++this.lineNo;
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return;
    onLine(buf.toString("utf8", start, end), line);
  }
}
