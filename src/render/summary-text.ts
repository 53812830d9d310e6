import type { LatencyStats, Summary } from "../analysis/summary/types.js";

import { PLAIN, type Style } from "./style.js";

export { PLAIN, type Style } from "./style.js";

const DASH = "-";
export const fmtMs = (ns: number | null | undefined): string => (ns === null || ns === undefined ? DASH : (ns / 1e6).toFixed(3));
export const fmtS = (ns: number | null | undefined): string => (ns === null || ns === undefined ? DASH : (ns / 1e9).toFixed(3));
export const fmtPct = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : `${(x * 100).toFixed(1)}%`);
export const fmtNum = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined ? DASH : x.toFixed(digits));
const fmtInt = (x: number | null | undefined): string => (x === null || x === undefined ? DASH : String(Math.round(x)));

/** Why a figure is missing, one sentence per note code. */
export const SUMMARY_NOTES: Record<string, string> = {
  no_iteration_requests: "ITL and queue progress: per_iteration_requests.csv is absent.",
  itl_needs_complete_iteration_requests:
    "ITL: per_iteration_requests.csv does not record every iteration with its waiting rows (convert with --iteration-requests all and no sampling).",
  queue_progress_needs_waiting_rows: "Queue progress: per_iteration_requests.csv has no waiting rows with a queue position.",
  no_completed_span: "Throughput: no completed request, so the trace span is unknown.",
};

/** Aligned columns; `left` lists the columns aligned left (the others are numbers, aligned right). */
function table(rows: string[][], left: readonly number[] = [0]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

function latencyRow(name: string, s: LatencyStats | null): string[] {
  if (!s) return [name, DASH, DASH, DASH, DASH, DASH, DASH, DASH, DASH];
  return [name, String(s.count), fmtMs(s.mean_ns), fmtMs(s.p50_ns), fmtMs(s.p90_ns), fmtMs(s.p95_ns), fmtMs(s.p99_ns), fmtMs(s.p999_ns), fmtMs(s.max_ns)];
}

const sloText = (slo: NonNullable<Summary["goodput"]>["slo"]): string =>
  [
    slo.ttft_ns !== undefined ? `TTFT <= ${fmtMs(slo.ttft_ns)} ms` : null,
    slo.tpot_ns !== undefined ? `TPOT <= ${fmtMs(slo.tpot_ns)} ms` : null,
    slo.e2e_ns !== undefined ? `E2E <= ${fmtMs(slo.e2e_ns)} ms` : null,
  ]
    .filter(Boolean)
    .join(", ");

/** which GPUs (name and NVML UUID) and host CPU recorded the run */
function machineLine(m: NonNullable<Summary["machine"]>): string {
  const gpus = m.gpus.map((g) => `${g.name ?? "GPU"} ${g.uuid ?? "(no UUID)"}`).join(", ");
  return `Machine: ${[gpus ? `GPU ${gpus}` : null, m.cpu_model ? `host CPU ${m.cpu_model}` : null].filter(Boolean).join("; ")}`;
}

/** One screen of text: every figure with its unit, section by section. */
export function renderSummaryText(s: Summary, title: string, style: Style = PLAIN): string {
  const out: string[] = [];
  const h = (t: string) => out.push("", style.heading(t));
  const r = s.requests;
  out.push(style.heading(`vsched summary: ${title}`) + (s.schema_version ? style.dim(` (schema ${s.schema_version})`) : ""));
  if (s.machine) out.push(machineLine(s.machine));
  out.push(
    `Requests: ${r.total} total, ${r.completed} completed, ${r.aborted} aborted, ${r.failed} error/ignored, ${r.unfinished} unfinished; span ${fmtS(s.span.duration_ns)} s`,
  );
  for (const section of [latencySection, throughputSection, schedulerSection, resourcesSection, waitingSection, fairnessSection, policySection]) {
    const part = section(s);
    if (!part) continue;
    h(part.heading);
    out.push(...part.lines);
  }
  if (s.notes.length) {
    out.push("");
    for (const n of s.notes) out.push(style.dim(`note: ${SUMMARY_NOTES[n] ?? n}`));
  }
  return `${out.join("\n")}\n`;
}

type Section = (s: Summary) => { heading: string; lines: string[] } | null;
const indent = (lines: string[], by = "  ") => lines.map((l) => `${by}${l}`);

const latencySection: Section = (s) => {
  const L = s.latency;
  const rows = [
    ["", "n", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"],
    latencyRow("TTFT", L.ttft),
    latencyRow("TPOT (excl. 1st token)", L.tpot),
    latencyRow("ITL", L.itl),
    latencyRow("Queue time", L.queue_time),
    latencyRow("E2E", L.e2e),
  ];
  return { heading: "Latency (ms, completed requests)", lines: indent(table(rows)) };
};

const throughputSection: Section = (s) => {
  const t = s.throughput;
  const lines = [`${fmtNum(t.requests_per_s)} req/s, ${fmtNum(t.output_tokens_per_s)} output tok/s, ${fmtNum(t.total_tokens_per_s)} total tok/s`];
  const g = s.goodput;
  if (g) lines.push(`goodput (${sloText(g.slo)}): ${g.requests} req (${fmtPct(g.share)} of completed), ${fmtNum(g.requests_per_s)} req/s`);
  return { heading: "Throughput (over the span)", lines: indent(lines) };
};

const schedulerSection: Section = (s) => {
  const sc = s.scheduler;
  const times = table([
    ["", "mean ms", "p99 ms"],
    ["scheduling overhead", fmtMs(sc.scheduling_overhead.mean_ns), fmtMs(sc.scheduling_overhead.p99_ns)],
    ["forward time", fmtMs(sc.forward_duration.mean_ns), fmtMs(sc.forward_duration.p99_ns)],
    ["step time", fmtMs(sc.step_duration.mean_ns), fmtMs(sc.step_duration.p99_ns)],
  ]);
  const pc = sc.prefill_chunks;
  const bs = sc.batch_size;
  const lines = [
    ...times,
    `scheduling share of step time: ${fmtPct(sc.scheduling_share)}`,
    `tokens: ${sc.prefill_tokens} prefill (${fmtPct(sc.prefill_token_share)}), ${sc.decode_tokens} decode, ${sc.recompute_tokens} recomputed; prefill requests ${fmtPct(sc.prefill_request_share)} of scheduled`,
    `prefill chunks: ${pc.count}, mean ${fmtNum(pc.mean_tokens, 1)}, min ${fmtInt(pc.min_tokens)}, max ${fmtInt(pc.max_tokens)} tokens`,
    `batch size (requests): mean ${fmtNum(bs.mean)}, p50 ${fmtNum(bs.p50, 1)}, p90 ${fmtNum(bs.p90, 1)}, p99 ${fmtNum(bs.p99, 1)}, max ${fmtInt(bs.max)}`,
  ];
  return { heading: `Scheduler (${sc.iterations} iterations, ${sc.idle_iterations} idle)`, lines: indent(lines) };
};

const resourcesSection: Section = (s) => {
  const re = s.resources;
  return {
    heading: "Resources",
    lines: indent([
      `KV cache utilisation: mean ${fmtPct(re.kv_utilization_mean)}, peak ${fmtPct(re.kv_utilization_peak)}`,
      `preemption: ${re.preempted_requests} request${re.preempted_requests === 1 ? "" : "s"} preempted at least once (${fmtPct(re.preemption_rate)} of all), ${re.preemptions} preemptions, ${re.evictions} evictions, ${re.recomputed_tokens} recomputed tokens`,
      ...(re.engine_cpu
        ? [`engine thread: on a CPU ${fmtPct(re.engine_cpu.cpu_share)} of the time, waiting for one ${fmtPct(re.engine_cpu.wait_share)} (contention)${re.engine_cpu.pressure_share === null ? "" : `; machine CPU pressure ${fmtPct(re.engine_cpu.pressure_share)}`}`]
        : []),
      ...(re.gpu_time
        ? [`GPU: ${re.gpu_time.steps} steps timed on it, busy ${fmtPct(re.gpu_time.busy_share)} of the timed stretch (idle between steps ${fmtS(re.gpu_time.idle_ns)} s in all)`]
        : []),
    ]),
  };
};

const waitingSection: Section = (s) => {
  const w = s.waiting;
  const lines = w.by_cause.length ? indent(table([["cause", "share", "s"], ...w.by_cause.map((c) => [c.cause, fmtPct(c.share), fmtS(c.waiting_ns)])])) : ["  no request waited"];
  if (w.top_requests.length) {
    lines.push("  longest total waits:");
    const rows = w.top_requests.map((q) => [q.request_id, `${fmtMs(q.waiting_ns)} ms`, q.dominant_cause ? `mostly ${q.dominant_cause} (${fmtMs(q.dominant_cause_ns)} ms)` : ""]);
    lines.push(...indent(table(rows, [0, 2]), "    "));
  }
  return { heading: `Waiting (total ${fmtS(w.total_waiting_ns)} s, all requests)`, lines };
};

const fairnessSection: Section = (s) => {
  const f = s.fairness;
  const lines = [
    `longest continuous wait: ${f.longest_wait ? `${fmtMs(f.longest_wait.wait_ns)} ms (${f.longest_wait.request_id})` : DASH}; p99 over requests ${fmtMs(f.longest_wait_p99_ns)} ms`,
    `service rate (output tokens / E2E): Jain's index ${fmtNum(f.service_rate_jain_index, 3)}, mean ${fmtNum(f.service_rate_mean_tokens_per_s)} tok/s, min ${fmtNum(f.service_rate_min_tokens_per_s)} tok/s`,
  ];
  const q = f.queue_progress;
  if (q) lines.push(`queue position between waiting observations: ${q.advanced} advanced, ${q.unchanged} unchanged, ${q.overtaken} overtaken (${fmtPct(q.overtaken_share)}; ${q.requests_overtaken} requests)`);
  return { heading: "Fairness", lines: indent(lines) };
};

const policySection: Section = (s) => {
  if (!s.policy) return null;
  const lines: string[] = [];
  const p = s.policy.predicted_remaining_tokens;
  if (p) {
    lines.push(
      `predicted_remaining_tokens: n ${p.count}, mean error ${fmtNum(p.mean_error_tokens, 1)}, MAE ${fmtNum(p.mean_abs_error_tokens, 1)}, RMSE ${fmtNum(p.rmse_tokens, 1)} tokens; Kendall tau ${fmtNum(p.kendall_tau, 3)}`,
    );
  }
  const ps = s.policy.priority_score;
  if (ps) lines.push(`priority_score: n ${ps.count}; Kendall tau ${fmtNum(ps.kendall_tau, 3)}`);
  return { heading: "Policy scores (vs output_tokens of completed requests)", lines: indent(lines) };
};
