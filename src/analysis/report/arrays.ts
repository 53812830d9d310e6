/**
 * Growable typed arrays for the report's analyses: a million steps cost a few MB per
 * series, where arrays of numbers or row objects would cost ten times more.
 */
type TypedCtor = Float64ArrayConstructor | Float32ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;
type Typed = Float64Array | Float32Array | Uint32Array | Int32Array | Uint8Array;

/** An array indexed by position (iteration id), grown on demand; unset slots hold `fill`. */
export class Indexed<A extends Typed> {
  private a: A;
  length = 0;
  constructor(
    private readonly ctor: TypedCtor,
    private readonly fill = 0,
  ) {
    this.a = new ctor(256) as A;
    if (fill !== 0) this.a.fill(fill);
  }
  set(i: number, v: number): void {
    if (i >= this.a.length) {
      let n = this.a.length;
      while (n <= i) n *= 2;
      const next = new this.ctor(n) as A;
      if (this.fill !== 0) next.fill(this.fill);
      next.set(this.a);
      this.a = next;
    }
    this.a[i] = v;
    if (i >= this.length) this.length = i + 1;
  }
  add(i: number, v: number): void {
    this.set(i, (i < this.length && !Number.isNaN(this.a[i]) ? this.a[i] : 0) + v);
  }
  get(i: number): number {
    return i < this.length ? this.a[i] : this.fill;
  }
  /** the first n slots (a view when they are all allocated, so a million steps are not copied; unset slots hold `fill`) */
  toArray(n = this.length): A {
    if (n <= this.a.length) {
      if (this.fill === 0) this.a.fill(0 as never, this.length, n);
      return this.a.subarray(0, n) as A;
    }
    const out = new this.ctor(n) as A;
    if (this.fill !== 0) out.fill(this.fill);
    out.set(this.a.subarray(0, Math.min(n, this.length)) as never);
    return out;
  }
}

/** An append-only typed array. */
export class Appender<A extends Typed> {
  private a: A;
  length = 0;
  constructor(private readonly ctor: TypedCtor) {
    this.a = new ctor(256) as A;
  }
  push(v: number): void {
    if (this.length === this.a.length) {
      const next = new this.ctor(this.a.length * 2) as A;
      next.set(this.a);
      this.a = next;
    }
    this.a[this.length++] = v;
  }
  get(i: number): number {
    return this.a[i];
  }
  toArray(): A {
    return this.a.slice(0, this.length) as A;
  }
}
