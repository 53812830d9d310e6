import type { FitResult, ModelFit, Spread } from "../analysis/fit/index.js";
import type { ErrorMetrics } from "../analysis/fit/metrics.js";
import { chosenModel } from "../analysis/fit/step-model.js";
import type { GpuTimeModel } from "../analysis/fit/gpu-time.js";
import { INDEX_WINDOW_NS, windowRange } from "../analysis/fit/host-cpu.js";
import { HOST_BOUND_RATIO } from "../analysis/fit/gpu-work.js";

/** vsched fit as text: plain, deterministic, fixed decimals. */
const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(2)}%`);
const num = (v: number | null, d = 3) => (v === null ? "-" : v.toFixed(d));
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

export function fmtNs(ns: number | null): string {
  if (ns === null) return "-";
  const a = Math.abs(ns);
  if (a >= 1e9) return `${(ns / 1e9).toFixed(3)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toFixed(3)} us`;
  return `${ns.toFixed(0)} ns`;
}

/** R² of a group with almost no spread is a huge negative number that says nothing: shown as "<-99" (exact in --json). */
const r2 = (v: number | null) => (v === null ? "-" : v < -99 ? "<-99" : v.toFixed(4));

function metricsRow(name: string, m: ErrorMetrics, extra = ""): string {
  return `  ${pad(name, 22)}${lpad(String(m.n), 6)}${lpad(pct(m.mape), 9)}${lpad(pct(m.median_ape), 9)}${lpad(pct(m.p90_ape), 9)}${lpad(pct(m.bias), 9)}${lpad(r2(m.r2), 8)}${extra}`;
}
const METRICS_HEAD = `  ${pad("", 22)}${lpad("n", 6)}${lpad("MAPE", 9)}${lpad("medAPE", 9)}${lpad("P90APE", 9)}${lpad("bias", 9)}${lpad("R2", 8)}`;

function coefLines(m: ModelFit): string[] {
  const how = m.estimator === "ols" ? "; 95% CI from HC3 standard errors" : m.estimator === "ridge" ? `; ridge lambda ${num(m.ridge_lambda, 2)}, no CI` : "; Huber M-estimate, no CI";
  const out = [`coefficients of ${m.id}, fitted on every kept step: what --out exports (ns of step time per unit${how})`];
  for (const t of m.exported_terms) {
    const ci = t.dropped ? "dropped: collinear with earlier terms" : t.ci95_low === null ? "" : `[${num(t.ci95_low)}, ${num(t.ci95_high)}]`;
    out.push(`  ${pad(t.term, 28)}${lpad(num(t.coef), 18)}  ${ci}`);
  }
  return out;
}

function cvRow(m: ModelFit): string {
  const g = (t: string) => m.cv_by_batch_type.find((x) => x.group === t);
  const cells = [m.cv?.mape ?? null, m.cv?.bias ?? null, g("prefill_only")?.mape ?? null, g("mixed")?.mape ?? null, g("decode_only")?.mape ?? null, g("prefill_only")?.bias ?? null, g("mixed")?.bias ?? null, g("decode_only")?.bias ?? null, g("prefill_episode")?.mape ?? null];
  return `  ${pad(m.id, 22)}${cells.map((c) => lpad(pct(c), 9)).join("")}`;
}

/** A run by its folder (a trace inside trace/: the folder above), else by its file. */
function runLabel(source: string): string {
  const parts = source.split(/[\\/]/).filter(Boolean);
  const up = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  if (up === "trace" && parts.length >= 3) return parts[parts.length - 3];
  return up && up !== "." ? up : (parts[parts.length - 1] ?? source);
}

export const signedPct = (v: number | null) => (v === null ? "-" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`);

function captureLine(fit: FitResult): string {
  const c = fit.beta.capture_sizes;
  if (c.source === "none") return "none (eager or no CUDA graphs: no padding)";
  const where = c.source === "header" ? "from the trace header" : "assumed: vLLM's default for max_num_seqs (the trace header has no engine block)";
  return `${c.sizes.length} sizes up to ${c.sizes[c.sizes.length - 1] ?? 0}, ${where}`;
}

/** Under the GPU clock: how many steps' GPU time ended with their launch, and the work read for them. */
function gpuWorkLines(fit: FitResult): string[] {
  const w = fit.beta.gpu_work;
  if (fit.beta.clock !== "gpu" || !w || !w.host_bound) return [];
  const said = `GPU work: ${w.host_bound} of ${w.steps} steps ran without a CUDA graph and ended with their launch (GPU time <= ${HOST_BOUND_RATIO} x the runner's host time)`;
  if (w.mode === "span") return [`${said}: fitted as recorded, their time measures the host (--gpu-work censored reads it as a bound on their work)`];
  const share = w.host_bound_work_over_span === null ? "" : `: their work read as ${(100 * w.host_bound_work_over_span).toFixed(1)}% of their GPU time (--gpu-work censored)`;
  return [`${said}${share}`];
}

function spreadLine(name: string, s: Spread): string {
  return `  ${pad(name, 34)} n=${s.n}  min ${fmtNs(s.min_ns)}  p10 ${fmtNs(s.p10_ns)}  p50 ${fmtNs(s.p50_ns)}  p90 ${fmtNs(s.p90_ns)}`;
}

export function renderFitText(fit: FitResult, label: string): string {
  const f = fit.filters;
  const m = chosenModel(fit);
  const lines = [
    `vsched fit ${label} (vLLM ${fit.vllm_version})`,
    `clock: ${fit.beta.clock === "gpu" ? "each step's time on the GPU (every run has update.gpu; fit --clock interval for the update-to-update time)" : "the update-to-update step time"}`,
    `target: ${fit.target.beta}`,
    `steps ${f.steps}: kept ${f.kept}; left out: warmup ${f.warmup} (first ${f.warmup_steps} per rank), idle ${f.idle}, incomplete ${f.incomplete}, dummy ${f.dummy}${fit.beta.clock === "gpu" ? `, no GPU time ${f.no_gpu_time}` : ""}`,
    `hold-out: chronological, last ${Math.round(fit.split.test_fraction * 100)}% of kept steps: ${fit.split.test_steps} test, ${fit.split.train_steps} train`,
    `per-step overhead outside the model (median): ${fmtNs(fit.beta.per_step_overhead_ns)}`,
    "",
    "beta: step time, test set",
    METRICS_HEAD + lpad("val.MAPE", 10),
    ...fit.beta.models.map((x) => metricsRow(x.id, x.test, lpad(pct(x.validation_mape), 10))),
    "",
    `beta: blocked cross-validation over the whole run (${fit.beta.cv_blocks} contiguous blocks, each predicted by a fit on the others)`,
    `  ${pad("", 22)}${lpad("MAPE", 9)}${lpad("bias", 9)}${lpad("prefill", 9)}${lpad("mixed", 9)}${lpad("decode", 9)}${lpad("pf.bias", 9)}${lpad("mx.bias", 9)}${lpad("dec.bias", 9)}${lpad("episode", 9)}`,
    ...fit.beta.models.map(cvRow),
    "  (episode: a prefill episode's total time, the steps with prefill and one on each side; an async step's own time moves to its neighbour when the host launches late)",
    `chosen: ${fit.beta.chosen} (${fit.beta.clock === "gpu" ? "among the GPU sets by OLS or ridge, " : ""}fewest terms within 5% + 0.5 pt of the best CV MAPE + 5 × ${m.config_out_bias === null ? "|CV bias|" : `mean |bias on a configuration left out| (${pct(m.config_out_bias)} for this one)`}; coefficients fitted on every kept step)`,
    `CUDA-graph capture sizes for padded_tokens: ${captureLine(fit)}`,
    ...gpuWorkLines(fit),
    ...(fit.beta.host_cpu && fit.beta.host_cpu.indices.length > 1
      ? [`host CPU index per run (schedule() times against the pooled reference line; 1 = the typical host; by ${INDEX_WINDOW_NS / 1e9} s window where it moved): ${hostIndexList(fit.beta.host_cpu)}`]
      : []),
    ...(fit.beta.wait_shares.some((w) => w !== null)
      ? [`CPU wait share per run (engine thread runnable but waiting for a CPU / step time; trace step.cpu): ${fit.beta.wait_shares.map((w) => (w === null ? "—" : `${(100 * w).toFixed(1)}%`)).join(", ")}`]
      : []),
    ...(fit.beta.leave_one_run_out.length
      ? [weighLine(fit), `leave one run out (${fit.beta.chosen} fitted on the other runs), total-time bias on each run: ${fit.beta.leave_one_run_out.map((r) => `${runLabel(r.source)} ${signedPct(r.bias)}`).join(", ")}`]
      : []),
    ...gpuTimeLines(fit),
    "",
    ...coefLines(m),
    "",
    `${m.id} by batch type (test set)`,
    METRICS_HEAD,
    ...m.by_batch_type.map((g) => metricsRow(g.group, g)),
    `${m.id} by batch-size decile (test set)`,
    METRICS_HEAD,
    ...m.by_batch_size_decile.map((g) => metricsRow(g.group, g)),
    "",
    "alpha: queue delay (first scheduled - arrival)",
  ];
  const a = fit.alpha.regression;
  if (a) {
    lines.push(`  seed regression, test set: n=${a.test.n} MAPE ${pct(a.test.mape)} MAE ${fmtNs(a.test.mae_ns)} bias ${pct(a.test.bias)} R2 ${num(a.test.r2, 4)}`);
    lines.push(...coefLines(a).slice(1).map((l) => l));
  } else lines.push("  seed regression: too few requests");
  const o = fit.alpha.overheads;
  lines.push(
    "fixed overheads the trace shows",
    spreadLine("frontend-to-scheduler delay", o.frontend_delay),
    spreadLine("  of requests reaching an idle engine", o.frontend_delay_idle_engine),
    spreadLine("queue delay at an idle engine", o.queue_delay_idle_engine),
    ...frontendLines(fit.alpha.frontend, o.frontend_delay_fixed_ns),
    `note: ${fit.alpha.note}`,
  );
  return lines.join("\n") + "\n";
}

/** The feature sets on each step's GPU time (trace schema 1.6): what the batch alone predicts of the GPU's work. */
function gpuTimeLines(fit: FitResult): string[] {
  const g = fit.beta.gpu_time;
  if (!g) return [];
  const shares = `the GPU worked ${pct(g.gpu_over_step_time)} of the update-to-update step time, idle between steps ${pct(g.gap_over_step_time)}`;
  // fitted to the GPU's time, beta's own tables above are these models
  if (!g.models.length) return ["", `GPU time (trace update.gpu, ${g.steps} of ${g.kept} kept steps): ${shares}`];
  const row = (m: GpuTimeModel) => {
    const t = (name: string) => m.cv_by_batch_type.find((x) => x.group === name);
    const cells = [m.cv?.mape ?? null, m.cv?.bias ?? null, t("prefill_only")?.mape ?? null, t("mixed")?.mape ?? null, t("decode_only")?.mape ?? null, t("prefill_only")?.bias ?? null, t("mixed")?.bias ?? null, t("decode_only")?.bias ?? null];
    return `  ${pad(m.id, 22)}${cells.map((c) => lpad(pct(c), 9)).join("")}`;
  };
  return [
    "",
    `beta on the GPU's own time (trace update.gpu: CUDA events per step; ${g.steps} of ${g.kept} kept steps): ${shares}`,
    `  ${pad("", 22)}${lpad("MAPE", 9)}${lpad("bias", 9)}${lpad("prefill", 9)}${lpad("mixed", 9)}${lpad("decode", 9)}${lpad("pf.bias", 9)}${lpad("mx.bias", 9)}${lpad("dec.bias", 9)}`,
    ...g.models.map(row),
    `  best: ${g.chosen} (blocked CV as above; these models are not exported: the clock is the update-to-update time, since --clock interval was asked for or a run has no GPU time)`,
  ];
}

function frontendLines(f: FitResult["alpha"]["frontend"], fixedNs: number): string[] {
  const m = f.model;
  if (!m) return [`  frontend delay used by simulate: ${fmtNs(fixedNs)} for every request (too few step boundaries missed a request to fit a visibility delay)`];
  return [
    `  visibility delay used by simulate (median, logistic fit on ${m.observations} step boundaries, ${m.missed} missed a request): ${fmtNs(m.intercept_ns)} + ${fmtNs(m.per_prompt_token_ns * 1000)} per 1000 prompt tokens, scale ${fmtNs(m.scale_ns)}`,
    spreadLine("  frontend delay, recorded", f.recorded),
    spreadLine("  the model on the recorded step boundaries", f.replayed!),
    `  (${f.note})`,
  ];
}

/** How a pooled fit weighed its runs (--weigh), with the groups it found. */
function weighLine(fit: FitResult): string {
  const { weigh, weigh_groups: groups } = fit.beta;
  const n = new Set(groups).size;
  if (n < 2) return `pooled steps weighed alike (--weigh ${weigh}, ${n} group): a run counts in proportion to its steps`;
  if (weigh === "runs") return "pooled runs weighed alike (--weigh runs): each run's steps count as much in total, however many it has";
  return `pooled configurations weighed alike (--weigh configs): ${n} engine configurations among ${groups.length} runs (${groups.join(", ")}), each counts as much in total; within one, every step alike`;
}

/** Each run's index, and the range of its windows where they differ (a host that changed speed within the run). */
function hostIndexList(h: NonNullable<FitResult["beta"]["host_cpu"]>): string {
  return h.indices
    .map((v, i) => {
      const r = windowRange(h.profiles[i] ?? []);
      return r ? `${v.toFixed(2)} (${r[0].toFixed(2)}–${r[1].toFixed(2)})` : v.toFixed(2);
    })
    .join(", ");
}
