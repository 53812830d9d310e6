import type { LiveSnapshot } from "../analysis/live/live-stats.js";
import type { TailNote } from "../parse/tail.js";
import { formatFinding } from "./findings-text.js";
import type { Style } from "./style.js";

/**
 * vsched watch's words: the full-screen view for a terminal, the one plain line per
 * interval for a pipe, and what happened to a followed file. Snapshot in, text out.
 */
const BARS = "▁▂▃▄▅▆▇█";

/** A sparkline scaled to the series' own maximum (all zeros: a flat line). */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5))] : BARS[0])).join("");
}

const ms = (v: number) => v.toFixed(2);
const secs = (ns: number) => `${(ns / 1e9).toFixed(1)}s`;
const pct = (v: number | null) => (v === null ? "-" : `${v.toFixed(1)}%`);

/** One plain line: the same figures as the screen's first lines (non-TTY output, the exit line). */
export function renderWatchLine(s: LiveSnapshot): string {
  const w = s.window;
  const top = s.waitingByCause[0];
  return (
    `t=${secs(s.nowNs)} steps=${s.totals.steps} requests=${s.totals.arrived} finished=${s.totals.finished}` +
    ` preemptions=${s.totals.preemptions} tokens=${s.totals.tokens}` +
    ` | last ${w.seconds}s: ${w.steps} steps, batch ${w.meanPrefillReqs.toFixed(1)} prefill + ${w.meanDecodeReqs.toFixed(1)} decode,` +
    ` ${w.tokensPerS.toFixed(0)} tok/s, schedule ${ms(w.scheduleMs.mean)} ms (p95 ${ms(w.scheduleMs.p95)}) vs model ${ms(w.modelMs.mean)} ms (p95 ${ms(w.modelMs.p95)}), ${w.preemptions} preempted` +
    ` | running=${s.running} waiting=${s.waiting} kv=${pct(s.kvPercent)}` +
    (top ? ` | top cause: ${top.cause} (${top.requests})` : "")
  );
}

export interface ScreenInfo {
  /** what is watched, and how many trace files so far */
  label: string;
  files: number;
  ended: boolean;
  notes: readonly TailNote[];
}

/** The terminal view, as lines (the caller clears the screen and writes them). */
export function renderWatchScreen(s: LiveSnapshot, info: ScreenInfo, style: Style): string[] {
  const w = s.window;
  const out: string[] = [];
  out.push(style.heading(`vsched watch ${info.label}`) + style.dim(`  ${info.files} file${info.files === 1 ? "" : "s"}, ${s.ranks} rank${s.ranks === 1 ? "" : "s"}, t=${secs(s.nowNs)}${info.ended ? ", run ended" : ""}  (Ctrl-C to quit)`));
  out.push("");
  out.push(`totals       steps ${s.totals.steps}  requests ${s.totals.arrived}  finished ${s.totals.finished}  preemptions ${s.totals.preemptions}  tokens ${s.totals.tokens}`);
  out.push(`last ${w.seconds}s     ${w.steps} steps  batch ${w.meanPrefillReqs.toFixed(1)} prefill + ${w.meanDecodeReqs.toFixed(1)} decode reqs  ${w.tokensPerS.toFixed(0)} tok/s  ${w.preemptions} preempted`);
  out.push(`step time    schedule ${ms(w.scheduleMs.mean)} ms (p95 ${ms(w.scheduleMs.p95)})  model ${ms(w.modelMs.mean)} ms (p95 ${ms(w.modelMs.p95)})`);
  const kv = s.kvPercent === null ? "-" : s.kvPercent >= 95 ? style.warning(pct(s.kvPercent)) : pct(s.kvPercent);
  out.push(`now          running ${s.running}  waiting ${s.waiting}  KV ${kv}`);
  out.push("");
  out.push(`tokens/s     ${sparkline(s.spark.tokensPerS)}`);
  out.push(`KV %         ${sparkline(s.spark.kvPercent)}`);
  out.push(`waiting      ${sparkline(s.spark.waiting)}`);
  out.push("");
  out.push(style.heading("waiting by cause"));
  if (!s.waitingByCause.length) out.push(style.dim("  (none waiting)"));
  for (const c of s.waitingByCause.slice(0, 8)) out.push(`  ${c.cause.padEnd(26)} ${String(c.requests).padStart(6)}`);
  out.push("");
  out.push(style.heading("longest waiting"));
  if (!s.longestWaiters.length) out.push(style.dim("  (none waiting)"));
  for (const x of s.longestWaiters) {
    const id = JSON.stringify(x.requestId).slice(1, -1); // control characters of client ids stay visible, never act
    out.push(`  ${secs(x.waitedNs).padStart(8)}  ${(x.cause ?? "unknown").padEnd(26)} dp${x.dpRank} ${id.length > 40 ? id.slice(0, 39) + "…" : id}`);
  }
  if (info.notes.length) {
    out.push("");
    for (const n of info.notes.slice(-5)) out.push(style.warning(renderTailNote(n)));
  }
  return out;
}

/** `file:line: what happened [CODE]` (the wording is src/render/findings-text.ts's) */
export function renderTailNote(n: TailNote): string {
  return `${n.file}${n.line !== undefined ? `:${n.line}` : ""}: ${formatFinding(n)} [${n.code}]`;
}
