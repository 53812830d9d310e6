import type { CompareResult, Difference, MetricResult, RunSummary, StatName } from "../analysis/compare/index.js";

/** Text of `vsched compare`: one screen. Objects in, a string out. */
export interface TextStyle {
  heading: (s: string) => string;
  dim: (s: string) => string;
}
export const PLAIN_STYLE: TextStyle = { heading: (s) => s, dim: (s) => s };

/** Request ids come from clients: printable ASCII only, bounded. */
export function safeId(id: string): string {
  const clean = id.replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(clean.length > 40 ? `${clean.slice(0, 40)}…` : clean);
}

const DETAILED = new Set(["jct", "ttft", "queue_time"]);
const NAME_W = 30;

/** A time's display unit by its magnitude (ns in, s/ms/us/ns out). */
function timeUnit(ns: number): { div: number; unit: string } {
  const a = Math.abs(ns);
  return a >= 1e9 ? { div: 1e9, unit: "s" } : a >= 1e6 ? { div: 1e6, unit: "ms" } : a >= 1e3 ? { div: 1e3, unit: "us" } : { div: 1, unit: "ns" };
}

function unitScale(m: MetricResult): { div: number; unit: string } {
  if (m.unit !== "ns") return { div: 1, unit: m.unit === "x" ? "x" : "" };
  return timeUnit(m.runs[0]?.mean ?? 0);
}

const num = (x: number, digits = 2): string => (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(digits));
const signed = (x: number): string => `${x >= 0 ? "+" : ""}${num(x)}`;
const pctNum = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`;
const pct = (x: number | null): string => (x === null ? "n/a" : `${pctNum(x)}%`);
const pText = (p: number | null): string => (p === null ? "" : p < 0.001 ? " p<0.001" : ` p=${p.toFixed(3)}`);

/**
 * "-46.7% [-62.1, -13.4]  Δ -34.73 s [-74.79, -10.04]*": the relative change with its own
 * interval (bootstrapped as a ratio), then the difference with its interval; a baseline near
 * zero gets the difference alone.
 */
function diffCell(d: Difference | undefined, metricUnit: string): string {
  if (!d) return "n/a";
  const { div, unit } = metricUnit === "ns" ? timeUnit(Math.max(Math.abs(d.ci95_lo), Math.abs(d.ci95_hi), Math.abs(d.value))) : { div: 1, unit: metricUnit === "x" ? "x" : "" };
  const excl = d.ci95_lo > 0 || d.ci95_hi < 0 ? "*" : " ";
  const abs = `Δ ${signed(d.value / div)} [${signed(d.ci95_lo / div)}, ${signed(d.ci95_hi / div)}]${unit ? ` ${unit}` : ""}`;
  const rel = d.relative === null || d.relative_ci95_lo === null || d.relative_ci95_hi === null ? "" :
    `${pct(d.relative)} [${pctNum(d.relative_ci95_lo)}, ${pctNum(d.relative_ci95_hi)}]  `;
  return `${rel}${abs}${excl}${pText(d.wilcoxon_p)}`;
}

function metricRows(r: CompareResult, m: MetricResult, labels: string[]): string[] {
  const { div, unit } = unitScale(m);
  const stats: StatName[] = DETAILED.has(m.name) ? ["mean", "p50", "p90", "p99"] : ["mean"];
  const rows: string[] = [];
  if (m.runs.every((x) => x.mean === 0 || x.mean === null)) return [`  ${m.name.padEnd(NAME_W)}${"mean".padEnd(5)}${"0".padStart(12)}   0 in every run`];
  for (const stat of stats) {
    const base = m.runs[0][stat];
    if (base === null && stat !== "mean") continue;
    const cells = labels.slice(1).map((l) => diffCell(m.differences.find((d) => d.run === l && d.stat === stat), m.unit));
    const head = `${stat === "mean" ? m.name : ""}`.padEnd(NAME_W) + stat.padEnd(5);
    rows.push(`  ${head}${(base === null ? "n/a" : `${num(base / div)} ${unit}`).padStart(12)}   ${cells.map((c) => c.padEnd(64)).join("")}`.trimEnd());
  }
  return rows;
}

function runLine(s: RunSummary, i: number): string {
  const tag = String.fromCharCode(65 + i);
  return `  ${tag}  ${s.label}  (${s.policy}, vLLM ${s.vllm_version}, ${s.completed}/${s.requests} completed)`;
}

function runLevel(r: CompareResult): string[] {
  const f = (x: number | null, d = 2) => (x === null ? "n/a" : num(x, d));
  const out = ["run-level (one figure per run)", "  run  tok/s    req/s   goodput/s  preempt  recomputed  longest-wait  mean-waiting  queued-time  max-waiting"];
  r.runs.forEach((s, i) => {
    out.push(
      `  ${String.fromCharCode(65 + i)}    ${f(s.throughput_tokens_per_s, 1).padEnd(8)} ${f(s.throughput_requests_per_s, 3).padEnd(7)} ${(s.goodput_requests_per_s === null ? "-" : f(s.goodput_requests_per_s, 3)).padEnd(10)} ${String(s.preemptions).padEnd(8)} ${String(s.recomputed_tokens).padEnd(11)} ${(s.longest_wait_ns === null ? "n/a" : `${num(s.longest_wait_ns / 1e9)} s`).padEnd(13)} ${f(s.occupancy.mean_waiting, 1).padEnd(13)} ${(s.occupancy.share_time_queued === null ? "n/a" : pct(s.occupancy.share_time_queued).replace("+", "")).padEnd(12)} ${s.occupancy.max_waiting}`,
    );
  });
  return out;
}

function predictorLines(r: CompareResult): string[] {
  const withP = r.runs.map((s, i) => [s, i] as const).filter(([s]) => s.predictor);
  if (!withP.length) return ["predictions: none of the runs recorded any (no predictions table rows)"];
  const f = (x: number | null, d = 1) => (x === null ? "n/a" : x.toFixed(d));
  const out = ["predictor quality (remaining output tokens; τ-b: Kendall, predicted vs true remaining)", "  run  predictions  MAE      bias     R²      τ-b all requests   τ-b waiting queue (mean over steps)"];
  for (const [s, i] of withP) {
    const p = s.predictor!;
    const q = p.kendall_tau_b_waiting_queue;
    out.push(
      `  ${String.fromCharCode(65 + i)}    ${String(p.predictions).padEnd(12)} ${f(p.overall.mae).padEnd(8)} ${f(p.overall.bias).padEnd(8)} ${f(p.overall.r2, 3).padEnd(7)} ${`${f(p.kendall_tau_b_all_requests.tau_b, 3)} (n=${p.kendall_tau_b_all_requests.n})`.padEnd(18)} ${q.mean_tau_b === null ? `n/a${q.note ? `: ${q.note}` : ""}` : `${f(q.mean_tau_b, 3)} (${q.steps} steps)`}`,
    );
  }
  const first = withP[0][0].predictor!;
  if (first.by_progress.length > 1) {
    out.push(`  MAE by progress (output tokens at prediction): ${withP.map(([s, i]) => `${String.fromCharCode(65 + i)} ${s.predictor!.by_progress.map((b) => `${b.from_tokens}:${f(b.mae, 0)}`).join(" ")}`).join("; ")}`);
  }
  return out;
}

export function renderCompareText(r: CompareResult, style: TextStyle = PLAIN_STYLE): string {
  const labels = r.runs.map((s) => s.label);
  const out: string[] = [style.heading(`vsched compare: ${r.runs.length} runs, baseline A`)];
  r.runs.forEach((s, i) => out.push(runLine(s, i)));
  r.pairing.forEach((p, i) => {
    const tag = String.fromCharCode(66 + i);
    out.push(`  ${tag} vs A: ${p.paired ? `paired by ${p.by_client_id ? "the client's request id (vLLM's random suffix dropped)" : "request id"} (${p.n_paired} requests completed in both; prompt and max_tokens checked)` : `${p.note}${p.example_id !== null ? `; e.g. id ${safeId(p.example_id)}` : ""}`}`);
  });
  out.push("");
  out.push(style.heading(`differences vs A: relative change [95% CI]  Δ difference [95% CI] (moving-block bootstrap, ${r.settings.resamples} resamples; no % where A is near zero) * = CI excludes 0; p = Wilcoxon signed-rank (paired)`));
  out.push(`  ${"metric".padEnd(NAME_W)}${"stat".padEnd(5)}${"A".padStart(12)}   ${labels.slice(1).map((_, i) => `${String.fromCharCode(66 + i)} vs A`.padEnd(64)).join("")}`.trimEnd());
  for (const m of r.metrics) out.push(...metricRows(r, m, labels));
  const withheld = r.metrics.filter((m) => m.note && DETAILED.has(m.name)).map((m) => `${m.name}: ${m.note}`);
  const starv = r.metrics.find((m) => m.name === "queue_time_longest10pct");
  if (starv?.note) withheld.push(`queue_time_longest10pct: ${starv.note}`);
  for (const w of withheld) out.push(style.dim(`  ${w}`));
  out.push("");
  out.push(...runLevel(r));
  out.push("");
  out.push(...predictorLines(r));
  if (r.slowdown_model) {
    const m = r.slowdown_model;
    out.push("");
    out.push(style.dim(`slowdown = E2E / service time alone, modelled from A's ${m.iterations} steps: ${num(m.c0_ns / 1e6, 3)} ms/step + ${num(m.c_prefill_ns_per_token / 1e3, 3)} us/prefill token + ${num(m.c_decode_ns_per_token / 1e3, 3)} us/decode token (docs/compare.md)`));
  }
  for (const n of r.notes) out.push(style.dim(`note: ${n}`));
  return `${out.join("\n")}\n`;
}
