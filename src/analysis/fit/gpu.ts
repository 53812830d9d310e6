import type { HeaderRecord } from "../../schema/raw.js";

/**
 * What a GPU step's time depends on beyond token counts (docs/fit.md, "GPU features").
 *
 * vLLM runs a batch of up to the largest CUDA-graph capture size padded up to the next
 * captured size, so step time is a step function of the batch, not a line through it. The
 * sizes come from the trace header (`engine.cudagraph_capture_sizes`, emitter ≥ 0.2); a
 * trace without them gets vLLM's default rule for its max_num_seqs, and says so.
 */
export interface CaptureSizes {
  sizes: number[];
  /** header: recorded by the emitter; vllm-default: derived from max_num_seqs; none: eager, no padding */
  source: "header" | "vllm-default" | "none";
}

/** vLLM's default (0.11 and later): max = min(2 × max_num_seqs, 512); 1, 2, 4, then every 8 to 255, every 16 from 256. */
export function defaultCaptureSizes(maxNumSeqs: number): number[] {
  const max = Math.min(2 * maxNumSeqs, 512);
  const sizes = [1, 2, 4].filter((s) => s <= max);
  for (let s = 8; s < Math.min(max + 1, 256); s += 8) sizes.push(s);
  for (let s = 256; s <= max; s += 16) sizes.push(s);
  return sizes;
}

type Header = Omit<HeaderRecord, "type">;

export function captureSizesOf(header: Header | undefined): CaptureSizes {
  const engine = header?.engine;
  if (engine) {
    const graphs = !engine.enforce_eager && engine.cudagraph_mode !== null && engine.cudagraph_mode !== "NONE";
    return graphs && engine.cudagraph_capture_sizes.length
      ? { sizes: [...engine.cudagraph_capture_sizes].sort((a, b) => a - b), source: "header" }
      : { sizes: [], source: "none" };
  }
  return { sizes: defaultCaptureSizes(header?.config.max_num_seqs ?? 0), source: "vllm-default" };
}

/** tokens padded to the next capture size when at most the largest, else unchanged (sizes ascending) */
export function paddedTokens(tokens: number, sizes: readonly number[]): number {
  if (!sizes.length || tokens > sizes[sizes.length - 1] || tokens <= 0) return tokens;
  let lo = 0, hi = sizes.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sizes[mid] >= tokens) hi = mid;
    else lo = mid + 1;
  }
  return sizes[lo];
}

/**
 * 1 when vLLM runs the batch without a CUDA graph: more tokens than the largest capture size
 * (or no graphs at all). Such a step is launched kernel by kernel from Python, which on the
 * H100 traces takes ~5–20 ms of CPU, longer than the GPU work of the step before it: async
 * scheduling cannot hide it, and it scales with the host CPU, not the GPU.
 */
export function runsWithoutGraph(tokens: number, sizes: readonly number[]): number {
  return tokens > 0 && (!sizes.length || tokens > sizes[sizes.length - 1]) ? 1 : 0;
}

/** attention score pairs of a prefill chunk of n tokens ending at `computedAfter` tokens of context */
export function chunkAttentionPairs(n: number, computedAfter: number): number {
  return n * (computedAfter - n) + (n * (n + 1)) / 2;
}
