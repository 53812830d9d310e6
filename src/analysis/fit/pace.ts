import { lowerBound, quantileSorted } from "../math/stats.js";

/**
 * The engine's pace by batch, recorded against simulated (vsched calibrate; docs/fit.md,
 * "vsched calibrate").
 *
 * A replay that misses a run's latencies by 20% can still end within 1% of its makespan (the 1B
 * s128 run from a model of two s64 runs: E2E −21%, makespan −0.6%): the service rate is right on
 * average and wrong where the queue builds. Where is the first thing a researcher needs, and the
 * error of the means does not say it. So calibrate compares the time from one schedule() entry
 * to the next, per step type and batch size: the engine's own cadence, whatever clock produced
 * it (a synchronous engine's step, an async engine's launch-bound or GPU-bound loop). A bin the
 * replay never reached, or one with few steps, says the replay ran the queue differently.
 */

/** batch bins: (lo, hi], doubling from 8 (powers of two cover CUDA-graph capture sizes' spacing coarsely and stay readable) */
export const PACE_BIN_EDGES: readonly number[] = [0, 8, 16, 32, 64, 128, 256, 512, 1024];
/** a bin compares medians only where both runs have at least this many steps in it */
export const PACE_MIN_STEPS = 20;

export type PaceKind = "decode" | "prefill";

export interface PaceSide {
  steps: number;
  median_ns: number | null;
  /** the bin's share of the run's total paced time (Σ pace of its steps / Σ over all bins) */
  time_share: number | null;
}

export interface PaceBin {
  kind: PaceKind;
  /** batch sizes lo < batch ≤ hi (hi null: no upper bound) */
  batch_lo: number;
  batch_hi: number | null;
  recorded: PaceSide;
  simulated: PaceSide;
  /** simulated median / recorded median − 1, where both have PACE_MIN_STEPS steps; null otherwise */
  error: number | null;
}

/** One step of a run as the pace reads it (per_iteration). */
export interface PaceStep {
  dp_rank: number;
  start_time: number;
  batch_size: number;
  num_prefill_reqs: number;
  /** whether anything was left to run after the step's update; a step after which the engine went idle does not pace the next */
  busy_after: boolean;
}

/** Collects one run's pace samples from its steps in iteration order per rank. */
export class PaceSampler {
  private readonly last = new Map<number, PaceStep>();
  private readonly bins = new Map<string, number[]>();

  add(step: PaceStep): void {
    const prev = this.last.get(step.dp_rank);
    this.last.set(step.dp_rank, step);
    if (!prev || !prev.busy_after || prev.batch_size <= 0) return;
    const pace = step.start_time - prev.start_time;
    if (!(pace > 0)) return;
    const key = binKey(kindOf(prev), binOf(prev.batch_size));
    (this.bins.get(key) ?? this.bins.set(key, []).get(key)!).push(pace);
  }

  samples(): ReadonlyMap<string, readonly number[]> {
    return this.bins;
  }
}

const kindOf = (s: PaceStep): PaceKind => (s.num_prefill_reqs > 0 ? "prefill" : "decode");
const binKey = (kind: PaceKind, bin: number) => `${kind}:${bin}`;

/** the index of the bin holding a batch size (the last bin is open-ended) */
export function binOf(batch: number): number {
  for (let i = 1; i < PACE_BIN_EDGES.length; i++) if (batch <= PACE_BIN_EDGES[i]) return i - 1;
  return PACE_BIN_EDGES.length - 1;
}

function side(values: readonly number[] | undefined, total: number): PaceSide {
  if (!values?.length) return { steps: 0, median_ns: null, time_share: total > 0 ? 0 : null };
  const sorted = Float64Array.from(values).sort();
  const sum = values.reduce((s, v) => s + v, 0);
  return { steps: values.length, median_ns: quantileSorted(sorted, 0.5), time_share: total > 0 ? sum / total : null };
}

const totalOf = (m: ReadonlyMap<string, readonly number[]>) => [...m.values()].reduce((s, v) => s + v.reduce((a, b) => a + b, 0), 0);

/** Recorded against simulated, per step type and batch bin, in bin order (decode first); bins neither run has are left out. */
export function comparePace(recorded: PaceSampler, simulated: PaceSampler): PaceBin[] {
  const rec = recorded.samples(), sim = simulated.samples();
  const recTotal = totalOf(rec), simTotal = totalOf(sim);
  const out: PaceBin[] = [];
  for (const kind of ["decode", "prefill"] as const) {
    for (let b = 0; b < PACE_BIN_EDGES.length; b++) {
      const key = binKey(kind, b);
      if (!rec.has(key) && !sim.has(key)) continue;
      const r = side(rec.get(key), recTotal), s = side(sim.get(key), simTotal);
      const compared = r.steps >= PACE_MIN_STEPS && s.steps >= PACE_MIN_STEPS && r.median_ns! > 0;
      out.push({
        kind,
        batch_lo: PACE_BIN_EDGES[b],
        batch_hi: b + 1 < PACE_BIN_EDGES.length ? PACE_BIN_EDGES[b + 1] : null,
        recorded: r,
        simulated: s,
        error: compared ? s.median_ns! / r.median_ns! - 1 : null,
      });
    }
  }
  return out;
}

/**
 * The same two runs along their time: per window of PROGRESS_WINDOW_NS from each run's first
 * step, the steps run, the tokens scheduled and the mean waiting queue. A replay that gets ahead
 * early shows here when the pace by batch does not: on the s256 t8192 run the engine's first
 * launches of 8,192-token batches took ~180 ms of host time more than its later ones (a cost paid
 * once, at the start), so it ran 59 steps in its first 5 s where the replay ran 85, and
 * entered the saturated phase with 10 requests waiting against 4.
 */
export const PROGRESS_WINDOW_NS = 5e9;

export interface ProgressSide {
  steps: number;
  scheduled_tokens: number;
  /** mean waiting_count over the window's steps */
  mean_waiting: number | null;
}

export interface ProgressWindow {
  from_s: number;
  recorded: ProgressSide;
  simulated: ProgressSide;
}

/** One run's steps by window of its time from its first step (per rank alike: ranks share the clock). */
export class ProgressSampler {
  private t0: number | null = null;
  private readonly windows: { steps: number; tokens: number; waiting: number }[] = [];

  add(step: { start_time: number; total_tokens: number; waiting_count: number }): void {
    this.t0 ??= step.start_time;
    const w = Math.max(0, Math.floor((step.start_time - this.t0) / PROGRESS_WINDOW_NS));
    while (this.windows.length <= w) this.windows.push({ steps: 0, tokens: 0, waiting: 0 });
    const win = this.windows[w];
    win.steps++;
    win.tokens += step.total_tokens;
    win.waiting += step.waiting_count;
  }

  side(w: number): ProgressSide {
    const win = this.windows[w];
    return win ? { steps: win.steps, scheduled_tokens: win.tokens, mean_waiting: win.steps ? win.waiting / win.steps : null } : { steps: 0, scheduled_tokens: 0, mean_waiting: null };
  }

  get length(): number {
    return this.windows.length;
  }
}

/** Recorded against simulated, window by window, over the longer run. */
export function compareProgress(recorded: ProgressSampler, simulated: ProgressSampler): ProgressWindow[] {
  const n = Math.max(recorded.length, simulated.length);
  return Array.from({ length: n }, (_, w) => ({ from_s: (w * PROGRESS_WINDOW_NS) / 1e9, recorded: recorded.side(w), simulated: simulated.side(w) }));
}

/**
 * The same two runs by share of their work: the time from each run's first step until it had
 * scheduled 10%, 25%, … of its own tokens, and the replay's lead (simulated minus recorded; below
 * zero, the replay was ahead). Where progress shows that a replay got ahead, this says when: a
 * lead that appears by the first 10% and then holds is a start-up the model lacks; one that grows
 * share by share is a pace that is off, or what a start left behind (docs/fit.md: s256 t8192's
 * first 5 s took 59 steps where the replay took 85, and its lead shows only past 50%). Below
 * capacity the work follows the arrivals and the lead stays near zero: read the pace there.
 * The fresh s176 t8192 run, from the 27-run pool, is 0.32 s ahead at 10% of its tokens and
 * 0.54 s at 90%: its first three real steps took ~0.3 s more than the replay's (launches of 92 ms
 * for 383 tokens, and an 8,192-token step whose next launch took 316 ms), and its mean TTFT is
 * 2.80 s against the replay's 2.45 s. A repeat whose engine started normally is 0.21 s ahead.
 */
export const WORK_SHARES: readonly number[] = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1];

/** at most this many (time, tokens so far) points per run: past it every other one is dropped, so a long trace costs bounded memory */
export const WORK_POINTS = 4096;

/** One run's tokens scheduled so far, step by step (every stride-th step once the run is long). */
export class WorkSampler {
  private t0: number | null = null;
  private total = 0;
  private seen = 0;
  private stride = 1;
  private last = 0;
  private readonly t: number[] = [];
  private readonly done: number[] = [];

  add(step: { start_time: number; total_tokens: number }): void {
    this.t0 ??= step.start_time;
    this.total += step.total_tokens;
    if (step.total_tokens > 0) this.last = step.start_time - this.t0;
    if (step.total_tokens > 0 && this.seen++ % this.stride === 0) {
      this.t.push(step.start_time - this.t0);
      this.done.push(this.total);
      if (this.t.length >= WORK_POINTS) this.halve();
    }
  }

  private halve(): void {
    let k = 0;
    for (let i = 0; i < this.t.length; i += 2, k++) (this.t[k] = this.t[i]), (this.done[k] = this.done[i]);
    this.t.length = this.done.length = k;
    this.stride *= 2;
  }

  /**
   * The start of the first kept step by whose end the run had scheduled `share` of its tokens
   * (exact while every step is kept; later by less than `stride` steps after that); null for a
   * run that scheduled nothing.
   */
  at(share: number): number | null {
    if (this.total <= 0) return null;
    const i = lowerBound(this.done, (done) => done < share * this.total);
    return i < this.done.length ? this.t[i] : this.last; // past the last kept step: the run's last step with tokens
  }
}

export interface WorkMilestone {
  share: number;
  recorded_ns: number | null;
  simulated_ns: number | null;
  /** simulated minus recorded: below zero the replay got there first */
  lead_ns: number | null;
}

/** Recorded against simulated at each of WORK_SHARES of each run's own scheduled tokens. */
export function compareWork(recorded: WorkSampler, simulated: WorkSampler): WorkMilestone[] {
  return WORK_SHARES.map((share) => {
    const r = recorded.at(share), s = simulated.at(share);
    return { share, recorded_ns: r, simulated_ns: s, lead_ns: r === null || s === null ? null : s - r };
  });
}
