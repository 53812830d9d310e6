import type { StepModelFile } from "../../schema/fit.js";
import type { FitResult, ModelFit } from "./index.js";
import { defaultCaptureSizes } from "./gpu.js";
import type { HostCpu } from "./host-cpu.js";
import type { HostPart } from "./host-part.js";
import type { CoefEstimate } from "./regress.js";
import { cpuWaitBlock } from "./cpu-wait.js";

const NS_PER_S = 1e9;

/** fitted terms (ns per unit) as the model file carries them (seconds per unit) */
const inSeconds = (terms: readonly CoefEstimate[]) => terms.map((t) => ({ name: t.term, factors: [...t.factors], coef: t.coef / NS_PER_S }));

/** The coefficients file of the chosen β model (seconds), which the harness loads with --cost fitted:FILE. */
export function stepModelFile(fit: FitResult, steps: number): StepModelFile {
  const m = chosenModel(fit);
  const fe = fit.alpha.frontend.model;
  return {
    format: "vsched-step-model",
    format_version: "1.0",
    unit: "seconds",
    model: m.id,
    clock: fit.beta.clock,
    terms: inSeconds(m.exported_terms),
    // the host loop (host) charges a synchronous engine's CPU time between model runs itself
    per_step_overhead_s: fit.beta.host_part ? 0 : fit.beta.per_step_overhead_ns / NS_PER_S,
    min_step_s: 0,
    frontend_delay_s: fit.alpha.overheads.frontend_delay_fixed_ns / NS_PER_S,
    idle_wakeup_s: (fit.alpha.overheads.queue_delay_idle_engine.p50_ns ?? 0) / NS_PER_S,
    alpha: fit.alpha.regression
      ? { unit: "seconds", terms: inSeconds(fit.alpha.regression.terms) }
      : null,
    trained_on: { sources: fit.sources, steps, vllm_version: fit.vllm_version },
    cudagraph: cudagraphOf(fit),
    ...(fit.beta.host_cpu ? { host_cpu: hostCpuOf(fit.beta.host_cpu) } : {}),
    ...cpuWaitOf(fit, m),
    ...(fit.beta.host_part ? { host: hostPartOf(fit.beta.host_part) } : {}),
    ...(fe ? { frontend_delay_model: { statistic: "median" as const, intercept_s: fe.intercept_ns / NS_PER_S, per_prompt_token_s: fe.per_prompt_token_ns / NS_PER_S, scale_s: fe.scale_ns / NS_PER_S } } : {}),
  };
}

function hostPartOf(h: HostPart): NonNullable<StepModelFile["host"]> {
  return { terms: inSeconds(h.terms), post_update_s: h.post_update_ns / NS_PER_S, post_terms: inSeconds(h.post_terms), ...(h.launch_waits === "apart" ? { sync_share: h.sync_share } : {}) };
}

/** Index 1 is the training runs' typical host; simulate replaces it with the replayed run's own. */
function hostCpuOf(h: HostCpu): NonNullable<StepModelFile["host_cpu"]> {
  return { reference_intercept_ns: h.reference.intercept_ns, reference_per_request_ns: h.reference.per_request_ns, emitter_level: h.emitter_level, training_indices: [...h.indices], index: 1 };
}

/** A model with the wait term: its coefficient (ns of step per ns waited) and the training runs' shares; the harness's steps have no wait, so the run's contention enters as cpu_wait.scale. */
function cpuWaitOf(fit: FitResult, m: ModelFit): { cpu_wait?: NonNullable<StepModelFile["cpu_wait"]> } {
  const term = m.exported_terms.find((t) => t.factors.length === 1 && t.factors[0] === "cpu_wait_ns");
  return term ? { cpu_wait: cpuWaitBlock(term.coef, fit.beta.wait_shares) } : {};
}

/** The training run's sizes; a what-if of another max_num_seqs re-derives them by vLLM's rule when the run used that rule. */
function cudagraphOf(fit: FitResult): NonNullable<StepModelFile["cudagraph"]> {
  const c = fit.beta.capture_sizes;
  const maxSeqs = fit.config_max_num_seqs;
  const followsDefault = c.source === "vllm-default" || (c.source === "header" && maxSeqs !== null && sameSizes(c.sizes, defaultCaptureSizes(maxSeqs)));
  return { capture_sizes: [...c.sizes], source: c.source, rule: followsDefault ? "vllm-default" : "recorded" };
}

const sameSizes = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export function chosenModel(fit: FitResult): ModelFit {
  const m = fit.beta.models.find((x) => x.id === fit.beta.chosen);
  if (!m) throw new Error(`chosen model ${fit.beta.chosen} not among the fitted ones`);
  return m;
}

const yamlNum = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(10)).toString() : ".nan");
const yamlStr = (s: string): string => JSON.stringify(s);

/**
 * BLIS-style coefficients (inference-sim's defaults.yaml layout: a model entry with
 * alpha_coeffs and beta_coeffs in microseconds). BLIS's own blackbox model reads fixed
 * positions; vsched names each coefficient's term alongside so nothing is positional by accident.
 */
export function blisYaml(fit: FitResult, label: string): string {
  const m = chosenModel(fit);
  const us = (ns: number) => yamlNum(ns / 1e3);
  const a = fit.alpha.regression;
  const lines = [
    "# vsched fit: step-time (beta) and queue-delay (alpha) coefficients, BLIS defaults.yaml layout",
    "# units: microseconds per unit of each term; terms listed in the same order as the coefficients",
    "models:",
    `  - id: ${yamlStr(label)}`,
    `    vllm_version: ${yamlStr(fit.vllm_version)}`,
    `    model: ${yamlStr(m.id)}`,
    `    beta_terms: [${m.exported_terms.map((t) => yamlStr(t.term)).join(", ")}]`,
    `    beta_coeffs: [${m.exported_terms.map((t) => us(t.coef)).join(", ")}]`,
    `    alpha_terms: [${(a?.terms ?? []).map((t) => yamlStr(t.term)).join(", ")}]`,
    `    alpha_coeffs: [${(a?.terms ?? []).map((t) => us(t.coef)).join(", ")}]`,
    `    per_step_overhead_us: ${us(fit.beta.per_step_overhead_ns)}`,
    `    frontend_delay_us: ${us(fit.alpha.overheads.frontend_delay_fixed_ns)}`,
    `    test_mape: ${m.test.mape === null ? "null" : yamlNum(m.test.mape)}`,
  ];
  return lines.join("\n") + "\n";
}
