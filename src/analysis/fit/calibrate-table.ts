import { quantileSorted } from "../math/stats.js";
import type { CalibrationResult, LatencyAgreement } from "./calibrate.js";

/**
 * Several calibrations in one table (issue 17, "calibration as a product"): one row per pair of
 * a recorded run and its replay, the signed errors a sim-to-real study reports (of the means and
 * of the P90s, E2E and TTFT), and, given targets, which pairs meet them. Pure: calibrate()'s
 * results in, a plain object out.
 *
 * Signed, (simulated − recorded) / recorded, where calibrate's single-pair figures are absolute:
 * across runs, a model that is always slow and one that is off either way are different news.
 */
export interface CalibrationTargets {
  /** the largest |E2E error of the means| that meets the target, as a fraction */
  e2e: number;
  /** the largest |TTFT error of the means| that meets the target, as a fraction */
  ttft: number;
}

export interface CalibrationTableRow {
  recorded: string;
  simulated: string;
  paired_requests: number;
  /** ids in both runs whose prompt length or max_tokens differ: other requests under the same ids */
  mismatched_requests: number;
  /** the replay served the recording's requests: some paired, none under the same id with another prompt */
  same_requests: boolean;
  e2e_mean_error: number | null;
  ttft_mean_error: number | null;
  e2e_p90_error: number | null;
  ttft_p90_error: number | null;
  makespan_error: number | null;
  /** share of steps whose scheduled set (requests and tokens) is the same in both runs */
  same_steps_share: number | null;
  /** both runs on the same GPUs, or on others (two recordings of trace schema 1.7); null unless both say */
  same_gpus: boolean | null;
  /** both errors of the means within the targets; null without targets, or when the runs served other requests */
  met: boolean | null;
}

export interface CalibrationTable {
  kind: "vsched.calibrate.table";
  targets: CalibrationTargets | null;
  rows: CalibrationTableRow[];
  /** medians over the rows of the absolute errors of the means (rows of other requests left out) */
  median_abs_e2e_mean_error: number | null;
  median_abs_ttft_mean_error: number | null;
  /** rows meeting the targets, of the `judged` rows (those of the same requests); null without targets */
  met: number | null;
  judged: number;
}

const signed = (s: number | null, r: number | null) => (s === null || r === null || r === 0 ? null : (s - r) / r);
const ofMeans = (a: LatencyAgreement | undefined) => (a ? signed(a.simulated_mean_ns, a.recorded_mean_ns) : null);
const ofP90s = (a: LatencyAgreement | undefined) => (a ? signed(a.simulated_p90_ns, a.recorded_p90_ns) : null);

function tableRow(c: CalibrationResult, targets: CalibrationTargets | null): CalibrationTableRow {
  const e2e = c.latency.find((a) => a.metric === "e2e"), ttft = c.latency.find((a) => a.metric === "ttft");
  const e2eMean = ofMeans(e2e), ttftMean = ofMeans(ttft);
  const same = c.requests.paired > 0 && c.requests.mismatched === 0;
  const judged = targets !== null && same && e2eMean !== null && ttftMean !== null;
  return {
    recorded: c.recorded,
    simulated: c.simulated,
    paired_requests: c.requests.paired,
    mismatched_requests: c.requests.mismatched,
    same_requests: same,
    e2e_mean_error: e2eMean,
    ttft_mean_error: ttftMean,
    e2e_p90_error: ofP90s(e2e),
    ttft_p90_error: ofP90s(ttft),
    makespan_error: signed(c.makespan.simulated_ns, c.makespan.recorded_ns),
    same_steps_share: c.steps.exact_share,
    same_gpus: c.machines.same_gpus,
    met: judged ? Math.abs(e2eMean!) <= targets!.e2e && Math.abs(ttftMean!) <= targets!.ttft : null,
  };
}

function medianAbs(values: (number | null)[]): number | null {
  const v = Float64Array.from(values.filter((x): x is number => x !== null).map(Math.abs)).sort();
  return quantileSorted(v, 0.5);
}

export function calibrationTable(results: readonly CalibrationResult[], targets: CalibrationTargets | null = null): CalibrationTable {
  const rows = results.map((c) => tableRow(c, targets));
  const withPairs = rows.filter((r) => r.same_requests);
  return {
    kind: "vsched.calibrate.table",
    targets,
    rows,
    median_abs_e2e_mean_error: medianAbs(withPairs.map((r) => r.e2e_mean_error)),
    median_abs_ttft_mean_error: medianAbs(withPairs.map((r) => r.ttft_mean_error)),
    met: targets === null ? null : rows.filter((r) => r.met === true).length,
    judged: rows.filter((r) => r.met !== null).length,
  };
}
