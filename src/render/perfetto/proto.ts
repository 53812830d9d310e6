/**
 * The few protobuf encodings a Perfetto trace needs, written by hand: varints,
 * length-delimited fields (strings, nested messages), fixed64 and doubles. Why not a
 * library: the TrackEvent subset is a dozen messages with scalar fields, a generated
 * codec (protobufjs and friends) would add a dependency and build step, allocate an
 * object per event, and still not stream; this writer appends into one reused buffer,
 * so a million-step trace allocates nothing per packet.
 *
 * Numbers are JS numbers: every value written is an integer below 2^53 (ns since t=0,
 * counts, ids); negative int64 values take the 10-byte two's-complement form.
 */
const TWO32 = 0x1_0000_0000;

export const WIRE = { varint: 0, fixed64: 1, bytes: 2 } as const;

export class ProtoWriter {
  buf: Buffer = Buffer.allocUnsafe(1 << 16);
  pos = 0;
  /** start of each open nested message, just after the one byte reserved for its length */
  private readonly open: number[] = [];

  reset(): void {
    this.pos = 0;
    this.open.length = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  rawVarint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    while (v >= TWO32) {
      b[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  /** uint32/uint64/enum/bool fields, and int64 fields holding a value ≥ 0 */
  uint(field: number, v: number): void {
    this.tag(field, WIRE.varint);
    this.rawVarint(v);
  }

  /** int64: negative values as 64-bit two's complement (10 bytes) */
  int(field: number, v: number): void {
    if (v >= 0) return this.uint(field, v);
    this.tag(field, WIRE.varint);
    let x = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (x > 0x7fn) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  fixed64(field: number, v: number): void {
    this.tag(field, WIRE.fixed64);
    this.ensure(8);
    this.buf.writeUInt32LE(v % TWO32, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / TWO32), this.pos + 4);
    this.pos += 8;
  }

  double(field: number, v: number): void {
    this.tag(field, WIRE.fixed64);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** a string as UTF-8 bytes (lone surrogates become U+FFFD): the bytes are data, never markup */
  string(field: number, s: string): void {
    this.tag(field, WIRE.bytes);
    const n = Buffer.byteLength(s, "utf8");
    this.rawVarint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** open a nested message; one byte is reserved for its length, the common case */
  begin(field: number): void {
    this.tag(field, WIRE.bytes);
    this.ensure(1);
    this.pos++;
    this.open.push(this.pos);
  }

  end(): void {
    const start = this.open.pop()!;
    const len = this.pos - start;
    if (len < 0x80) {
      this.buf[start - 1] = len;
      return;
    }
    let k = 1;
    for (let x = len; x > 0x7f; x = Math.floor(x / 128)) k++;
    this.ensure(k - 1);
    this.buf.copyWithin(start + k - 1, start, this.pos);
    const save = this.pos + k - 1;
    this.pos = start - 1;
    this.rawVarint(len);
    this.pos = save;
  }
}

/** Bytes to a file descriptor in 1 MiB writes: the whole output is never held in memory. */
export class ChunkedFileWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  bytes = 0;

  constructor(private readonly write: (b: Buffer) => void) {}

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** one Trace.packet (field 1): tag, length, the packet's bytes */
  packet(p: ProtoWriter): void {
    this.room(p.pos + 11);
    this.buf[this.pos++] = 0x0a;
    let v = p.pos;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    p.buf.copy(this.buf, this.pos, 0, p.pos);
    this.pos += p.pos;
  }

  text(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.room(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  flush(): void {
    if (this.pos === 0) return;
    this.write(this.buf.subarray(0, this.pos));
    this.bytes += this.pos;
    this.pos = 0;
  }
}
