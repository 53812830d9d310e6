import { describe, expect, it } from "vitest";
import { bindingSets, bucketOf, formatSets, parseSets, type LimitsConfig, type LoopRequest, type StepInput } from "../src/engine/binding-limits.js";

// Hand-built steps whose answer follows from vLLM's waiting loop by arithmetic, not from the code:
// block size 16, so a request of T tokens needs ceil(T/16) blocks.
const cfg: LimitsConfig = {
  maxNumSeqs: 4,
  maxNumBatchedTokens: 256,
  blockSize: 16,
  maxModelLen: 8192,
  chunkedPrefill: true,
  longPrefillThreshold: 0,
  maxLoras: null,
  reserveFullIsl: true,
  skipOversizedPrompt: false,
};
const req = (id: string, tokens: number, lora: number | null = null): LoopRequest => ({ id, tokens, computed: 0, lora, blockedOther: false });
const step = (over: Partial<StepInput>): StepInput => ({
  admitted: [],
  waiting: [],
  victims: [],
  running: 1,
  runningLoras: new Set(),
  budgetLeft: 200,
  freeBlocks: 100,
  eligible: 5,
  ...over,
});
const labels = (c: LimitsConfig, st: StepInput) => bindingSets(c, st).map((s) => (s === null ? "unresolved" : formatSets(s)));

describe("binding limits: one limit holds", () => {
  it("max_num_seqs: four running, a seat is all it lacks", () => {
    expect(labels(cfg, step({ running: 4, waiting: [req("a", 50)] }))).toEqual(["max_num_seqs"]);
  });
  it("token_budget: the running requests used the whole budget", () => {
    expect(labels(cfg, step({ budgetLeft: 0, waiting: [req("a", 100), req("b", 10)] }))).toEqual(["token_budget", "token_budget"]);
  });
  it("kv_blocks: 7 blocks needed, 2 free; the small one behind fits once the head is gone", () => {
    // b needs 1 block: removing a (head_only) or more KV (a and b both fit) admits it
    expect(labels(cfg, step({ freeBlocks: 2, waiting: [req("a", 100), req("b", 16)] }))).toEqual(["kv_blocks", "kv_blocks|head_only"]);
  });
  it("the issue's example: head needs 10 blocks with 6 free, the next needs 128: only KV admits either", () => {
    const c = { ...cfg, maxNumBatchedTokens: 4096 };
    expect(labels(c, step({ freeBlocks: 6, budgetLeft: 4096, waiting: [req("h", 160), req("n", 2045)] }))).toEqual(["kv_blocks", "kv_blocks"]);
  });
  it("max_loras: adapter 1 holds the only slot", () => {
    const c = { ...cfg, maxLoras: 1 };
    expect(labels(c, step({ runningLoras: new Set([1]), waiting: [req("a", 20, 2)] }))).toEqual(["max_loras"]);
  });
});

describe("binding limits: joint sets", () => {
  it("token_budget+kv_blocks: more budget goes first to the admitted request ahead, whose prompt then does not fit", () => {
    // no full-prompt check: a got 256 of its 1000 tokens (16 blocks), 10 blocks were left.
    // Budget alone: a takes all 1000 (63 blocks > 26 free), the loop stops before b.
    const c = { ...cfg, reserveFullIsl: false };
    const st = step({ budgetLeft: 0, freeBlocks: 10, running: 2, admitted: [{ req: req("a", 1000), tokens: 256, blocks: 16 }], waiting: [req("b", 100)] });
    expect(labels(c, st)).toEqual(["token_budget+kv_blocks"]);
  });
  it("a step that preempted skips the waiting loop: KV first, and budget too when the victim takes the rest", () => {
    const st = step({ budgetLeft: 1, freeBlocks: 0, victims: [{ req: req("v", 60), need: 1 }], waiting: [req("v", 60), req("w", 20)] });
    expect(labels(cfg, st)).toEqual(["kv_blocks", "token_budget+kv_blocks"]);
  });
  it("chunked prefill off and the prompt larger than the budget: the loop stops at it (vLLM 0.33) or skips it (0.11)", () => {
    const off = { ...cfg, chunkedPrefill: false };
    const st = step({ budgetLeft: 50, waiting: [req("big", 120), req("small", 30)] });
    expect(labels(off, st)).toEqual(["token_budget", "token_budget|head_only"]);
    expect(labels({ ...off, skipOversizedPrompt: true }, st)).toEqual(["token_budget", "unresolved"]);
  });
});

describe("binding limits: text", () => {
  it("formats sets canonically and parses them back", () => {
    expect(formatSets([["kv_blocks", "token_budget"], ["head_only"]])).toBe("head_only|token_budget+kv_blocks");
    expect(formatSets([])).toBe("none");
    expect(parseSets("head_only|token_budget+kv_blocks")).toEqual([["head_only"], ["token_budget", "kv_blocks"]]);
    expect(parseSets("none")).toEqual([]);
  });
  it("buckets: one limit, joint, alternatives, none", () => {
    expect(bucketOf([["kv_blocks"]])).toBe("kv_blocks");
    expect(bucketOf([["token_budget", "kv_blocks"]])).toBe("joint");
    expect(bucketOf([["kv_blocks"], ["head_only"]])).toBe("alternatives");
    expect(bucketOf([])).toBe("none");
  });
});
