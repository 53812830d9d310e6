import uplotJs from "uplot/dist/uPlot.iife.min.js?raw";
import uplotCss from "uplot/dist/uPlot.min.css?raw";
import type { ReportData } from "../../analysis/report/types.js";
import { VERSION } from "../../version.js";
import clientJs from "./client.js?raw";
import pageCss from "./page.css?raw";
import { createHash } from "node:crypto";
import { escapeHtml, scriptJson } from "./encode.js";
import { viewModel } from "./view-model.js";

/**
 * The report as ONE self-contained HTML file: no script, style, font or image is fetched
 * at view time, so the page works offline and keeps working when any CDN moves (GuideLLM's
 * reports broke that way, its issues #303 and #309).
 *
 * Charting library: uPlot (MIT, ~50 KB minified, no dependencies), inlined. It draws on
 * canvas and was built for large time series: a million points render in ~0.1 s, zoom by
 * drag-select and cursor sync across charts are built in. Plotly (~3.5 MB) or ECharts
 * (~1 MB) would dominate the file size; Chart.js needs a decimation plugin and is several
 * times slower at this size; Vega-Lite ships a compiler. The page's own script
 * (client.js) builds every chart and table from the embedded data with textContent, so no
 * value from the trace is ever parsed as markup.
 */
export function renderReportHtml(data: ReportData): string {
  const vm = viewModel(data);
  // a closing </script> inside a library would end the element early; neither has one, but never trust that
  const safeJs = (s: string) => s.replace(/<\/script/gi, "<\\/script");
  const scripts = [safeJs(uplotJs), safeJs(clientJs)];
  // only these two scripts may run (by hash): even markup smuggled past the escaping could run nothing
  const hashes = scripts.map((s) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`).join(" ");
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // no network at view time, enforced by the browser too
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src ${hashes}; style-src 'unsafe-inline'; img-src data: blob:">`,
    `<meta name="generator" content="vsched ${escapeHtml(VERSION)}">`,
    `<title>${escapeHtml(data.title)}</title>`,
    `<style>${uplotCss}\n${pageCss}</style>`,
    "</head><body>",
    '<div id="app"><p id="loading">Loading the report…</p></div>',
    `<script type="application/json" id="vsched-data">${scriptJson(vm)}</script>`,
    `<script>${scripts[0]}</script>`,
    `<script>${scripts[1]}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
