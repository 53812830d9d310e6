import type { CalibrationTable, CalibrationTableRow } from "../analysis/fit/calibrate-table.js";

/** vsched calibrate over several pairs, as text: one row per pair. */
const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)}%`);
// an error that rounds to 0.0% has no sign to show
const signedPct = (v: number | null) => (v === null ? "-" : Math.abs(v) < 0.0005 ? "0.0%" : `${v > 0 ? "+" : "-"}${pct(Math.abs(v))}`);
const LABEL_MAX = 48;
const COLUMNS = ["paired", "E2E mean", "TTFT mean", "E2E P90", "TTFT P90", "makespan", "same steps"];
const WIDTH = 12;

// long labels keep their end, which names the run (…/s224_t8192_r45_g/trace)
const fit = (s: string, n: number) => (s.length <= n ? s.padEnd(n) : `…${s.slice(s.length - n + 1)}`);

// the GPU column only where some pair is two recordings that name their GPUs (trace schema 1.7)
function cells(r: CalibrationTableRow, withGpu: boolean): string {
  if (!r.same_requests) {
    const why = r.mismatched_requests ? `${r.mismatched_requests} of its ids are other requests in` : "no request of the recording is in";
    return `${String(r.paired_requests).padStart(WIDTH)}   ${why} ${r.simulated}: not a replay of this run`;
  }
  const gpu = r.same_gpus === null ? "-" : r.same_gpus ? "same" : "other";
  const figures = [String(r.paired_requests), signedPct(r.e2e_mean_error), signedPct(r.ttft_mean_error), signedPct(r.e2e_p90_error), signedPct(r.ttft_p90_error), signedPct(r.makespan_error), pct(r.same_steps_share), ...(withGpu ? [gpu] : [])];
  const verdict = r.met === null ? "" : (r.met ? "met" : "missed").padStart(9);
  return figures.map((f) => f.padStart(WIDTH)).join("") + verdict;
}

export function renderCalibrationTableText(t: CalibrationTable): string {
  const width = Math.min(LABEL_MAX, Math.max("recorded".length, ...t.rows.map((r) => r.recorded.length)));
  const withGpu = t.rows.some((r) => r.same_gpus !== null);
  const columns = withGpu ? [...COLUMNS, "GPU"] : COLUMNS;
  const lines = [
    `vsched calibrate: ${t.rows.length} recorded runs and their replays; errors signed, (simulated - recorded) / recorded`,
    `  ${"recorded".padEnd(width)}${columns.map((c) => c.padStart(WIDTH)).join("")}${t.targets ? "target".padStart(9) : ""}   replay`,
    ...t.rows.map((r) => `  ${fit(r.recorded, width)}${cells(r, withGpu)}${r.same_requests ? `   ${r.simulated}` : ""}`),
    "",
    `median |error of the means| over the runs: E2E ${pct(t.median_abs_e2e_mean_error)}, TTFT ${pct(t.median_abs_ttft_mean_error)}`,
  ];
  if (t.targets) lines.push(`target (|error of the means| at most ${pct(t.targets.e2e)} E2E and ${pct(t.targets.ttft)} TTFT): ${t.met} of ${t.judged} met`);
  lines.push("note: latencies are scheduler-side (from add_request()); `vsched calibrate RECORDED SIMULATED` on one pair says where a replay ran fast or slow");
  return lines.join("\n") + "\n";
}
