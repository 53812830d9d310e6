/**
 * Named bad inputs (issue 19 §3): each class an independent malformed-input corpus found
 * getting through, built from real traces recorded from vLLM's scheduler. Each case says
 * what must happen: `refuse` (one stderr line with the code, exit 2, no output), or
 * `convert` (exit 0 or 1 as given, the tables then validate with no error finding).
 * test/malformed-named.test.ts runs them through the built CLI.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { FIXTURES } from "../helpers/fixtures.js";

type Rec = Record<string, unknown> & { type: string };
export interface NamedCase {
  name: string;
  /** file name (in the input directory) → contents */
  files: Record<string, string | Buffer>;
  args?: string[];
  expect: { refuse: string } | { convert: 0 | 1; codes?: string[]; stderr?: RegExp };
}

const lines = (file: string) => readFileSync(path.join(FIXTURES, file), "utf8").trimEnd().split("\n");
// interned (schema 1.3), 60 requests; and a plain 1.0 trace of a real vllm serve with 27 preemptions
const SMALL = lines("no-chunk-long-prompt/vsched-1-dp0.jsonl");
const SERVE = lines("e2e-vllm-cpu/trace/vsched-31852-dp0.jsonl");
const txt = (ls: string[]) => `${ls.join("\n")}\n`;
const recs = (ls: string[]) => ls.map((l) => JSON.parse(l) as Rec);
const text = (rs: Rec[]) => txt(rs.map((r) => JSON.stringify(r)));
const withHeader = (ls: string[], f: (h: Rec) => void) => {
  const [h, ...rest] = recs(ls);
  f(h);
  return text([h, ...rest]);
};
const firstIndex = (rs: Rec[], f: (r: Rec) => boolean, from = 0) => {
  const i = rs.findIndex((r, k) => k >= from && f(r));
  if (i < 0) throw new Error("the base trace lacks the record this case edits");
  return i;
};

/** A request still waiting (arrived, never admitted) named in a step's `preempted`. */
function preemptWaiting(): string {
  const rs = recs(SERVE);
  const arrived = new Set<string>();
  const admitted = new Set<string>();
  for (const r of rs) {
    if (r.type === "arrival") arrived.add(r.req as string);
    if (r.type !== "step") continue;
    for (const [id] of r.new as [string][]) admitted.add(id);
    const waiting = [...arrived].find((id) => !admitted.has(id));
    if (waiting) {
      r.preempted = [...(r.preempted as string[]), waiting];
      return text(rs);
    }
  }
  throw new Error("no step with a waiting request");
}

/** A running request, never preempted, named in a step's `resumed`. */
function resumeNeverPreempted(): string {
  const rs = recs(SERVE);
  const ever = new Set<string>();
  for (const r of rs) {
    if (r.type !== "step") continue;
    for (const id of r.preempted as string[]) ever.add(id);
    const victim = (r.sched as [string][]).map((x) => x[0]).find((id) => !ever.has(id) && !(r.resumed as [string][]).some((x) => x[0] === id));
    if (victim && (r.resumed as unknown[]).length > 0) {
      r.resumed = [...(r.resumed as unknown[]), [victim, 0]];
      return text(rs);
    }
  }
  throw new Error("no step to edit");
}

function edit(ls: string[], type: string, f: (r: Rec) => void, from = 0): string {
  const rs = recs(ls);
  f(rs[firstIndex(rs, (r) => r.type === type, from)]);
  return text(rs);
}

/** `n` records from the first `type` record after line `from` replaced by the emitter's `dropped` record. */
function dropped(type: string, n: number, from = 50): string {
  const rs = recs(SMALL);
  const i = firstIndex(rs, (r) => r.type === type, from);
  const t = (rs[i].t ?? rs[i].t_start) as number;
  rs.splice(i, n, { type: "dropped", t, count: n });
  return text(rs);
}

const MAX = 2 ** 53 - 1;

export const NAMED_CASES: NamedCase[] = [
  { name: "two traces with the same dp_rank in a directory", files: { "vsched-1-dp0.jsonl": txt(SMALL), "vsched-2-dp0.jsonl": withHeader(SMALL, (h) => (h.pid = 2)) }, expect: { refuse: "RAW_DUPLICATE_RANK" } },
  { name: "the same trace as .jsonl and .jsonl.gz", files: { "vsched-1-dp0.jsonl": txt(SMALL), "vsched-1-dp0.jsonl.gz": gzipSync(txt(SMALL)) }, expect: { refuse: "RAW_DUPLICATE_RANK" } },
  { name: "two ranks reusing request ids (each rank its own scheduler)", files: { "vsched-1-dp0.jsonl": txt(SMALL), "vsched-1-dp1.jsonl": withHeader(SMALL, (h) => (h.dp_rank = 1)) }, expect: { convert: 0 } },
  { name: "a waiting request that is preempted", files: { "t.jsonl": preemptWaiting() }, expect: { convert: 1, codes: ["ENGINE_STATE_CONTRADICTION"] } },
  { name: "a resume of a request never preempted", files: { "t.jsonl": resumeNeverPreempted() }, expect: { convert: 1, codes: ["ENGINE_STATE_CONTRADICTION"] } },
  { name: "update.out_t = 2^53-1", files: { "t.jsonl": edit(SMALL, "update", (r) => (r.out_t = MAX)) }, expect: { convert: 1, codes: ["RAW_TIME_OUTSIDE_RECORD"] } },
  { name: "step.sched_t = -(2^53-1)", files: { "t.jsonl": edit(SMALL, "step", (r) => (r.sched_t = -MAX)) }, expect: { convert: 1, codes: ["RAW_TIME_OUTSIDE_RECORD"] } },
  { name: "a stop cause naming a request that never arrived", files: { "t.jsonl": edit(SERVE, "step", (r) => ((r.stop as Rec).req = "nobody-arrived"), SERVE.findIndex((l) => l.includes('"stop":{"cause":"kv_full","req":"'))) }, expect: { convert: 1, codes: ["ENGINE_UNKNOWN_REQUEST"] } },
  ...[40, 200, SMALL.length - 1].map((at): NamedCase => ({ name: `--lenient, a duplicate header at line ${at + 1}`, files: { "t.jsonl": txt([...SMALL.slice(0, at), SMALL[0], ...SMALL.slice(at)]) }, args: ["--lenient"], expect: { convert: 0, stderr: /RAW_SKIPPED_LINES/ } })),
  { name: "--lenient, a file of garbage beside a valid trace", files: { "vsched-1-dp0.jsonl": txt(SMALL), "vsched-2-dp1.jsonl": "this is not json\n{also not\n" }, args: ["--lenient"], expect: { refuse: "RAW_MALFORMED_LINE" } },
  { name: "--lenient, a trace with a broken line beside a valid one", files: { "vsched-1-dp0.jsonl": txt(SMALL), "vsched-2-dp1.jsonl": txt(withHeader(SMALL, (h) => (h.dp_rank = 1)).trimEnd().split("\n").map((l, i) => (i === 5 ? l.slice(0, 20) : l))) }, args: ["--lenient"], expect: { convert: 0, stderr: /RAW_SKIPPED_LINES/ } },
  { name: "records dropped by the emitter (a step and its update)", files: { "t.jsonl": dropped("step", 2) }, expect: { convert: 0, codes: ["ENGINE_EMITTER_DROPPED"], stderr: /dropped 2 records.*ENGINE_EMITTER_DROPPED/ } },
  { name: "records dropped by the emitter (a step alone: its update is orphaned)", files: { "t.jsonl": dropped("step", 1) }, expect: { convert: 0, codes: ["ENGINE_EMITTER_DROPPED", "ENGINE_LOST_RECORD"], stderr: /ENGINE_EMITTER_DROPPED/ } },
];
