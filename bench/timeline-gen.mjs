#!/usr/bin/env node
// A raw trace (src/schema/raw.ts, schema 1.0, level full) sized for the timeline benchmark:
// --steps scheduler steps and about --requests requests, a vLLM v1 scheduler at ~10 running
// (max_num_seqs 12) under KV pressure, so requests queue (max_num_seqs, memory), long
// prompts arrive in chunked-prefill pieces, and running requests are preempted and resumed.
//
//   node bench/timeline-gen.mjs [--steps 1000000] [--requests 100000] [--out bench/out/timeline-1000000.jsonl] [--seed 1]
//
// Model (vLLM's Scheduler, simplified where it does not change the record mix): running
// requests first, in order, each given min(need, budget) tokens (need: the rest of its
// known tokens, i.e. the prompt plus any output to recompute after a preemption; else 1);
// a request that needs a block when none is free preempts the newest running request
// (freed blocks, computed reset, back to the queue head); a step that preempted admits
// nothing (stop cause preemption); else the queue head is admitted while there are seats,
// budget and blocks. Ids are short (`r<n>`) to keep the trace small. Deterministic per seed.
import path from "node:path";
import { LineFile, options } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = options(args);
const STEPS = Number(opt("steps", 1_000_000));
const REQUESTS = Number(opt("requests", 100_000));
const OUT = opt("out", path.join("bench", "out", `timeline-${STEPS}.jsonl`));
let seed = Number(opt("seed", 1)) >>> 0;
const MAX_SEQS = 12;
const BUDGET = 2048;
const BLOCK = 16;
const NUM_GPU_BLOCKS = 640;
const KV_TOTAL = NUM_GPU_BLOCKS - 1;

const rnd = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randInt = (a, b) => a + Math.floor(rnd() * (b - a + 1));

const file = new LineFile(OUT);
const emit = (line) => file.emit(line);

await emit(
  JSON.stringify({
    type: "header", schema_version: "1.0", emitter_version: "0.1.0", vllm_version: "0.33.0", pid: 4242, dp_rank: 0, level: "full",
    clock: { epoch_ns: "1760000000000000000", monotonic_ns: "81234567890123" },
    config: {
      scheduler_class: "vllm.v1.core.sched.scheduler.Scheduler", policy: "fcfs", max_num_seqs: MAX_SEQS, max_num_batched_tokens: BUDGET,
      max_model_len: 8192, max_loras: null, num_gpu_blocks: NUM_GPU_BLOCKS, block_size: BLOCK, bytes_per_block: 2097152,
      enable_chunked_prefill: true, enable_prefix_caching: false, async_scheduling: false, long_prefill_token_threshold: 0,
      num_spec_tokens: 0, log_stats: true,
    },
    capabilities: {}, not_captured: [],
  }),
);

let t = 1_000_000;
let nextId = 0;
let used = 0;
const waiting = [];
const running = [];
let preemptions = 0;
const blocksFor = (tokens) => Math.ceil(tokens / BLOCK);
const pArrive = REQUESTS / STEPS;

async function arrive() {
  const long = rnd() < 0.12;
  const r = { id: `r${nextId++}`, prompt: long ? randInt(1500, 3000) : randInt(32, 600), max: randInt(20, 180), out: 0, computed: 0, blocks: 0, admitted: false };
  t += randInt(1000, 20000);
  await emit(`{"type":"arrival","t":${t},"req":"${r.id}","vllm_arrival_epoch_ns":null,"prompt_tokens":${r.prompt},"max_tokens":${r.max},"priority":0,"lora":null,"status":"WAITING"}`);
  waiting.push(r);
}

for (let step = 0; step < STEPS; step++) {
  if (rnd() < pArrive) await arrive();
  const tStart = (t += randInt(50_000, 150_000));
  let budget = BUDGET;
  const sched = [], blocks = [], preempted = [], admitted = [], resumed = [];
  const grow = (r, n) => {
    const nb = blocksFor(r.computed + n);
    if (nb === r.blocks) return true;
    return used + nb - r.blocks <= KV_TOTAL;
  };
  const give = (r, n) => {
    sched.push(`["${r.id}",${n},${r.computed}]`);
    r.computed += n;
    const nb = blocksFor(r.computed);
    if (nb !== r.blocks) {
      used += nb - r.blocks;
      r.blocks = nb;
      blocks.push(`["${r.id}",${nb}]`);
    }
    budget -= n;
  };
  for (let i = 0; i < running.length && budget > 0; i++) {
    const r = running[i];
    const known = r.prompt + r.out;
    const n = Math.min(r.computed < known ? known - r.computed : 1, budget);
    while (!grow(r, n) && running.length - 1 > i) {
      const v = running.pop();
      used -= v.blocks;
      v.blocks = 0;
      v.computed = 0;
      preempted.push(`"${v.id}"`);
      blocks.push(`["${v.id}",0]`);
      waiting.unshift(v);
      preemptions++;
    }
    if (grow(r, n)) give(r, n);
  }
  let stop;
  if (preempted.length) stop = `{"cause":"preemption","req":null}`;
  else {
    for (;;) {
      const h = waiting[0];
      if (!h) { stop = `{"cause":"empty","req":null}`; break; }
      if (running.length >= MAX_SEQS) { stop = `{"cause":"max_num_seqs","req":"${h.id}"}`; break; }
      if (budget === 0) { stop = `{"cause":"token_budget","req":"${h.id}"}`; break; }
      const n = Math.min(h.prompt + h.out, budget);
      if (!grow(h, n)) { stop = `{"cause":"kv_full","req":"${h.id}"}`; break; }
      waiting.shift();
      (h.admitted ? resumed : admitted).push(`["${h.id}",0]`);
      h.admitted = true;
      running.push(h);
      give(h, n);
    }
  }
  const tEnd = (t += randInt(150_000, 400_000));
  const schedT = admitted.length || resumed.length || preempted.length ? tStart + randInt(1000, 5000) : null;
  await emit(
    `{"type":"step","step":${step},"t_start":${tStart},"t_end":${tEnd},"sched_t":${schedT},"sched":[${sched.join(",")}],"new":[${admitted.join(",")}],"resumed":[${resumed.join(",")}],"preempted":[${preempted.join(",")}],"kv_fail":[],"free_blocks":${KV_TOTAL - used},"running":${running.length},"waiting":${waiting.length},"budget_left":${budget},"stop":${stop},"skipped":[],"blocks":[${blocks.join(",")}]}`,
  );
  const uStart = (t += randInt(18_000_000, 30_000_000));
  const tokens = [], finished = [], freed = [], still = [];
  for (const r of running) {
    if (r.computed >= r.prompt + r.out) {
      r.out++;
      tokens.push(`["${r.id}",1]`);
      if (r.out >= r.max) {
        finished.push(`["${r.id}","length",${r.out}]`);
        used -= r.blocks;
        freed.push(`["${r.id}",0]`);
        continue;
      }
    }
    still.push(r);
  }
  running.length = 0;
  running.push(...still);
  const uEnd = (t += randInt(300_000, 900_000));
  await emit(
    `{"type":"update","step":${step},"t_start":${uStart},"t_end":${uEnd},"out_t":${uStart + randInt(1000, 9000)},"tokens":[${tokens.join(",")}],"finished":[${finished.join(",")}],"free_blocks":${KV_TOTAL - used},"running":${running.length},"waiting":${waiting.length},"blocks":[${freed.join(",")}]}`,
  );
}
await emit(`{"type":"end","t":${(t += 1000)},"steps":${STEPS},"records":${file.records + 1},"dropped":0}`);
await file.end();
const { bytes, records } = file;
console.log(JSON.stringify({ file: OUT, bytes, steps: STEPS, records, requests: nextId, preemptions, running: running.length, waiting: waiting.length }));
