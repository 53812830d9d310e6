/**
 * A seeded corpus of broken inputs derived from real traces (recorded from vLLM's
 * scheduler), for test/malformed-corpus.test.ts. Every case is a list of trace lines or
 * raw bytes; the generator is deterministic, so a failing case number reproduces.
 */
import { readFileSync } from "node:fs";
import { readTrace } from "../helpers/fixtures.js";
import { rng } from "../helpers/rng.js";

export interface Case {
  id: string;
  kind: string;
  /** the trace file's bytes */
  bytes: Buffer;
}

type Rec = Record<string, unknown>;
const enc = (lines: string[]) => Buffer.from(lines.join("\n") + "\n", "utf8");

/** hostile and odd request ids a client can send */
export const ODD_IDS = [
  "a,b,c",
  'say "hi"',
  "line\nbreak",
  "cr\rlf",
  "=cmd|' /C calc'!A0",
  "+SUM(1,2)",
  "-2+3",
  "@import",
  "\tTAB",
  "ünïcödé-请求-🚀",
  "</script><script>alert(1)</script>",
  '"><img src=x onerror=alert(1)>',
  "x".repeat(1 << 20),
  " leading space",
  "trailing space ",
  "\u2028\u2029",
];

const ODD_VALUES: unknown[] = ["5", "abc", "1e18", 1.5, -1, -0.5, 1e18, 2 ** 60, {}, [], [1, "x"], null, true, "", 1e308];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function leafPaths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== "object") return prefix.length ? [prefix] : [];
  const out: (string | number)[][] = prefix.length ? [prefix] : [];
  for (const [k, x] of Object.entries(v)) out.push(...leafPaths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function setPath(rec: Rec, p: (string | number)[], value: unknown | undefined): void {
  let o = rec as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  if (value === undefined) delete o[p[p.length - 1]];
  else o[p[p.length - 1]] = value;
}

/** The id of every arrival, in order. */
const arrivalIds = (recs: Rec[]) => recs.filter((r) => r.type === "arrival").map((r) => r.req as string);

/** Replace one request id everywhere it appears (as a JSON string). */
function renameId(lines: string[], from: string, to: string): string[] {
  const a = JSON.stringify(from);
  const b = JSON.stringify(to);
  return lines.map((l) => l.split(a).join(b));
}

export function generateCorpus(basePaths: string[], seed: number, count: number): Case[] {
  const r = rng(seed);
  const bases = basePaths.map((p) => {
    const text = readFileSync(p, "utf8");
    const lines = text.split("\n").filter((l) => l.length > 0);
    const recs = lines.map((l) => JSON.parse(l) as Rec);
    return { name: p.split("/").slice(-3).join("/"), text, lines, recs, plain: plainForm(p, recs, lines) };
  });
  const makers: [string, (b: (typeof bases)[number]) => Buffer][] = [
    ["truncate", (b) => Buffer.from(b.text, "utf8").subarray(0, Math.floor(r() * b.text.length))],
    ["byte-flip", (b) => {
      const buf = Buffer.from(b.text, "utf8");
      for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) buf[Math.floor(r() * buf.length)] = Math.floor(r() * 256);
      return buf;
    }],
    ["missing-field", (b) => mutateRecord(b, (rec) => {
      const ps = leafPaths(rec).filter((p) => p[0] !== "type");
      if (ps.length) setPath(rec, pick(r, ps), undefined);
    })],
    ["wrong-type", (b) => mutateRecord(b, (rec) => {
      const ps = leafPaths(rec).filter((p) => p[0] !== "type");
      if (ps.length) setPath(rec, pick(r, ps), pick(r, ODD_VALUES));
    })],
    ["odd-number", (b) => mutateRecord(b, (rec) => {
      const ps = leafPaths(rec).filter((p) => typeof getPath(rec, p) === "number");
      if (ps.length) setPath(rec, pick(r, ps), pick(r, [1e18, -1, -123456789, 0.5, 3.25, 2 ** 53 + 2, -0, Number.MAX_SAFE_INTEGER]));
    })],
    ["epoch-field", (b) => mutateRecord(b, (rec) => {
      // fields that carry epoch / monotonic ns as strings
      if (rec.type === "arrival") rec.vllm_arrival_epoch_ns = pick(r, ["abc", "1e18", 1.5, {}, "", "-", "12.5", "99999999999999999999999999"]);
      else if (rec.type === "update") rec.out_t = pick(r, [1.5, [1], "7", {}, -1e30]);
      else if (rec.type === "step") rec.sched_t = pick(r, ["5", 2.5, [], {}]);
    })],
    ["duplicate-line", (b) => {
      const ls = [...b.lines];
      const i = 1 + Math.floor(r() * (ls.length - 1));
      ls.splice(i, 0, ls[i]);
      return enc(ls);
    }],
    ["reorder-lines", (b) => {
      const ls = [...b.lines];
      const i = 1 + Math.floor(r() * (ls.length - 1));
      const j = 1 + Math.floor(r() * (ls.length - 1));
      [ls[i], ls[j]] = [ls[j], ls[i]];
      return enc(ls);
    }],
    ["bad-header", (b) => {
      const ls = [...b.lines];
      const h = JSON.parse(ls[0]) as Rec;
      const choice = Math.floor(r() * 6);
      if (choice === 0) ls.shift();
      else if (choice === 1) ls.splice(3, 0, ls[0]);
      else if (choice === 2) h.schema_version = pick(r, ["2.0", "x", 1, "1", "0.9"]);
      else if (choice === 3) (h.clock as Rec).epoch_ns = pick(r, ["abc", 5, "1.5e18", null]);
      else if (choice === 4) (h.config as Rec)[pick(r, ["block_size", "num_gpu_blocks", "max_num_seqs"])] = pick(r, [-1, "16", null, 0.5]);
      else delete h[pick(r, ["config", "clock", "level", "dp_rank"])];
      if (choice >= 2) ls[0] = JSON.stringify(h);
      return enc(ls);
    }],
    // ids and lists as they mean something: on the resolved form of an interned trace
    ["odd-id", (b) => enc(renameId(b.plain.lines, pick(r, arrivalIds(b.plain.recs)), pick(r, ODD_IDS)))],
    ["empty-or-blank", () => Buffer.from(pick(r, ["", "\n", "\n\n\n", "   \n", "\r\n"]), "utf8")],
    ["not-json", () => Buffer.from(pick(r, ["hello\n", "{\n", "[]\n", "null\n", '{"type":5}\n', '{"type":"arrival","t":1}\n', "\u0000\u0001\u0002\n"]), "utf8")],
    ["contradiction", (b) => contradiction(b.plain, r)],
    ["huge-value", (b) => mutateRecord(b, (rec) => {
      if (rec.type === "arrival") rec.prompt_tokens = pick(r, [2 ** 60, 1e300, 2 ** 31, 1e15]);
      else if (rec.type === "step") rec.budget_left = pick(r, [-(2 ** 60), 2 ** 60]);
      else if (rec.type === "update") rec.free_blocks = pick(r, [2 ** 62, 1e20]);
    })],
  ];

  function getPath(rec: unknown, p: (string | number)[]): unknown {
    let o = rec as Record<string | number, unknown>;
    for (const k of p) o = o?.[k] as Record<string | number, unknown>;
    return o;
  }

  function mutateRecord(b: (typeof bases)[number], f: (rec: Rec) => void): Buffer {
    const recs = b.recs.map((x) => structuredClone(x));
    const i = 1 + Math.floor(r() * (recs.length - 1));
    f(recs[i]);
    return enc(recs.map((x) => JSON.stringify(x)));
  }

  const out: Case[] = [];
  for (let n = 0; n < count; n++) {
    const [kind, make] = makers[n % makers.length];
    const base = bases[Math.floor(r() * bases.length)];
    out.push({ id: `${n}:${kind}:${base.name}`, kind, bytes: make(base) });
  }
  return out;
}

/**
 * A trace in schema 1.3's interned form (handles, delta lists) as the 1.1 records the
 * reader resolves it to: the semantic mutations (renamed ids, contradictions) need ids and
 * full lists; every other mutation works on the lines as written.
 */
function plainForm(file: string, recs: Rec[], lines: string[]): { lines: string[]; recs: Rec[] } {
  if (Number(String(recs[0]?.schema_version ?? "1.0").split(".")[1]) < 3) return { lines, recs };
  const resolved = readTrace(file) as unknown as Rec[];
  resolved[0] = { ...resolved[0], schema_version: "1.1" };
  return { lines: resolved.map((x) => JSON.stringify(x)), recs: resolved };
}

/** A record stream that contradicts itself in one of the ways a buggy emitter could. */
function contradiction(b: { lines: string[]; recs: Rec[] }, r: () => number): Buffer {
  const ls = [...b.lines];
  const recs = b.recs;
  const kind = Math.floor(r() * 5);
  const upd = recs.findIndex((x) => x.type === "update");
  const fin = recs.findIndex((x) => x.type === "update" && (x.finished as unknown[]).length > 0);
  if (kind === 0) {
    // a second arrival of a live request
    const a = recs.findIndex((x) => x.type === "arrival");
    ls.splice(a + 2, 0, ls[a]);
  } else if (kind === 1 && upd > 0) {
    ls.splice(upd + 1, 0, ls[upd]); // a second update for one step
  } else if (kind === 2 && fin > 0) {
    // tokens for a request after it finished
    const f = recs[fin] as { finished: [string][]; step: number };
    const later = recs.findIndex((x, i) => i > fin && x.type === "update");
    if (later > 0) {
      const u = structuredClone(recs[later]) as { tokens: [string, number][] };
      u.tokens.push([f.finished[0][0], 1]);
      ls[later] = JSON.stringify(u);
    }
  } else if (kind === 3 && fin > 0) {
    ls.splice(fin + 1, 0, ls[fin]); // finished twice (the whole update again)
  } else {
    const s = recs.findIndex((x) => x.type === "step" && (x.sched as unknown[]).length > 0);
    const st = structuredClone(recs[s]) as { sched: [string, number, number][] };
    st.sched[0][0] = "never-arrived";
    ls[s] = JSON.stringify(st);
  }
  return enc(ls);
}
