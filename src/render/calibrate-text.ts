import type { CalibrationResult, LatencyAgreement } from "../analysis/fit/calibrate.js";
import { PACE_MIN_STEPS, type PaceBin } from "../analysis/fit/pace.js";
import { fmtNs } from "./fit-text.js";

/** vsched calibrate as text. */
const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(2)}%`);

function row(name: string, a: LatencyAgreement): string {
  return `  ${name.padEnd(26)}${String(a.pairs).padStart(6)}${pct(a.median_ape).padStart(10)}${pct(a.p90_ape).padStart(10)}${pct(a.error_of_means).padStart(11)}${pct(a.error_of_p90s).padStart(11)}   ${fmtNs(a.recorded_mean_ns)} -> ${fmtNs(a.simulated_mean_ns)}`;
}

const signedPct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;

function paceRow(b: PaceBin): string {
  const range = b.batch_hi === null ? `${b.batch_lo + 1}+` : `${b.batch_lo + 1}-${b.batch_hi}`;
  const r = b.recorded, s = b.simulated;
  const share = r.time_share === null ? "" : `, ${(r.time_share * 100).toFixed(0)}% of time`;
  const verdict = b.error !== null ? signedPct(b.error) : s.steps === 0 ? "never reached in the replay" : r.steps === 0 ? "not in the recording" : `too few steps to compare (< ${PACE_MIN_STEPS})`;
  return `  ${b.kind.padEnd(8)} batch ${range.padEnd(9)}${String(r.steps).padStart(6)} steps${share.padEnd(15)}${fmtNs(r.median_ns).padStart(11)} -> ${fmtNs(s.median_ns).padEnd(11)}${String(s.steps).padStart(6)} steps   ${verdict}`;
}

export function renderCalibrationText(c: CalibrationResult): string {
  const s = c.steps;
  const lines = [
    `vsched calibrate: recorded ${c.recorded} vs simulated ${c.simulated}`,
    `requests: ${c.requests.paired} paired (recorded ${c.requests.recorded}, simulated ${c.requests.simulated})`,
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
  );
  if (c.pace.length) {
    lines.push("", "pace: one schedule() entry to the next, median by step type and batch (recorded -> simulated)", ...c.pace.map(paceRow));
  }
  lines.push(`note: ${c.note}`);
  return lines.join("\n") + "\n";
}
