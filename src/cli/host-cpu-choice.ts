// simulate --cpu-index: which host a replay runs on (a part of the simulate command, not a command)
import type { StepModelFile } from "../schema/fit.js";
import type { TableSource } from "../tables/types.js";
import { recordedSteps, type RecordedStep } from "../analysis/fit/recorded-steps.js";
import { INDEX_WINDOW_NS, recordedHost, windowRange, type IndexWindow } from "../analysis/fit/host-cpu.js";
import { recordedWaitShare, waitScale } from "../analysis/fit/cpu-wait.js";
import { UsageError } from "./errors.js";

/** The model as the harness ran it (with the host CPU index applied), beside the trace in simulate's output. */
export const MODEL_FILE = "step-model.json";

export interface HostCpuChoice {
  model: StepModelFile;
  note: string;
}

/** β terms on cpu_index, or a host loop (its launch and post-update times are per unit of the index) */
const usesCpuIndex = (m: StepModelFile) => m.terms.some((t) => t.factors.includes("cpu_index")) || m.host !== undefined;

/**
 * Which host the replay runs on, for a model with cpu_index terms (docs/fit.md, "Host CPU"):
 * by default the replayed run's own, read from its schedule() times (an input of the run, like
 * its configuration, not one of its latencies); `training` is the training runs' typical host.
 * A run recorded at another emitter level cannot be compared (schedule() includes the emitter).
 */
/** The recorded run's steps, read on first use and then shared: index and wait share come from one scan (from raw traces, one replay). */
export function recordedRun(source: TableSource): () => Promise<RecordedStep[][]> {
  let steps: Promise<RecordedStep[][]> | null = null;
  return () => (steps ??= recordedSteps(source));
}

export async function hostCpuFor(model: StepModelFile, which: string, recorded: () => Promise<RecordedStep[][]>, level: string): Promise<HostCpuChoice | null> {
  const h = model.host_cpu;
  if (!h || !usesCpuIndex(model)) return null;
  const span = h.training_indices.length ? `training runs ${Math.min(...h.training_indices).toFixed(2)}–${Math.max(...h.training_indices).toFixed(2)}` : "";
  let index: number, how: string;
  let profile: IndexWindow[] | null = null;
  if (which === "training") [index, how] = [1, "the training runs' typical host"];
  else if (which === "recorded") {
    if (level !== h.emitter_level) [index, how] = [1, `the training runs' typical host: the run was recorded at emitter level ${level}, the model's runs at ${h.emitter_level}`];
    else {
      const ref = { intercept_ns: h.reference_intercept_ns, per_request_ns: h.reference_per_request_ns };
      ({ index, windows: profile } = recordedHost(await recorded(), ref));
      how = `the recorded run's own, from its schedule() times${windowsSaid(profile)}`;
    }
  } else {
    index = Number(which);
    if (!/^\d+(\.\d+)?$/.test(which) || !(index > 0)) throw new UsageError(`--cpu-index: expected recorded, training or a positive number, got '${which}'`);
    how = "given";
  }
  const index_profile = profile && profile.length > 1 ? profile.map((w) => ({ from_s: w.from_ns / NS_PER_S, index: w.index })) : undefined;
  // a model file that simulate wrote (OUT/step-model.json) carries its run's windows: only a recorded index keeps any
  const { index_profile: _replayed, ...rest } = h;
  return { model: { ...model, host_cpu: { ...rest, index, ...(index_profile ? { index_profile } : {}) } }, note: `host CPU index ${index.toFixed(2)} (${how}${span ? `; ${span}` : ""})\n` };
}

const NS_PER_S = 1e9;

/** How far the run's host moved over its windows, when it moved. */
function windowsSaid(profile: readonly IndexWindow[]): string {
  const r = windowRange(profile);
  return r ? `, by ${INDEX_WINDOW_NS / NS_PER_S} s window ${r[0].toFixed(2)}–${r[1].toFixed(2)}` : "";
}

/**
 * How contended the replay's host is, for a model with the cpu_wait_ns term (docs/fit.md, "CPU
 * contention"): by default the replayed run's own wait share, read from its step.cpu; `none` is
 * an uncontended host (what a what-if on a dedicated machine should use), a number a given share.
 * A run whose trace has no step.cpu replays uncontended, and the note says so.
 */
export async function cpuWaitFor(model: StepModelFile, which: string, recorded: () => Promise<RecordedStep[][]>): Promise<HostCpuChoice | null> {
  const w = model.cpu_wait;
  if (!w) return null;
  let share: number, how: string;
  if (which === "none") [share, how] = [0, "an uncontended host"];
  else if (which === "recorded") {
    const r = recordedWaitShare(await recorded());
    [share, how] = r === null ? [0, "an uncontended host: the recorded trace has no step.cpu (emitter schema 1.5)"] : [r, "the recorded run's own, from its step.cpu"];
  } else {
    share = Number(which);
    if (!/^0?\.\d+$|^0$/.test(which) || !(share >= 0 && share < 1)) throw new UsageError(`--cpu-wait: expected recorded, none or a share in [0, 1) like 0.25, got '${which}'`);
    how = "given";
  }
  const scale = waitScale(w.coef, share);
  const span = w.training_shares.length ? `; training runs ${fmtPct(Math.min(...w.training_shares))}–${fmtPct(Math.max(...w.training_shares))}` : "";
  return { model: { ...model, cpu_wait: { ...w, share, scale } }, note: `CPU wait share ${fmtPct(share)} (${how}${span}): step times × ${scale.toFixed(3)}\n` };
}

const fmtPct = (x: number) => `${(100 * x).toFixed(1)}%`;
