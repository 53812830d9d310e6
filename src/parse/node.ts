import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { pipeline, Transform, type Readable } from "node:stream";
import { constants as zlibConstants, createGunzip } from "node:zlib";
import { InputError } from "../core/errors.js";
import type { HeaderRecord, RawRecord } from "../schema/raw.js";
import type { TraceInput } from "./inputs.js";
import { fsError } from "./inputs.js";
import { LineSplitter, LineTooLongError } from "./lines.js";
import { msg, PARSE_CODES } from "./messages.js";
import { TraceRecordParser, type ParseOptions, type ParseStats } from "./records.js";

/**
 * Node adapter around the push-style core: file (plain or gzip, detected by magic
 * bytes, not by name) → chunks → LineSplitter → TraceRecordParser → handler.
 * Memory stays bounded: one chunk in flight, and the consumer's returned promise
 * (e.g. CSV writers waiting for 'drain') pauses reading.
 */
export interface FileFacts {
  /** bytes on disk */
  bytes: number;
  /** sha256 of the bytes on disk, computed while streaming */
  sha256: string;
  gzip: boolean;
}

const CHUNK = 1 << 20;

export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Streams a file's decompressed bytes to `onChunk`, awaiting it when it returns a
 * promise (backpressure). `onRawBytes` sees progress in on-disk bytes.
 */
export async function streamFile(
  input: TraceInput,
  onChunk: (chunk: Buffer) => void | Promise<void>,
  opts: { onRawBytes?: (n: number) => void; signal?: AbortSignal } = {},
): Promise<FileFacts> {
  let gzip: boolean;
  try {
    gzip = await isGzipFile(input.path);
  } catch (e) {
    throw fsError(e, input.display);
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const onRaw = opts.onRawBytes;
  const tap = new Transform({
    highWaterMark: CHUNK,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onRaw?.(chunk.length);
      cb(null, chunk);
    },
  });
  const raw = createReadStream(input.path, { highWaterMark: CHUNK, signal: opts.signal });
  // Z_SYNC_FLUSH: a gzip cut off mid-stream (killed server) yields what it has, and the
  // incomplete last line is then reported like any truncated tail.
  const streams: NodeJS.ReadWriteStream[] = gzip ? [tap, createGunzip({ chunkSize: CHUNK, finishFlush: zlibConstants.Z_SYNC_FLUSH })] : [tap];
  const last = (pipeline as unknown as (...s: unknown[]) => Readable)(raw, ...streams, () => {});
  try {
    for await (const chunk of last) {
      const p = onChunk(chunk as Buffer);
      if (p) await p;
    }
  } catch (e) {
    last.destroy();
    if (e instanceof InputError || e instanceof LineTooLongError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("Z_")) throw new InputError(msg.badGzip((e as Error).message), PARSE_CODES.badGzip, input.display);
    throw fsError(e, input.display);
  }
  return { bytes, sha256: hash.digest("hex"), gzip };
}

export interface ReadTraceResult extends FileFacts, ParseStats {
  header: HeaderRecord;
  warnings: TraceRecordParser["warnings"];
  checks: TraceRecordParser["checks"];
}

/**
 * Reads one trace file record by record. `afterChunk` runs after each input chunk's
 * records were handled; return a promise from it to pause reading (backpressure).
 */
export async function readTraceFile(
  input: TraceInput,
  options: ParseOptions,
  onRecord: (record: RawRecord, line: number) => void,
  hooks: { afterChunk?: () => void | Promise<void>; onRawBytes?: (n: number) => void; shouldPause?: () => boolean } = {},
): Promise<ReadTraceResult> {
  const splitter = new LineSplitter();
  const parser = new TraceRecordParser(input.display, options, onRecord);
  const { afterChunk, shouldPause } = hooks;
  let facts: FileFacts;
  try {
    facts = await streamFile(
      input,
      async (chunk) => {
        let rest: Buffer = chunk;
        for (;;) {
          const used = splitter.push(rest, parser.line, shouldPause);
          if (used >= rest.length) break;
          await afterChunk?.();
          rest = rest.subarray(used);
        }
        await afterChunk?.();
      },
      { onRawBytes: hooks.onRawBytes },
    );
  } catch (e) {
    if (e instanceof LineTooLongError) throw new InputError(msg.lineTooLong(e.limit), PARSE_CODES.lineTooLong, input.display, e.line);
    throw e;
  }
  const stats = parser.end(splitter.end(), splitter.lines);
  return { ...facts, ...stats, header: parser.header!, warnings: parser.warnings, checks: parser.checks };
}

class HeaderFound extends Error {}
class PeekDone extends Error {}

/**
 * Whether `needle` occurs in the first `limit` decompressed bytes of a trace: a cheap look
 * before a replay (a reading command choosing which tables its one pass asks for).
 */
export async function traceStartHas(input: TraceInput, needle: string, limit = 1 << 20): Promise<boolean> {
  const want = Buffer.from(needle);
  let seen = 0;
  let found = false;
  let tail: Buffer = Buffer.alloc(0);
  const ac = new AbortController();
  try {
    await streamFile(
      input,
      (chunk) => {
        const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
        found = buf.indexOf(want) >= 0;
        seen += chunk.length;
        if (found || seen >= limit) throw new PeekDone();
        tail = buf.subarray(Math.max(0, buf.length - want.length + 1));
      },
      { signal: ac.signal },
    );
  } catch (e) {
    if (!(e instanceof PeekDone)) throw e;
  } finally {
    ac.abort();
  }
  return found;
}

/**
 * Reads only as far as the first record (the header) and validates it: used to find
 * every input's clock anchor before converting, so t=0 is known up front.
 */
export async function readTraceHeader(input: TraceInput): Promise<HeaderRecord> {
  const splitter = new LineSplitter();
  let header: HeaderRecord | null = null;
  const parser = new TraceRecordParser(
    input.display,
    { lenient: false },
    () => {},
    (h) => {
      header = h;
      throw new HeaderFound();
    },
  );
  const ac = new AbortController();
  try {
    await streamFile(input, (chunk) => void splitter.push(chunk, parser.line), { signal: ac.signal });
    parser.end(splitter.end(), splitter.lines);
  } catch (e) {
    if (!(e instanceof HeaderFound)) {
      if (e instanceof LineTooLongError) throw new InputError(msg.lineTooLong(e.limit), PARSE_CODES.lineTooLong, input.display, e.line);
      throw e;
    }
  } finally {
    ac.abort();
  }
  if (!header) throw new InputError(msg.emptyFile(), PARSE_CODES.missingHeader, input.display, 1);
  return header;
}
