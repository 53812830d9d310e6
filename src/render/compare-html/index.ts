import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { CompareResult } from "../../analysis/compare/index.js";

/**
 * The HTML page of `vsched compare --html`: one self-contained file (uPlot inlined from
 * node_modules/uplot, the data embedded as JSON), the runs overlaid on shared axes:
 * percentile curves of JCT, TTFT and queue time, and waiting-queue occupancy over time
 * (min/max/mean per time bucket, bucket width stated on the page). Every string from the
 * runs (labels, request ids) is escaped; the embedded JSON cannot close its script tag.
 * Kept apart from `vsched report`'s renderer (src/render/html/) so the two can be unified.
 */
const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]);

/** JSON safe inside <script>: no `</script>`, no `<!--`, no U+2028/2029 surprises. */
export const scriptJson = (x: unknown): string =>
  JSON.stringify(x).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");

function asset(file: string): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve(`uplot/dist/${file}`), "utf8");
}

const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"];

function diffTable(r: CompareResult): string {
  const rows: string[] = [];
  for (const m of r.metrics) {
    for (const d of m.differences.filter((x) => x.stat === "mean" || ["jct", "ttft", "queue_time"].includes(m.name))) {
      const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
      const relCi = d.relative_ci95_lo === null || d.relative_ci95_hi === null ? "" : `[${pct(d.relative_ci95_lo)}, ${pct(d.relative_ci95_hi)}]`;
      const abs = (x: number) => (m.unit === "ns" ? `${(x / 1e6).toPrecision(3)} ms` : x.toPrecision(3));
      const excl = d.ci95_lo > 0 || d.ci95_hi < 0;
      rows.push(
        `<tr${excl ? ' class="sig"' : ""}><td>${escapeHtml(m.name)}</td><td>${d.stat}</td><td>${escapeHtml(d.run)}</td><td>${pct(d.relative)}</td><td>${relCi}</td><td>${abs(d.value)}</td><td>[${abs(d.ci95_lo)}, ${abs(d.ci95_hi)}]</td><td>${d.wilcoxon_p === null ? "" : d.wilcoxon_p.toExponential(2)}</td><td>${d.n}${d.paired ? " paired" : ""}</td></tr>`,
      );
    }
  }
  return `<table><thead><tr><th>metric</th><th>stat</th><th>run vs baseline</th><th>change</th><th>95% CI</th><th>difference</th><th>95% CI</th><th>Wilcoxon p</th><th>n</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function runList(r: CompareResult): string {
  const items = r.runs.map((s, i) => {
    const p = i > 0 ? r.pairing[i - 1] : null;
    const pair = p ? (p.paired ? ` — paired (${p.n_paired} requests)` : ` — ${escapeHtml(p.note ?? "unpaired")}${p.example_id !== null ? `; e.g. id <code>${escapeHtml(p.example_id)}</code>` : ""}`) : " — baseline";
    const q = s.predictor;
    const pred = q ? `; predictor MAE ${q.overall.mae?.toFixed(1) ?? "n/a"} tokens, bias ${q.overall.bias?.toFixed(1) ?? "n/a"}, R² ${q.overall.r2?.toFixed(3) ?? "n/a"}, τ-b (all) ${q.kendall_tau_b_all_requests.tau_b?.toFixed(3) ?? "n/a"}, τ-b (queue) ${q.kendall_tau_b_waiting_queue.mean_tau_b?.toFixed(3) ?? "n/a"}` : "";
    return `<li><span class="sw" style="background:${COLORS[i % COLORS.length]}"></span><b>${escapeHtml(s.label)}</b> (${escapeHtml(s.policy)}, ${s.completed}/${s.requests} completed, mean waiting ${s.occupancy.mean_waiting?.toFixed(1) ?? "n/a"})${pair}${pred}</li>`;
  });
  return `<ul class="runs">${items.join("")}</ul>`;
}

const PAGE_SCRIPT = `
const D = JSON.parse(document.getElementById("data").textContent);
const C = ${JSON.stringify(COLORS)};
const W = Math.min(900, document.body.clientWidth - 40);
function plot(el, title, xLabel, yLabel, xs, ys, names) {
  const series = [{ label: xLabel }].concat(names.map((n, i) => ({ label: n, stroke: C[i % C.length], width: 2, spanGaps: true })));
  new uPlot({ title, width: W, height: 300, scales: { x: { time: false } }, axes: [{ label: xLabel }, { label: yLabel }], series }, [xs].concat(ys), document.getElementById(el));
}
const names = D.runs.map((r) => r.label);
const pcts = Array.from({ length: 101 }, (_, i) => i);
for (const [m, el, title] of [["jct", "c-jct", "JCT (E2E) by percentile"], ["ttft", "c-ttft", "TTFT by percentile"], ["queue_time", "c-queue", "queue time by percentile"]]) {
  const curves = D.quantile_curves[m];
  if (curves) plot(el, title, "percentile", "seconds", pcts, curves.map((c) => c.map((v) => (v === null ? null : v / 1e9))), names);
}
// occupancy: each run's buckets on one time grid (seconds since its first iteration)
const grid = new Map();
D.runs.forEach((r, i) => { const t0 = r.occupancy.series.length ? r.occupancy.series[0].t_ns : 0; for (const b of r.occupancy.series) { const t = +((b.t_ns - t0) / 1e9).toFixed(3); if (!grid.has(t)) grid.set(t, names.map(() => null)); grid.get(t)[i] = b.waiting_mean; } });
const ts = [...grid.keys()].sort((a, b) => a - b);
plot("c-occ", "waiting requests over time (mean per bucket)", "seconds since the run's first step", "waiting", ts, names.map((_, i) => ts.map((t) => grid.get(t)[i])), names);
`;

export function renderCompareHtml(r: CompareResult): string {
  const buckets = r.runs.map((s) => `${escapeHtml(s.label)}: ${(s.occupancy.bucket_ns / 1e9).toFixed(1)} s`).join(", ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsched compare</title>
<style>${asset("uPlot.min.css")}
body{font:14px system-ui,sans-serif;margin:20px;max-width:960px}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}tr.sig td{font-weight:600}.sw{display:inline-block;width:12px;height:12px;margin-right:6px}.runs li{margin:4px 0}.note{color:#555}</style>
</head><body>
<h1>vsched compare</h1>
<p>Baseline: <b>${escapeHtml(r.baseline)}</b>. Differences are run − baseline with 95% intervals from a moving-block bootstrap over arrival-ordered requests (${r.settings.resamples} resamples, seed ${r.settings.seed}); bold rows exclude 0.</p>
${runList(r)}
<div id="c-jct"></div><div id="c-ttft"></div><div id="c-queue"></div><div id="c-occ"></div>
<p class="note">Occupancy is downsampled to time buckets (${buckets}); each bucket shows the mean waiting count of the steps in it.</p>
<h2>Differences</h2>
${diffTable(r)}
${r.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join("\n")}
<script id="data" type="application/json">${scriptJson(r)}</script>
<script>${asset("uPlot.iife.min.js")}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
