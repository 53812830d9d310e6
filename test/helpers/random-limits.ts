import type { LimitsConfig } from "../../src/engine/binding-loop.js";

/**
 * A random scheduler configuration for the binding-limit differential tests. The draws are made
 * in a fixed order (the seeded tests replay the same streams): max_num_seqs in 2..1+seqsSpan,
 * then chunked prefill, the long-prefill threshold, LoRA slots (only with `lora`), full-ISL
 * reservation, and skipping oversized prompts (only with `skipOversized`).
 */
export function randomLimits(int: (n: number) => number, seqsSpan: number, opts: { lora?: boolean; skipOversized?: boolean } = {}): LimitsConfig {
  return {
    maxNumSeqs: 2 + int(seqsSpan),
    maxNumBatchedTokens: 256,
    blockSize: 16,
    maxModelLen: 512,
    chunkedPrefill: int(4) !== 0,
    longPrefillThreshold: int(3) === 0 ? 32 : 0,
    maxLoras: opts.lora ? (int(2) === 0 ? 1 + int(2) : null) : null,
    reserveFullIsl: int(2) === 0,
    skipOversizedPrompt: opts.skipOversized ? int(3) === 0 : false,
  };
}
