#!/usr/bin/env node
// Writes a synthetic raw trace that follows src/schema/raw.ts (schema 1.0, level full):
// a vLLM v1 scheduler in steady state at max_num_seqs=256 running and ~1,000 waiting.
//
//   node bench/gen-trace.mjs [--mb 1024] [--out bench/out/trace-1024mb.jsonl] [--seed 1]
//   node bench/gen-trace.mjs --steps 1000000 --running 4 --waiting 4   (a long, lean run: 1 M steps)
//
// Model (what the real Scheduler does, simplified only where it does not change the
// record mix): running requests are scheduled first, each given min(need, budget)
// tokens (decode: 1, prefill: the rest of its prompt, so long prompts arrive in chunks);
// then the waiting head is admitted while len(running) < max_num_seqs and budget is
// left (stop cause max_num_seqs or token_budget). update_from_output gives a token to
// every request whose prompt is done and finishes those at max_tokens ('length') or
// at an EOS drawn at random ('stop'). Arrivals keep the waiting queue near 1,000;
// `order` is never written (the queue is plain FCFS); `blocks` lists a request when
// its KV block count changes; a rare abort of a waiting request writes a `finish`.
// IDs look like vLLM's OpenAI server ids (cmpl-<32 hex>-0). Deterministic per seed.
//
// --format interned writes the same run as schema 1.3 (src/schema/raw.ts, "Interned form"):
// handles bound at arrival and freed by the finishing record (reused first in, first out),
// `sched` and `tokens` as deltas against the previous record's list, in full every 100.
// The random draws are the same in both formats, so both files hold the same logical
// trace (vsched convert gives identical tables); the plain form is byte-identical to
// what this script wrote before the option existed.
import path from "node:path";
import { LineFile, options } from "./lib.mjs";
import { ListChain } from "./interned-lists.mjs";

const args = process.argv.slice(2);
const opt = options(args);
const MB = Number(opt("mb", 1024));
const FORMAT = opt("format", "plain");
if (FORMAT !== "plain" && FORMAT !== "interned") throw new Error(`--format plain|interned, got ${FORMAT}`);
const INTERNED = FORMAT === "interned";
const OUT = opt("out", path.join("bench", "out", `trace-${MB}mb${INTERNED ? "-interned" : ""}.jsonl`));
const SEED = Number(opt("seed", 1));
const TARGET_BYTES = MB * 1e6;

const MAX_NUM_SEQS = Number(opt("running", 256));
const WAITING_TARGET = Number(opt("waiting", 1000));
const MAX_STEPS = Number(opt("steps", Infinity));
const BUDGET = 8192;
const BLOCK = 16;
const NUM_GPU_BLOCKS = 120_000;
const EPOCH0 = 1_760_000_000_000_000_000n;

// mulberry32
let s = SEED >>> 0;
const rnd = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randInt = (a, b) => a + Math.floor(rnd() * (b - a + 1));
const hex32 = () => {
  let h = "";
  for (let i = 0; i < 4; i++) h += ((rnd() * 0x100000000) >>> 0).toString(16).padStart(8, "0");
  return h;
};

const file = new LineFile(OUT);
const emit = (line) => file.emit(line);

const header = {
  type: "header",
  schema_version: INTERNED ? "1.3" : "1.0",
  emitter_version: "0.1.0",
  vllm_version: "0.11.0",
  pid: 4242,
  dp_rank: 0,
  level: "full",
  clock: { epoch_ns: EPOCH0.toString(), monotonic_ns: "81234567890123" },
  config: {
    scheduler_class: "vllm.v1.core.sched.scheduler.Scheduler",
    policy: "fcfs",
    max_num_seqs: MAX_NUM_SEQS,
    max_num_batched_tokens: BUDGET,
    max_model_len: 16384,
    max_loras: null,
    num_gpu_blocks: NUM_GPU_BLOCKS,
    block_size: BLOCK,
    bytes_per_block: 2097152,
    enable_chunked_prefill: true,
    enable_prefix_caching: true,
    async_scheduling: false,
    long_prefill_token_threshold: 0,
    num_spec_tokens: 0,
    log_stats: true,
  },
  capabilities: { waiting_order: true, skip_causes: true, stop_cause: true, block_counts: true, vllm_timestamps: true },
  not_captured: [],
};
await emit(JSON.stringify(header));

// handles (interned form): bound at arrival, freed by the finishing record, reused FIFO
const freeHandles = [];
let freeHead = 0;
let nextHandle = 0;
const schedChain = new ListChain();
const tokensChain = new ListChain();
const bind = () => (freeHead < freeHandles.length ? freeHandles[freeHead++] : nextHandle++);
const release = (r) => {
  freeHandles.push(r.h);
  if (freeHead > 4096) freeHandles.splice(0, freeHead), (freeHead = 0);
  schedChain.forget(r.h);
  tokensChain.forget(r.h);
};
/** how a record names a request */
const ref = INTERNED ? (r) => String(r.h) : (r) => `"${r.id}"`;
const pairs = (list) => list.map((e) => `[${ref(e[0])},${e.slice(1).join(",")}]`).join(",");

let t = 1_000_000; // ns since the anchor
let nextReq = 0;
/** @type {{id:string,prompt:number,max:number,eos:number,computed:number,out:number,blocks:number,cached:number}[]} */
const waiting = [];
const running = [];
let usedBlocks = 0;
const freeBlocks = () => NUM_GPU_BLOCKS - 1 - usedBlocks;

async function arrive() {
  const long = rnd() < 0.08;
  const prompt = long ? randInt(6000, 14000) : randInt(64, 1800);
  const max = randInt(16, 220);
  const r = { id: `cmpl-${hex32()}-0`, prompt, max, eos: rnd() < 0.6 ? randInt(4, max) : max + 1, computed: 0, out: 0, blocks: 0, cached: rnd() < 0.3 ? Math.min(prompt - 1, randInt(1, 32) * BLOCK) : 0 };
  nextReq++;
  t += randInt(1000, 20000);
  if (INTERNED) r.h = bind();
  await emit(
    `{"type":"arrival","t":${t},"req":"${r.id}",${INTERNED ? `"h":${r.h},` : ""}"vllm_arrival_epoch_ns":"${EPOCH0 + BigInt(t - randInt(200000, 900000))}","prompt_tokens":${prompt},"max_tokens":${max},"priority":0,"lora":null,"status":"WAITING"}`,
  );
  waiting.push(r);
}

/** a step's `sched`: [[req, n, computed]] in full, or (interned) its delta; computed advances by n */
function schedField(list) {
  if (!INTERNED) return `[${list.map(([r, n, c]) => `["${r.id}",${n},${c}]`).join(",")}]`;
  return schedChain.field(
    list.map((e) => e[0].h),
    list.map((e) => [e[1], e[2]]),
    list.map((e) => [e[1], e[2] + e[1]]),
  );
}

/** an update's `tokens`: [[req, n]] in full, or (interned) its delta; the same n predicted */
function tokensField(list) {
  if (!INTERNED) return `[${list.map(([r, n]) => `["${r.id}",${n}]`).join(",")}]`;
  const vals = list.map((e) => [e[1]]);
  return tokensChain.field(
    list.map((e) => e[0].h),
    vals,
    vals,
  );
}

for (let i = 0; i < WAITING_TARGET + MAX_NUM_SEQS; i++) await arrive();

let step = 0;
let steps = 0;
let stepBytesStart = 0;
while (opt("steps", null) !== null ? steps < MAX_STEPS : file.size < TARGET_BYTES) {
  if (step === 200) stepBytesStart = file.size;
  const tStart = (t += randInt(50_000, 150_000));
  let budget = BUDGET;
  const sched = [];
  const blocks = [];
  const give = (r, n) => {
    sched.push([r, n, r.computed]);
    r.computed += n;
    const nb = Math.ceil(r.computed / BLOCK);
    if (nb !== r.blocks) {
      usedBlocks += nb - r.blocks;
      r.blocks = nb;
      blocks.push([r, nb]);
    }
    budget -= n;
  };
  // running first, in running order
  for (const r of running) {
    if (budget === 0) break;
    const need = r.computed < r.prompt ? r.prompt - r.computed : 1;
    give(r, Math.min(need, budget));
  }
  // then the waiting head
  const admitted = [];
  let stop;
  while (true) {
    const head = waiting[0];
    if (!head) {
      stop = `{"cause":"empty","req":null}`;
      break;
    }
    if (running.length >= MAX_NUM_SEQS) {
      stop = `{"cause":"max_num_seqs","req":${ref(head)}}`;
      break;
    }
    if (budget === 0) {
      stop = `{"cause":"token_budget","req":${ref(head)}}`;
      break;
    }
    waiting.shift();
    head.computed = head.cached;
    head.blocks = Math.ceil(head.cached / BLOCK);
    usedBlocks += head.blocks;
    admitted.push([head, head.cached]);
    running.push(head);
    give(head, Math.min(head.prompt - head.computed, budget));
  }
  const tEnd = (t += randInt(150_000, 400_000));
  await emit(
    `{"type":"step","step":${step},"t_start":${tStart},"t_end":${tEnd},"sched_t":${tStart + randInt(1000, 5000)},"sched":${schedField(sched)},"new":[${pairs(admitted)}],"resumed":[],"preempted":[],"kv_fail":[],"free_blocks":${freeBlocks()},"running":${running.length},"waiting":${waiting.length},"budget_left":${budget},"stop":${stop},"skipped":[],"blocks":[${pairs(blocks)}]}`,
  );

  // model runs; then update_from_output
  const uStart = (t += randInt(18_000_000, 30_000_000));
  const tokens = [];
  const finished = [];
  const freed = [];
  const stillRunning = [];
  for (const r of running) {
    if (r.computed >= r.prompt) {
      r.out++;
      tokens.push([r, 1]);
      if (r.out >= r.max || r.out >= r.eos) {
        finished.push(`[${ref(r)},"${r.out >= r.eos ? "stop" : "length"}",${r.out}]`);
        usedBlocks -= r.blocks;
        freed.push(r);
        continue;
      }
      // the sampled token is appended: the next decode writes its KV at position computed
    }
    stillRunning.push(r);
  }
  running.length = 0;
  running.push(...stillRunning);
  const uEnd = (t += randInt(300_000, 900_000));
  await emit(
    `{"type":"update","step":${step},"t_start":${uStart},"t_end":${uEnd},"out_t":${uStart + randInt(1000, 9000)},"tokens":${tokensField(tokens)},"finished":[${finished.join(",")}],"free_blocks":${freeBlocks()},"running":${running.length},"waiting":${waiting.length},"blocks":[${freed.map((r) => `[${ref(r)},0]`).join(",")}]}`,
  );
  if (INTERNED) for (const r of freed) release(r);

  // a rare abort of a waiting request (client went away)
  if (rnd() < 0.002 && waiting.length > 10) {
    const [r] = waiting.splice(randInt(1, waiting.length - 1), 1);
    t += randInt(1000, 9000);
    await emit(`{"type":"finish","t":${t},"req":${ref(r)},"reason":"abort","output_tokens":0,"from":"waiting"}`);
    if (INTERNED) release(r);
  }
  // arrivals keep the waiting queue near its target
  const want = WAITING_TARGET - waiting.length + (rnd() < 0.5 ? 0 : randInt(0, 2));
  for (let i = 0; i < want; i++) await arrive();
  step++;
  steps++;
}
await emit(`{"type":"end","t":${(t += 1000)},"steps":${steps},"records":${file.records + 1},"dropped":0}`);
await file.end();
const { bytes, records } = file;
const perStep = steps > 200 ? (bytes - stepBytesStart) / (steps - 200) : bytes / Math.max(1, steps);
console.log(
  JSON.stringify({ file: OUT, bytes, steps, records, requests: nextReq, bytes_per_step: Math.round(perStep), running: running.length, waiting: waiting.length }),
);
