import type { TableRow } from "../../tables/types.js";
import { mean, quantileSorted, Values } from "../math/stats.js";
import type { Summary } from "./types.js";
import { EngineCpuAccumulator } from "./engine-cpu.js";
import { GpuTimeAccumulator } from "./gpu-time.js";

/** A number per iteration id, growable, NaN where unknown. */
class ByIteration {
  private a = new Float64Array(256).fill(NaN);
  set(i: number, v: number): void {
    if (i >= this.a.length) {
      let n = this.a.length;
      while (n <= i) n *= 2;
      const next = new Float64Array(n).fill(NaN);
      next.set(this.a);
      this.a = next;
    }
    this.a[i] = v;
  }
  get(i: number): number {
    return i < this.a.length ? this.a[i] : NaN;
  }
}

interface RankTimes {
  /** start_time + scheduling_overhead: when schedule() returned */
  schedReturn: ByIteration;
  /** end_time: when update_from_output() for the step returned */
  updateEnd: ByIteration;
  updateEnds: Values;
  /** batch_size > 0 */
  busy: ByIteration;
}

/** Accumulates per_iteration.csv: scheduler and KV figures, and the step times the ITL derivation needs. */
export class IterationAccumulator {
  iterations = 0;
  idle = 0;
  busyIterations = 0;
  waitingSeen = false;
  private readonly overhead = new Values();
  private readonly forward = new Values();
  private readonly step = new Values();
  private readonly batch = new Values();
  private overheadInSteps = 0;
  private stepSum = 0;
  private prefill = 0;
  private decode = 0;
  private recompute = 0;
  private prefillReqs = 0;
  private decodeReqs = 0;
  private chunkMin: number | null = null;
  private chunkMax: number | null = null;
  private kvSum = 0;
  private kvN = 0;
  private kvPeak: number | null = null;
  private readonly ranks = new Map<number, RankTimes>();
  readonly engineCpu = new EngineCpuAccumulator();
  readonly gpuTime = new GpuTimeAccumulator();

  add(row: TableRow<"per_iteration">): void {
    this.iterations++;
    this.engineCpu.add(row);
    this.gpuTime.add(row);
    const id = row.iteration_id;
    const rank = row.dp_rank ?? 0;
    const b = row.batch_size ?? 0;
    this.batch.push(b);
    if (b === 0) this.idle++;
    else this.busyIterations++;
    if ((row.waiting_count ?? 0) > 0) this.waitingSeen = true;
    const so = row.scheduling_overhead;
    if (so !== null) this.overhead.push(so);
    const fw = row.forward_duration;
    if (fw !== null) this.forward.push(fw);
    const d = row.duration;
    if (d !== null) {
      this.step.push(d);
      this.stepSum += d;
      this.overheadInSteps += so ?? 0;
    }
    this.prefill += row.prefill_tokens ?? 0;
    this.decode += row.decode_tokens ?? 0;
    this.recompute += row.recompute_tokens ?? 0;
    this.prefillReqs += row.num_prefill_reqs ?? 0;
    this.decodeReqs += row.num_decode_reqs ?? 0;
    const cmin = row.prefill_chunk_min;
    const cmax = row.prefill_chunk_max;
    if (cmin !== null && (this.chunkMin === null || cmin < this.chunkMin)) this.chunkMin = cmin;
    if (cmax !== null && (this.chunkMax === null || cmax > this.chunkMax)) this.chunkMax = cmax;
    const used = row.kv_cache_used;
    const total = row.kv_cache_total;
    if (used !== null && total !== null && total > 0) {
      const u = used / total;
      this.kvSum += u;
      this.kvN++;
      if (this.kvPeak === null || u > this.kvPeak) this.kvPeak = u;
    }

    if (id === null) return;
    let t = this.ranks.get(rank);
    if (!t) {
      t = { schedReturn: new ByIteration(), updateEnd: new ByIteration(), updateEnds: new Values(), busy: new ByIteration() };
      this.ranks.set(rank, t);
    }
    const start = row.start_time;
    if (start !== null && so !== null) t.schedReturn.set(id, start + so);
    const endT = row.end_time;
    if (endT !== null) {
      t.updateEnd.set(id, endT);
      t.updateEnds.push(endT);
    }
    if (b > 0) t.busy.set(id, 1);
  }


  /** end of the update of this step (NaN if unknown) */
  updateEnd(rank: number, iteration: number): number {
    return this.ranks.get(rank)?.updateEnd.get(iteration) ?? NaN;
  }

  /** end of the latest update that finished before this step's schedule() returned (NaN if none) */
  lastUpdateBeforeSchedule(rank: number, iteration: number): number {
    const t = this.ranks.get(rank);
    if (!t) return NaN;
    const bound = t.schedReturn.get(iteration);
    if (Number.isNaN(bound)) return NaN;
    const ends = t.updateEnds.sortedView();
    let lo = 0;
    let hi = ends.length; // first index with ends[i] > bound
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] <= bound) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? NaN : ends[lo - 1];
  }

  schedulerStats(): Summary["scheduler"] {
    const ov = this.overhead.sortedView();
    const fw = this.forward.sortedView();
    const st = this.step.sortedView();
    const bs = this.batch.sortedView();
    const tokens = this.prefill + this.decode;
    const reqs = this.prefillReqs + this.decodeReqs;
    return {
      iterations: this.iterations,
      idle_iterations: this.idle,
      scheduling_overhead: { mean_ns: mean(ov), p99_ns: quantileSorted(ov, 0.99) },
      forward_duration: { mean_ns: mean(fw), p99_ns: quantileSorted(fw, 0.99) },
      step_duration: { mean_ns: mean(st), p99_ns: quantileSorted(st, 0.99) },
      scheduling_share: this.stepSum > 0 ? this.overheadInSteps / this.stepSum : null,
      prefill_tokens: this.prefill,
      decode_tokens: this.decode,
      recompute_tokens: this.recompute,
      prefill_token_share: tokens > 0 ? this.prefill / tokens : null,
      prefill_request_share: reqs > 0 ? this.prefillReqs / reqs : null,
      prefill_chunks: {
        count: this.prefillReqs,
        mean_tokens: this.prefillReqs > 0 ? this.prefill / this.prefillReqs : null,
        min_tokens: this.chunkMin,
        max_tokens: this.chunkMax,
      },
      batch_size: {
        mean: mean(bs),
        p50: quantileSorted(bs, 0.5),
        p90: quantileSorted(bs, 0.9),
        p99: quantileSorted(bs, 0.99),
        max: bs.length ? bs[bs.length - 1] : null,
      },
    };
  }

  kvStats(): { kv_utilization_mean: number | null; kv_utilization_peak: number | null } {
    return { kv_utilization_mean: this.kvN ? this.kvSum / this.kvN : null, kv_utilization_peak: this.kvPeak };
  }
}
