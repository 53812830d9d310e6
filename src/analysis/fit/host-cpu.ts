import type { BetaTrainingRow } from "../../schema/fit.js";
import { quantileSorted } from "../math/stats.js";
import type { RecordedStep } from "./recorded-steps.js";

/**
 * The host CPU's speed as a run-level feature (docs/fit.md, "Host CPU").
 *
 * On the lent H100 the same requests under the same configuration gave E2E means 5% apart,
 * and the difference was the host, not the GPU: decode steps of equal batch took the same
 * time in every run, while the CPU launch of a step without a CUDA graph took 6 ms in one run
 * and 18 ms in another. vLLM's own schedule() is pure CPU work on the same process, so its
 * duration measures that host: the runs whose schedule() was 1.8× slower at equal batch were
 * the runs whose launches were slow. The index compares a run's schedule() times with a
 * reference line (intercept + per scheduled request) fitted on the training runs, so a run
 * with larger batches is not mistaken for a slower host.
 */
export interface HostCpuReference {
  intercept_ns: number;
  per_request_ns: number;
}

export interface HostCpu {
  reference: HostCpuReference;
  /** the emitter level of the runs: schedule() includes the emitter's hooks, so indices compare at one level only */
  emitter_level: string;
  /** each run's index, in the order given */
  indices: number[];
  /** each run's index by window of its time (runProfile), in the order given: what the host part's times are divided by (windowIndex) */
  profiles: IndexWindow[][];
}

type StepLike = Pick<BetaTrainingRow, "excluded" | "schedule_ns" | "batch_size">;

const keptSteps = <S extends StepLike>(rows: readonly S[]) => rows.filter((r) => r.excluded === null && r.batch_size > 0 && r.schedule_ns > 0);

/**
 * schedule_ns on batch_size over the kept steps of every run, scaled so the pooled median ratio
 * is 1. The slope is taken within runs (each run its own intercept): pooled, it also learns that
 * the runs with larger batches ran on slower or faster hosts, and then reads a run's host from
 * its batches (two 1B hosts, s64 on one and s128 on the other, gave a line that overshot every
 * replay by 13–27% E2E). The intercept is the pooled one under that slope.
 */
export function referenceLine(runs: readonly (readonly StepLike[])[]): HostCpuReference | null {
  const kept = runs.map((r) => keptSteps(r));
  const steps = kept.flat();
  if (steps.length < 10) return null;
  const slope = withinSlope(kept) ?? pooledSlope(steps);
  let sx = 0, sy = 0;
  for (const s of steps) (sx += s.batch_size), (sy += s.schedule_ns);
  const n = steps.length;
  const line = { intercept_ns: (sy - slope * sx) / n, per_request_ns: slope };
  const scale = medianRatio(steps, line);
  return scale === null ? null : { intercept_ns: line.intercept_ns * scale, per_request_ns: line.per_request_ns * scale };
}

/** The least-squares slope with one intercept per run; null when no run's batch varies. */
function withinSlope(runs: readonly (readonly StepLike[])[]): number | null {
  let sxy = 0, sxx = 0;
  for (const r of runs) {
    if (r.length < 2) continue;
    let mx = 0, my = 0;
    for (const s of r) (mx += s.batch_size), (my += s.schedule_ns);
    mx /= r.length;
    my /= r.length;
    for (const s of r) {
      const dx = s.batch_size - mx;
      sxx += dx * dx;
      sxy += dx * (s.schedule_ns - my);
    }
  }
  return sxx > 0 ? sxy / sxx : null;
}

function pooledSlope(steps: readonly StepLike[]): number {
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const s of steps) {
    sx += s.batch_size; sy += s.schedule_ns; sxx += s.batch_size * s.batch_size; sxy += s.batch_size * s.schedule_ns;
  }
  const n = steps.length, vx = sxx - (sx * sx) / n;
  return vx > 0 ? (sxy - (sx * sy) / n) / vx : 0;
}

function medianRatio(steps: readonly StepLike[], ref: HostCpuReference): number | null {
  const r: number[] = [];
  for (const s of steps) {
    const expect = ref.intercept_ns + ref.per_request_ns * s.batch_size;
    if (expect > 0) r.push(s.schedule_ns / expect);
  }
  if (!r.length) return null;
  return quantileSorted(Float64Array.from(r).sort(), 0.5);
}

/** A run's index against a reference: the median of its kept steps' schedule_ns / the line; 1 when it has too few steps. */
export function runIndex(rows: readonly StepLike[], ref: HostCpuReference): number {
  const kept = keptSteps(rows);
  const m = kept.length >= 10 ? medianRatio(kept, ref) : null;
  return m === null ? 1 : Math.round(m * 1e4) / 1e4;
}

/**
 * The host's speed changes within a run, and schedule() follows it: on the lent H100s, 5 s
 * windows of one run read 0.70–1.37 (s128 t4096 b) and 0.85–1.85 (s48 b, whose host slowed
 * mid-run), and in every window the decode steps' launch time (the runner's host time at equal
 * batch, no scheduler in it) moved with schedule() (s48 b in 6 s windows: 1.03/1.03, 1.43/1.60,
 * 1.77/1.71). The windows also read the run's phase (a ramp of prefills reads high; docs/fit.md,
 * "A ninth session").
 * So the index is read per window of the run's time: a replay at the run's mean host misses a
 * host that slowed halfway, and a fit divides the host's own time by the host it ran on.
 */
export const INDEX_WINDOW_NS = 5e9;
/** a window with fewer kept steps reads too few schedule() calls: it takes the run's index */
export const INDEX_WINDOW_MIN_STEPS = 40;

/** The run's index from `from_ns` (the run's time base, ns) on; the first window also covers the time before it. */
export interface IndexWindow {
  from_ns: number;
  index: number;
}

type TimedStep = StepLike & { start_time: number };

/** A run's host: its index, and its windows (runProfile). */
export interface RunHost {
  index: number;
  windows: IndexWindow[];
}

/** A run's index, and by window of INDEX_WINDOW_NS from its first kept step: each the median ratio of its kept steps, or the run's own where a window has too few. */
export function runProfile(rows: readonly TimedStep[], ref: HostCpuReference): RunHost {
  const kept = keptSteps(rows);
  const whole = runIndex(rows, ref);
  if (!kept.length) return { index: whole, windows: [{ from_ns: 0, index: whole }] };
  const t0 = kept.reduce((m, s) => Math.min(m, s.start_time), Infinity); // no spread: a long run has more steps than arguments
  const windows = new Map<number, TimedStep[]>();
  for (const s of kept) {
    const w = Math.floor((s.start_time - t0) / INDEX_WINDOW_NS);
    (windows.get(w) ?? windows.set(w, []).get(w)!).push(s);
  }
  const last = Math.max(...windows.keys());
  const out: IndexWindow[] = [];
  for (let w = 0; w <= last; w++) {
    const steps = windows.get(w) ?? [];
    const m = steps.length >= INDEX_WINDOW_MIN_STEPS ? medianRatio(steps, ref) : null;
    out.push({ from_ns: t0 + w * INDEX_WINDOW_NS, index: m === null ? whole : Math.round(m * 1e4) / 1e4 });
  }
  return { index: whole, windows: out };
}

/** The lowest and highest of a run's windows, where it has several that differ; null otherwise. */
export function windowRange(profile: readonly IndexWindow[]): [number, number] | null {
  const v = profile.map((w) => w.index);
  const lo = Math.min(...v), hi = Math.max(...v);
  return v.length > 1 && hi > lo ? [lo, hi] : null;
}

/** The index at time t (ns, the run's time base): the last window that began by then, else the first. */
export function indexAt(profile: readonly IndexWindow[], t: number): number {
  let index = profile[0]?.index ?? 1;
  for (const w of profile) {
    if (w.from_ns > t) break;
    index = w.index;
  }
  return index;
}

/**
 * Reference over the runs, each run's index written into its rows' cpu_index, and each run's
 * windows (`profiles`). β's cpu_index feature stays the run's: per window it would vary within
 * every run, offer the host terms to a single run (fit/index.ts) and learn the windows' phase
 * noise (a 1B run at level summary, fitted on two level-full runs under the interval clock,
 * went from +1.2 to +7.0% TTFT). The host's own time (fit/host-part.ts) is divided by its
 * window's index (windowIndex), and simulate replays the windows.
 */
export function applyHostCpu(runs: readonly BetaTrainingRow[][], levels: readonly string[]): HostCpu | null {
  const ref = referenceLine(runs);
  if (!ref) return null;
  const hosts = runs.map((rows) => runProfile(rows, ref));
  runs.forEach((rows, i) => rows.forEach((r) => (r.cpu_index = hosts[i].index)));
  const level = [...new Set(levels)].join(",");
  return { reference: ref, emitter_level: level, indices: hosts.map((h) => h.index), profiles: hosts.map((h) => h.windows) };
}

/** Each step's host index by the window of its run it began in (applyHostCpu's runs, in order); the run-level cpu_index without windows. */
export function windowIndex(runs: readonly (readonly BetaTrainingRow[])[], host: HostCpu | null): (r: BetaTrainingRow) => number {
  const of = new Map<BetaTrainingRow, number>();
  if (host) runs.forEach((rows, i) => rows.forEach((r) => of.set(r, indexAt(host.profiles[i], r.start_time))));
  return (r) => of.get(r) ?? r.cpu_index ?? 1;
}

/** The recorded run's steps as fit reads them (warm-up steps left out), for its index. */
const asSteps = (ranks: readonly (readonly RecordedStep[])[], warmupSteps: number) =>
  ranks.flatMap((list) => list.map((s, i): TimedStep => ({ excluded: i < warmupSteps ? "warmup" : null, schedule_ns: s.scheduleNs, batch_size: s.batch, start_time: s.schedEnd - s.scheduleNs })));

/** A recorded run's host (recordedSteps), its index and its windows, for simulate to replay it on its own host as its speed changed; warm-up steps left out as fit does. */
export function recordedHost(ranks: readonly (readonly RecordedStep[])[], ref: HostCpuReference, warmupSteps = 10): RunHost {
  return runProfile(asSteps(ranks, warmupSteps), ref);
}
