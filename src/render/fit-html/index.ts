import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FitPlot, FitResult } from "../../analysis/fit/index.js";
import { chosenModel } from "../../analysis/fit/step-model.js";

/**
 * The residual plots of vsched fit as one self-contained HTML page: uPlot inlined from
 * node_modules (no CDN), data embedded as JSON. Three charts for the chosen β model:
 * predicted vs actual, residual vs fitted, residual vs time (train and test in two colours).
 * Above MAX_POINTS steps the page keeps, per time bucket, the steps with the smallest and
 * largest residual (so spikes survive) and says so.
 */
const MAX_POINTS = 6000;

function uplotAssets(): { js: string; css: string } {
  const req = createRequire(import.meta.url);
  return {
    js: readFileSync(req.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    css: readFileSync(req.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const jsonForScript = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028|\u2029/g, "");

export function downsample(plot: FitPlot, max = MAX_POINTS): { idx: number[]; note: string } {
  const n = plot.time_ns.length;
  if (n <= max) return { idx: [...Array(n).keys()], note: `all ${n} kept steps shown` };
  const buckets = Math.floor(max / 2);
  const t0 = plot.time_ns[0], t1 = plot.time_ns[n - 1];
  const keep = new Set<number>();
  const lo = new Map<number, number>(), hi = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const b = Math.min(buckets - 1, Math.floor(((plot.time_ns[i] - t0) / Math.max(1, t1 - t0)) * buckets));
    const r = plot.predicted_ns[i] - plot.actual_ns[i];
    if (!lo.has(b) || r < plot.predicted_ns[lo.get(b)!] - plot.actual_ns[lo.get(b)!]) lo.set(b, i);
    if (!hi.has(b) || r > plot.predicted_ns[hi.get(b)!] - plot.actual_ns[hi.get(b)!]) hi.set(b, i);
  }
  for (const i of [...lo.values(), ...hi.values()]) keep.add(i);
  const idx = [...keep].sort((a, b) => a - b);
  return { idx, note: `${idx.length} of ${n} steps shown: per time bucket (${buckets} buckets) the steps with the smallest and largest residual` };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(2)}%`);

/** Every fitted model's errors, the chosen one marked: blocked CV overall and per step type, the test set. */
function modelsTable(fit: FitResult): string {
  // steps of each type (the same for every model): a type with a handful of steps has a MAPE that says little
  const n = (t: string) => fit.beta.models[0]?.cv_by_batch_type.find((x) => x.group === t)?.n ?? 0;
  const head = ["model", "CV MAPE", "CV bias", `prefill-only (${n("prefill_only")} steps)`, `mixed (${n("mixed")})`, `decode-only (${n("decode_only")})`, `prefill episodes (${n("prefill_episode")})`, "mixed bias", "decode bias", "test MAPE", "test bias", "terms"];
  const rows = fit.beta.models.map((m) => {
    const g = (t: string) => m.cv_by_batch_type.find((x) => x.group === t);
    const cells = [m.id + (m.id === fit.beta.chosen ? " (chosen)" : ""), pct(m.cv?.mape), pct(m.cv?.bias), pct(g("prefill_only")?.mape), pct(g("mixed")?.mape), pct(g("decode_only")?.mape), pct(g("prefill_episode")?.mape), pct(g("mixed")?.bias), pct(g("decode_only")?.bias), pct(m.test.mape), pct(m.test.bias), String(m.terms.length)];
    return `<tr${m.id === fit.beta.chosen ? ' class="chosen"' : ""}>${cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`;
  });
  return `<table id="models"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Pooled runs: the chosen model fitted without each run, its total-time bias on that run (docs/fit.md, "Several runs"). */
function leaveOneRunOut(fit: FitResult): string {
  const runs = fit.beta.leave_one_run_out;
  if (!runs.length) return "";
  const signed = (v: number | null) => (v === null ? "-" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)}%`);
  const rows = runs.map((r) => `<tr><td>${esc(r.source)}</td><td>${r.steps}</td><td>${esc(signed(r.bias))}</td></tr>`).join("");
  return `<h2>Leave one run out (${esc(fit.beta.chosen)} fitted on the other runs)</h2>
<p class="note">Total-time bias on each run's kept steps, (Σ predicted − Σ recorded) / Σ recorded: a replay's latencies follow it, several points per percent near capacity.</p>
<table id="runs"><thead><tr><th>run</th><th>steps</th><th>total-time bias</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderFitHtml(fit: FitResult, plot: FitPlot, label: string): string {
  const { js, css } = uplotAssets();
  const { idx, note } = downsample(plot);
  const m = chosenModel(fit);
  const data = {
    t: idx.map((i) => plot.time_ns[i] / 1e9),
    actual: idx.map((i) => plot.actual_ns[i] / 1e6),
    pred: idx.map((i) => plot.predicted_ns[i] / 1e6),
    test: idx.map((i) => (plot.test[i] ? 1 : 0)),
  };
  const summary = `${m.id}: test MAPE ${m.test.mape === null ? "-" : (m.test.mape * 100).toFixed(2) + "%"}, R² ${m.test.r2 === null ? "-" : m.test.r2.toFixed(4)} (n=${m.test.n})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsched fit: ${esc(label)}</title>
<style>${css}
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}.note{color:#555}.chart{margin:1em 0}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}tr.chosen{background:#eef5ff;font-weight:600}
</style></head><body>
<h1>vsched fit: ${esc(label)}</h1>
<p>${esc(summary)}. ${fit.beta.clock === "gpu" ? "Each step's time on the GPU (CUDA events, trace update.gpu)" : "Update-to-update step time"} as docs/fit.md defines it; milliseconds. Blue: training period, orange: held-out test period (last ${Math.round(fit.split.test_fraction * 100)}%).</p>
<p class="note">${esc(note)}.</p>
<h2>Every model (blocked cross-validation over the whole run, ${fit.beta.cv_blocks} blocks; chosen by CV MAPE + 5 × |CV bias|)</h2>
${modelsTable(fit)}
${leaveOneRunOut(fit)}
<h2>The chosen model</h2>
<div id="pva" class="chart"></div><div id="rvf" class="chart"></div><div id="rvt" class="chart"></div>
<script type="application/json" id="fit-data">${jsonForScript(data)}</script>
<script>${js}</script>
<script>
(function(){
  var d = JSON.parse(document.getElementById("fit-data").textContent);
  var colors = ["#1f77b4", "#ff7f0e"];
  function scatter(el, title, xs, ys, xl, yl) {
    var order = xs.map(function(_, i){ return i; }).sort(function(a, b){ return xs[a] - xs[b]; });
    var x = order.map(function(i){ return xs[i]; });
    var series = [{}], cols = [x];
    [0, 1].forEach(function(k){
      cols.push(order.map(function(i){ return d.test[i] === k ? ys[i] : null; }));
      series.push({ label: k ? "test" : "train", stroke: colors[k], fill: colors[k], paths: function(){ return null; }, points: { show: true, size: 4 } });
    });
    new uPlot({ title: title, width: 900, height: 320, scales: { x: { time: false } }, series: series,
      axes: [{ label: xl }, { label: yl }], cursor: { drag: { x: true, y: true } } }, cols, document.getElementById(el));
  }
  var resid = d.pred.map(function(p, i){ return p - d.actual[i]; });
  scatter("pva", "predicted vs actual", d.actual, d.pred, "actual step time (ms)", "predicted (ms)");
  scatter("rvf", "residual vs fitted", d.pred, resid, "predicted step time (ms)", "predicted - actual (ms)");
  scatter("rvt", "residual vs time", d.t, resid, "step start (s from trace t=0)", "predicted - actual (ms)");
})();
</script>
</body></html>
`;
}
