import type { CalibrationResult, LatencyAgreement } from "../analysis/fit/calibrate.js";
import type { GpuKindRow } from "../analysis/fit/gpu-timeline.js";
import { PACE_MIN_STEPS, PROGRESS_WINDOW_NS, type PaceBin, type ProgressSide, type ProgressWindow, type WorkMilestone } from "../analysis/fit/pace.js";
import { fmtNs, signedPct } from "./fit-text.js";

/** vsched calibrate as text. */
const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(2)}%`);

function row(name: string, a: LatencyAgreement): string {
  return `  ${name.padEnd(26)}${String(a.pairs).padStart(6)}${pct(a.median_ape).padStart(10)}${pct(a.p90_ape).padStart(10)}${pct(a.error_of_means).padStart(11)}${pct(a.error_of_p90s).padStart(11)}   ${fmtNs(a.recorded_mean_ns)} -> ${fmtNs(a.simulated_mean_ns)}`;
}

function paceRow(b: PaceBin): string {
  const range = b.batch_hi === null ? `${b.batch_lo + 1}+` : `${b.batch_lo + 1}-${b.batch_hi}`;
  const r = b.recorded, s = b.simulated;
  const share = r.time_share === null ? "" : `, ${(r.time_share * 100).toFixed(0)}% of time`;
  const verdict = b.error !== null ? signedPct(b.error) : s.steps === 0 ? "never reached in the replay" : r.steps === 0 ? "not in the recording" : `too few steps to compare (< ${PACE_MIN_STEPS})`;
  return `  ${b.kind.padEnd(8)} batch ${range.padEnd(9)}${String(r.steps).padStart(6)} steps${share.padEnd(15)}${fmtNs(r.median_ns).padStart(11)} -> ${fmtNs(s.median_ns).padEnd(11)}${String(s.steps).padStart(6)} steps   ${verdict}`;
}

/** at most this many rows of progress in the text: longer runs get wider windows (the JSON keeps every window) */
const PROGRESS_ROWS = 12;

function merge(sides: ProgressSide[]): ProgressSide {
  const steps = sides.reduce((n, x) => n + x.steps, 0);
  const waiting = sides.reduce((n, x) => n + (x.mean_waiting ?? 0) * x.steps, 0);
  return { steps, scheduled_tokens: sides.reduce((n, x) => n + x.scheduled_tokens, 0), mean_waiting: steps ? waiting / steps : null };
}

function progressRows(windows: ProgressWindow[]): string[] {
  const k = Math.ceil(windows.length / PROGRESS_ROWS);
  const width = (k * PROGRESS_WINDOW_NS) / 1e9;
  const rows: string[] = [];
  for (let i = 0; i < windows.length; i += k) {
    const group = windows.slice(i, i + k);
    const r = merge(group.map((w) => w.recorded)), s = merge(group.map((w) => w.simulated));
    const from = windows[i].from_s;
    const tokens = (v: number) => (v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : String(v));
    const waiting = (v: number | null) => (v === null ? "-" : v.toFixed(1));
    rows.push(`  ${`${from}-${from + width} s`.padEnd(12)}${String(r.steps).padStart(6)} -> ${String(s.steps).padEnd(6)} steps ${tokens(r.scheduled_tokens).padStart(9)} -> ${tokens(s.scheduled_tokens).padEnd(9)} tokens ${waiting(r.mean_waiting).padStart(7)} -> ${waiting(s.mean_waiting)} waiting`);
  }
  return rows;
}

function workRow(m: WorkMilestone): string {
  const s = (v: number | null) => (v === null ? "-" : `${(v / 1e9).toFixed(3)} s`);
  const ms = m.lead_ns === null ? null : Math.round(m.lead_ns / 1e6) / 1e3 || 0; // a lead under half a millisecond, either way, prints as 0
  const lead = ms === null ? "-" : `${ms > 0 ? "+" : ""}${ms.toFixed(3)} s`;
  return `  ${`${Math.round(m.share * 100)}%`.padEnd(8)}${s(m.recorded_ns).padStart(10)} -> ${s(m.simulated_ns).padEnd(10)}${lead.padStart(10)}`;
}

function gpuRow(g: GpuKindRow): string {
  const s = (ns: number) => `${(ns / 1e9).toFixed(3)} s`;
  const kind = g.kind === "all" ? "all steps" : g.kind === "prefill" ? "with a prefill" : "decode only";
  return `  ${kind.padEnd(16)}${String(g.recorded.steps).padStart(6)} -> ${String(g.simulated.steps).padEnd(6)} steps  busy ${s(g.recorded.busy_ns).padStart(9)} -> ${s(g.simulated.busy_ns).padEnd(9)} (${g.busy_error === null ? "-" : signedPct(g.busy_error)})  idle before ${s(g.recorded.idle_ns).padStart(9)} -> ${s(g.simulated.idle_ns)}`;
}

function gpuLines(c: CalibrationResult): string[] {
  const { recorded, simulated } = c.gpu_timed;
  if (c.gpu.length) return ["", "GPU: each run's time on the GPU per step (update.gpu; a replay's is its clock's): busy, and idle before the step (recorded -> simulated)", ...c.gpu.map(gpuRow)];
  if (recorded !== simulated) return ["", `GPU: only the ${recorded ? "recorded" : "simulated"} run has GPU times per step (update.gpu); nothing to compare`];
  return [];
}

/** where both runs name their GPUs (two recordings): one GPU or two, which decides how far a repeat may differ */
function machineLines(c: CalibrationResult): string[] {
  const { recorded, simulated, same_gpus } = c.machines;
  if (same_gpus === null) return [];
  const gpus = (m: typeof recorded) => (m?.gpus ?? []).map((g) => g.uuid ?? "?").join(", ");
  const cpus = recorded?.cpu_model === simulated?.cpu_model ? `, host CPU ${recorded?.cpu_model ?? "unnamed"} in both` : `; host CPUs ${recorded?.cpu_model ?? "unnamed"} -> ${simulated?.cpu_model ?? "unnamed"}`;
  return [same_gpus ? `machines: the same GPU (${gpus(recorded)})${cpus}` : `machines: other GPUs (${gpus(recorded)} -> ${gpus(simulated)})${cpus}`];
}

export function renderCalibrationText(c: CalibrationResult): string {
  const s = c.steps;
  const lines = [
    `vsched calibrate: recorded ${c.recorded} vs simulated ${c.simulated}`,
    `requests: ${c.requests.paired} paired (recorded ${c.requests.recorded}, simulated ${c.requests.simulated})${c.requests.mismatched ? `; ${c.requests.mismatched} ids in both runs had another prompt length or max_tokens (other requests): left out` : ""}`,
    "",
    `  ${"per request".padEnd(26)}${"pairs".padStart(6)}${"medAPE".padStart(10)}${"P90APE".padStart(10)}${"err.mean".padStart(11)}${"err.P90".padStart(11)}   mean recorded -> simulated`,
    ...c.latency.map((a) => row(a.metric, a)),
  ];
  if (c.alpha_regression_queue_delay) lines.push(row("queue_delay (alpha regr.)", c.alpha_regression_queue_delay));
  lines.push(
    "",
    `steps: recorded ${s.recorded_steps}, simulated ${s.simulated_steps}`,
    `  same scheduled set (requests and tokens): ${s.exact_matches} (${pct(s.exact_share)})`,
    `  same requests:                            ${s.membership_matches} (${pct(s.membership_share)})`,
    `  first divergent step: ${s.first_divergent_step === null ? "none" : `${s.first_divergent_step} (batch ${s.first_divergence!.recorded_batch} recorded, ${s.first_divergence!.simulated_batch} simulated)`}`,
    `makespan (last completion): ${fmtNs(c.makespan.recorded_ns)} -> ${fmtNs(c.makespan.simulated_ns)} (${pct(c.makespan.error)})`,
    ...machineLines(c),
  );
  if (c.pace.length) {
    lines.push("", "pace: one schedule() entry to the next, median by step type and batch (recorded -> simulated)", ...c.pace.map(paceRow));
  }
  if (c.progress.length) {
    lines.push("", "progress: by window of each run's time from its first step (recorded -> simulated): steps, tokens scheduled, mean waiting", ...progressRows(c.progress));
  }
  if (c.work.some((m) => m.lead_ns !== null)) {
    lines.push("", "work done: time from each run's first step until it had scheduled this share of its tokens (recorded -> simulated, the replay's lead; below zero it was ahead)", ...c.work.map(workRow));
  }
  lines.push(...gpuLines(c), `note: ${c.note}`);
  return lines.join("\n") + "\n";
}
