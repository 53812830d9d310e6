/**
 * The step features a β model may use and the documented feature sets (docs/fit.md).
 * The harness's fitted cost model (emitter/src/vsched_emitter/harness/cost_model.py,
 * FITTED_FEATURES) computes the same features from vLLM's scheduler output; a test keeps
 * the two lists equal.
 */
export const STEP_FEATURES = [
  "batch_size",
  "prefill_reqs",
  "decode_reqs",
  "prefill_tokens",
  "decode_tokens",
  "scheduled_tokens",
  "running_depth",
  "kv_ratio",
  "context_tokens",
  "decode_context_tokens",
  "attention_work",
  "padded_tokens",
  "has_prefill",
  "prefill_attention_work",
  "next_has_prefill",
  "next_padded_tokens",
  "next_decode_context_tokens",
  "next_prefill_attention_work",
  "no_cudagraph",
  "next_no_cudagraph",
  "cpu_index",
  "cpu_wait_ns",
] as const;

/** A regression term: the product of its factors (none: the intercept). */
export interface Term {
  name: string;
  factors: readonly string[];
}

const t = (...factors: string[]): Term => ({ name: factors.length ? factors.join("*") : "intercept", factors });

/**
 * β feature sets, from the seed's minimal one to context and interaction terms.
 * - seed: seed 004 §5's beta row (prefill/decode requests and tokens, KV ratio).
 * - tokens: step = a + b·prefill_tokens + c·decode_tokens + d·batch_size (the harness's linear model).
 * - context: tokens plus the KV the batch attends over (decode cost grows with context).
 * - interactions: context plus attention work (tokens × context), prefill_tokens² and decode_tokens × kv_ratio
 *   (seed §7's "batch size squared" and "decode × KV").
 * - gpu: what a GPU step costs: the batch padded to its CUDA graph, a prefill's own overhead (no
 *   full graph), decode context (KV reads) and prefill attention pairs.
 * - gpu_reqs: gpu plus the prefill requests (each prefill sequence costs the attention kernels
 *   its own work; on the H100 runs' GPU time this halves the mixed steps' cross-configuration
 *   bias). Offered under the GPU clock only: on the interval that cost is lost in the attribution.
 * - gpu_next: gpu plus the same features of the step launched while this one's output was awaited
 *   (async scheduling: a prefill launch that syncs with the device delays the collection).
 * - gpu_host: gpu_next plus the steps launched without a CUDA graph (this one, the next one) and
 *   the run's host CPU index, alone and times those launches: on the H100 traces the launch of a
 *   graphless step costs 6–20 ms of CPU depending on the run's host (docs/fit.md, "Host CPU").
 * - gpu_wait: gpu_host plus the time the engine thread waited for a CPU in the step (trace schema
 *   1.5): other processes on the cores delay every step whose CPU part is on the critical path,
 *   which neither schedule() times nor the batch show (docs/fit.md, "CPU contention").
 */
// each GPU set extends the one before it, terms in the same order
const GPU = [t(), t("has_prefill"), t("padded_tokens"), t("decode_context_tokens"), t("prefill_attention_work")];
const GPU_NEXT = [...GPU, t("next_has_prefill"), t("next_padded_tokens"), t("next_decode_context_tokens"), t("next_prefill_attention_work")];

const GPU_HOST = [...GPU_NEXT, t("no_cudagraph"), t("next_no_cudagraph"), t("cpu_index"), t("no_cudagraph", "cpu_index"), t("next_no_cudagraph", "cpu_index")];

export const BETA_FEATURE_SETS = {
  seed: [t(), t("prefill_reqs"), t("decode_reqs"), t("prefill_tokens"), t("decode_tokens"), t("kv_ratio")],
  tokens: [t(), t("prefill_tokens"), t("decode_tokens"), t("batch_size")],
  context: [t(), t("prefill_tokens"), t("decode_tokens"), t("batch_size"), t("context_tokens"), t("decode_context_tokens")],
  interactions: [
    t(),
    t("prefill_tokens"),
    t("decode_tokens"),
    t("batch_size"),
    t("context_tokens"),
    t("decode_context_tokens"),
    t("attention_work"),
    t("prefill_tokens", "prefill_tokens"),
    t("decode_tokens", "kv_ratio"),
  ],
  gpu: GPU,
  gpu_reqs: [...GPU, t("prefill_reqs")],
  gpu_next: GPU_NEXT,
  gpu_host: GPU_HOST,
  gpu_wait: [...GPU_HOST, t("cpu_wait_ns")],
} as const satisfies Record<string, readonly Term[]>;
export type BetaFeatureSet = keyof typeof BETA_FEATURE_SETS;
export const BETA_FEATURE_SET_NAMES = Object.keys(BETA_FEATURE_SETS) as BetaFeatureSet[];
/** Sets whose extra terms describe how the update-to-update interval attributes time (the next step's launch, the host, CPU waits): not fitted to the GPU's own time. */
export const INTERVAL_ONLY_SETS: readonly BetaFeatureSet[] = ["gpu_next", "gpu_host", "gpu_wait"];
/** Sets fitted only to the GPU's own time (see gpu_reqs). */
export const GPU_ONLY_SETS: readonly BetaFeatureSet[] = ["gpu_reqs"];
/** the sets that describe a GPU step (padded batch, prefill attention): the GPU clock exports one of them (index.ts) */
export const GPU_PHYSICS_SETS: readonly BetaFeatureSet[] = ["gpu", "gpu_reqs"];

/** α (queue delay) features of seed 004 §5 (prompt_tokens, waiting_depth, running_depth, kv_ratio), and its suggested interactions (§7). */
export const ALPHA_TERMS: readonly Term[] = [
  t(),
  t("prompt_tokens"),
  t("waiting_depth"),
  t("running_depth"),
  t("kv_ratio"),
  t("waiting_depth", "kv_ratio"),
  t("prompt_tokens", "running_depth"),
];

/** Value of a term given a feature lookup. */
export function termValue(term: Term, get: (f: string) => number): number {
  let v = 1;
  for (const f of term.factors) v *= get(f);
  return v;
}
