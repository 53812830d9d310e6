import type { Finding } from "../core/finding.js";

/**
 * Collects findings in discovery order, keeping at most `cap` per (file, code) so a
 * systematic problem in a million-row table stays readable; how many were left out is
 * reported as one FINDINGS_CAPPED note per (file, code).
 */
export class Findings {
  readonly list: Finding[] = [];
  private readonly counts = new Map<string, { n: number; file?: string; code: string; severity: Finding["severity"] }>();

  constructor(private readonly cap = 50) {}

  add(code: string, severity: Finding["severity"], file: string | undefined, line: number | undefined, args: Finding["args"] = {}): void {
    const key = `${file ?? ""}\u0000${code}`;
    const c = this.counts.get(key) ?? { n: 0, file, code, severity };
    c.n++;
    this.counts.set(key, c);
    if (c.n > this.cap) return;
    const f: Finding = { code, severity, args };
    if (file !== undefined) f.file = file;
    if (line !== undefined) f.line = line;
    this.list.push(f);
  }

  /** findings, then one FINDINGS_CAPPED per (file, code) that overflowed */
  result(): Finding[] {
    const capped: Finding[] = [];
    for (const c of this.counts.values()) {
      if (c.n > this.cap) {
        const f: Finding = { code: "FINDINGS_CAPPED", severity: "info", args: { of: c.code, more: c.n - this.cap } };
        if (c.file !== undefined) f.file = c.file;
        capped.push(f);
      }
    }
    return [...this.list, ...capped];
  }

  /** occurrences of a code, counting the capped ones */
  total(code: string): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.code === code) n += c.n;
    return n;
  }
}

/** beyond this index IntByIndex keeps a Map: an absurd iteration id must not allocate gigabytes */
const DENSE_MAX = 1 << 22;

/** A growable integer array indexed by iteration id; `missing` where unset. */
export class IntByIndex {
  private a: Float64Array;
  private sparse: Map<number, number> | null = null;
  constructor(private readonly missing = -1) {
    this.a = new Float64Array(256).fill(missing);
  }
  set(i: number, v: number): void {
    if (i >= DENSE_MAX) {
      (this.sparse ??= new Map()).set(i, v);
      return;
    }
    if (i >= this.a.length) {
      let n = this.a.length;
      while (n <= i) n *= 2;
      const next = new Float64Array(n).fill(this.missing);
      next.set(this.a);
      this.a = next;
    }
    this.a[i] = v;
  }
  get(i: number): number {
    if (i >= DENSE_MAX) return this.sparse?.get(i) ?? this.missing;
    return i < this.a.length && i >= 0 ? this.a[i] : this.missing;
  }
  /** every index that may hold a value, ascending */
  *indices(): Generator<number> {
    for (let i = 0; i < this.a.length; i++) yield i;
    if (this.sparse) yield* [...this.sparse.keys()].sort((x, y) => x - y);
  }
}
