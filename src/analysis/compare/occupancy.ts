/**
 * Queue occupancy of one run from per_iteration (waiting_count and running_count after each
 * schedule()): time-weighted means, the share of time anything waited, and a bounded series
 * for plotting. Each iteration's counts hold until the next iteration of the same rank starts.
 * The series keeps min/max/mean per time bucket; when the run outgrows MAX_BUCKETS the
 * buckets are merged pairwise and their width doubles, so memory stays bounded and spikes survive.
 */
export const MAX_BUCKETS = 512;
const FIRST_WIDTH_NS = 100_000_000;

export interface OccupancyBucket {
  t_ns: number;
  waiting_min: number;
  waiting_max: number;
  waiting_mean: number;
  running_mean: number;
}

interface Bucket {
  wmin: number;
  wmax: number;
  wsum: number;
  rsum: number;
  n: number;
}

export class Occupancy {
  private width = FIRST_WIDTH_NS;
  private buckets: (Bucket | undefined)[] = [];
  private last = new Map<number, { t: number; w: number; r: number }>();
  private weighted = { w: 0, r: 0, queued: 0, span: 0 };
  maxWaiting = 0;
  private t0: number | null = null;

  add(t: number, waiting: number, running: number, rank: number): void {
    if (this.t0 === null) this.t0 = t;
    const prev = this.last.get(rank);
    if (prev) this.hold(prev, t);
    this.last.set(rank, { t, w: waiting, r: running });
    this.maxWaiting = Math.max(this.maxWaiting, waiting);
    let k = Math.floor((t - this.t0) / this.width);
    while (k >= MAX_BUCKETS) {
      this.merge();
      k = Math.floor((t - this.t0) / this.width);
    }
    const b = (this.buckets[k] ??= { wmin: waiting, wmax: waiting, wsum: 0, rsum: 0, n: 0 });
    b.wmin = Math.min(b.wmin, waiting);
    b.wmax = Math.max(b.wmax, waiting);
    b.wsum += waiting;
    b.rsum += running;
    b.n++;
  }

  private hold(p: { t: number; w: number; r: number }, until: number): void {
    const dt = Math.max(0, until - p.t);
    this.weighted.w += p.w * dt;
    this.weighted.r += p.r * dt;
    if (p.w > 0) this.weighted.queued += dt;
    this.weighted.span += dt;
  }

  private merge(): void {
    const out: (Bucket | undefined)[] = [];
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i];
      const b = this.buckets[i + 1];
      if (!a || !b) out.push(a ?? b);
      else out.push({ wmin: Math.min(a.wmin, b.wmin), wmax: Math.max(a.wmax, b.wmax), wsum: a.wsum + b.wsum, rsum: a.rsum + b.rsum, n: a.n + b.n });
    }
    this.buckets = out;
    this.width *= 2;
  }

  /** the last iteration of each rank holds for no time (its end is unknown here) */
  end(): void {
    this.last.clear();
  }

  summary(): { mean_waiting: number | null; mean_running: number | null; share_time_queued: number | null; max_waiting: number; bucket_ns: number } {
    const s = this.weighted.span;
    return {
      mean_waiting: s > 0 ? this.weighted.w / s : null,
      mean_running: s > 0 ? this.weighted.r / s : null,
      share_time_queued: s > 0 ? this.weighted.queued / s : null,
      max_waiting: this.maxWaiting,
      bucket_ns: this.width,
    };
  }

  series(): OccupancyBucket[] {
    const t0 = this.t0 ?? 0;
    const out: OccupancyBucket[] = [];
    this.buckets.forEach((b, i) => {
      if (b) out.push({ t_ns: t0 + i * this.width, waiting_min: b.wmin, waiting_max: b.wmax, waiting_mean: b.wsum / b.n, running_mean: b.rsum / b.n });
    });
    return out;
  }
}
