import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EngineOptions, RowSink } from "../src/engine/types.js";
import type { HeaderRecord, RawRecord } from "../src/schema/raw.js";
import { arrival, header, jsonl, tmpDir } from "./helpers/trace.js";

// A stand-in engine: one state_transitions row per arrival, so the test sees what
// convert passes in (options, records) and where rows go; the real engine has its own tests.
const calls: { header: HeaderRecord; options: EngineOptions; pushed: [string, number][] }[] = [];
vi.mock("../src/engine/index.js", () => ({
  createEngine: (h: HeaderRecord, sink: RowSink, options: EngineOptions) => {
    const call = { header: h, options, pushed: [] as [string, number][] };
    calls.push(call);
    return {
      push(r: RawRecord, line: number) {
        call.pushed.push([r.type, line]);
        if (r.type === "arrival") {
          if ((r as { prompt_tokens?: unknown }).prompt_tokens === undefined) throw new TypeError("cannot read prompt_tokens");
          const t = r.t + options.timeOffsetNs;
          sink.stateTransition({
            request_id: r.req,
            timestamp: t,
            from_state: null,
            to_state: "waiting",
            iteration_id: null,
            timestamp_epoch_ns: ((options.epochZeroNs ?? 0n) + BigInt(t)).toString(),
            detail: "arrival",
            dp_rank: h.dp_rank,
            request_instance: 0,
          });
        }
      },
      end: () => ({ records: {}, requests: call.pushed.length, finished: 0, unfinished: 0, iterations: 0, droppedByEmitter: 0 }),
    };
  },
}));

const { runConvert } = await import("../src/cli/commands/convert.js");

// threads: 1: the stand-in engine lives in this process; worker threads would load the real
// one (test/convert-threads.test.ts checks that any thread count writes the same bytes)
const defaults = { lenient: false, versionHeader: false, iterationRequests: "all" as const, iterationRequestsEvery: 1, scheduledEvents: true, quiet: false, threads: 1 };

function setup() {
  const dir = tmpDir();
  mkdirSync(path.join(dir, "run"));
  // rank 0 started 0.5 ms after rank 1: t=0 is rank 1's anchor
  writeFileSync(
    path.join(dir, "run", "rank0.jsonl"),
    jsonl(header({ dp_rank: 0, pid: 10, clock: { epoch_ns: "1760000000000500000", monotonic_ns: "900" } }), arrival("a", 100), arrival("b", 200)),
  );
  writeFileSync(
    path.join(dir, "run", "rank1.jsonl"),
    jsonl(header({ dp_rank: 1, pid: 11, clock: { epoch_ns: "1760000000000000000", monotonic_ns: "800" } }), arrival("c", 50)),
  );
  return dir;
}

function capture() {
  const s = new PassThrough();
  let text = "";
  s.on("data", (b) => (text += b));
  return { stream: s, text: () => text };
}

beforeEach(() => {
  calls.length = 0;
});

describe("convert", () => {
  it("puts several ranks on one t=0 (the earliest epoch anchor, as BigInt) and groups rows by file", async () => {
    const dir = setup();
    const err = capture();
    const code = await runConvert({ ...defaults, inputs: ["run"], out: "out", cwd: dir, stderr: err.stream });
    expect(code).toBe(0);
    expect(calls.map((c) => [c.header.dp_rank, c.options.timeOffsetNs, c.options.epochZeroNs, c.options.file])).toEqual([
      [0, 500000, 1760000000000000000n, "run/rank0.jsonl"],
      [1, 0, 1760000000000000000n, "run/rank1.jsonl"],
    ]);
    // the header is given to createEngine, not pushed
    expect(calls[0].pushed).toEqual([
      ["arrival", 2],
      ["arrival", 3],
    ]);
    const st = readFileSync(path.join(dir, "out", "state_transitions.csv"), "utf8").trim().split("\n").slice(1);
    expect(st.map((l) => l.split(",").slice(0, 2).concat(l.split(",")[5]).join(" "))).toEqual([
      "a 500100 1760000000000500100",
      "b 500200 1760000000000500200",
      "c 50 1760000000000000050",
    ]);
    expect(err.text()).toBe("vsched: converted 2 files (5 records) into out/: 3 requests, 0 iterations, 3 rows in 6 tables; 0 warnings, 2 findings (see manifest.json)\n");
  });

  it("passes the per_iteration_requests and events options to the engine", async () => {
    const dir = setup();
    await runConvert({ ...defaults, inputs: ["run/rank1.jsonl"], out: "o", cwd: dir, quiet: true, iterationRequests: "running", iterationRequestsEvery: 10, scheduledEvents: false });
    expect(calls[0].options).toMatchObject({ iterationRequests: "running", iterationRequestsEvery: 10, scheduledEvents: false });
  });

  it("writes a deterministic manifest: same bytes for the same input, relative paths only", async () => {
    const dir = setup();
    const q = { stream: capture().stream };
    await runConvert({ ...defaults, inputs: ["run"], out: "one", cwd: dir, stderr: q.stream });
    await runConvert({ ...defaults, inputs: ["run"], out: "two", cwd: dir, stderr: q.stream });
    const a = readFileSync(path.join(dir, "one", "manifest.json"), "utf8");
    expect(readFileSync(path.join(dir, "two", "manifest.json"), "utf8")).toBe(a);
    expect(a).not.toContain(dir);
    const m = JSON.parse(a);
    expect(Object.keys(m)).toEqual([
      "vsched_version",
      "output_schema_version",
      "reader_trace_schema_version",
      "options",
      "time",
      "row_order",
      "csv",
      "tables",
      "sources",
      "totals",
      "warnings",
      "findings",
      "findings_not_listed",
    ]);
    expect(m.time.epoch_zero_ns).toBe("1760000000000000000");
    expect(m.csv.float_decimals).toBe(6);
    expect(m.tables.map((t: { file: string; rows: number }) => [t.file, t.rows])).toEqual([
      ["per_request.csv", 0],
      ["per_iteration.csv", 0],
      ["per_iteration_requests.csv", 0],
      ["events.csv", 0],
      ["state_transitions.csv", 3],
      ["predictions.csv", 0],
    ]);
    expect(m.tables[0].columns[1]).toEqual({ name: "arrival_time", kind: "int", unit: "ns", nullable: false, description: expect.any(String) });
    const src = m.sources[0];
    expect([src.path, src.bytes, src.gzip, src.time_offset_ns, src.header.dp_rank, src.header.pid]).toEqual(["run/rank0.jsonl", expect.any(Number), false, 500000, 0, 10]);
    expect(src.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(src.header).slice(0, 3)).toEqual(["schema_version", "emitter_version", "vllm_version"]);
    expect(src.records).toMatchObject({ header: 1, arrival: 2 });
  });

  it("leaves neither partial tables nor a staging directory when a file is malformed, and keeps an earlier good set", async () => {
    const dir = setup();
    await runConvert({ ...defaults, inputs: ["run"], out: "out", cwd: dir, quiet: true });
    const before = readFileSync(path.join(dir, "out", "state_transitions.csv"), "utf8");
    writeFileSync(path.join(dir, "run", "rank1.jsonl"), jsonl(header({ dp_rank: 1 }), arrival("c", 1), "{oops", arrival("d", 2)));
    await expect(runConvert({ ...defaults, inputs: ["run"], out: "out", cwd: dir, quiet: true })).rejects.toMatchObject({
      code: "RAW_MALFORMED_LINE",
      file: "run/rank1.jsonl",
      line: 3,
    });
    expect(readdirSync(path.join(dir, "out")).sort()).toEqual(["events.csv", "manifest.json", "per_iteration.csv", "per_iteration_requests.csv", "per_request.csv", "predictions.csv", "state_transitions.csv"]);
    expect(readFileSync(path.join(dir, "out", "state_transitions.csv"), "utf8")).toBe(before);
    await expect(runConvert({ ...defaults, inputs: ["run"], out: "fresh", cwd: dir, quiet: true })).rejects.toThrow();
    expect(existsSync(path.join(dir, "fresh")), "a failed convert removes the directory it created").toBe(false);
  });

  it("--lenient skips the line, counts it, and says so once", async () => {
    const dir = setup();
    writeFileSync(path.join(dir, "run", "rank1.jsonl"), jsonl(header({ dp_rank: 1 }), arrival("c", 1), "{oops", arrival("d", 2)));
    const err = capture();
    expect(await runConvert({ ...defaults, lenient: true, inputs: ["run/rank1.jsonl"], out: "out", cwd: dir, stderr: err.stream })).toBe(0);
    expect(err.text()).toContain("vsched: warning: run/rank1.jsonl:3: --lenient: skipped 1 malformed line (first at line 3) [RAW_SKIPPED_LINES]\n");
    const m = JSON.parse(readFileSync(path.join(dir, "out", "manifest.json"), "utf8"));
    expect(m.sources[0].skipped_lines).toEqual({ count: 1, first_lines: [3] });
    expect(m.warnings[0]).toMatchObject({ code: "RAW_SKIPPED_LINES", file: "run/rank1.jsonl", line: 3 });
  });

  it("turns an engine failure on an invalid record into RAW_INVALID_RECORD at its line (exit 2, not a crash)", async () => {
    const dir = setup();
    const bad: Record<string, unknown> = arrival("x", 1);
    delete bad.prompt_tokens;
    writeFileSync(path.join(dir, "bad.jsonl"), jsonl(header(), arrival("ok", 0), bad));
    await expect(runConvert({ ...defaults, inputs: ["bad.jsonl"], out: "out", cwd: dir, quiet: true })).rejects.toMatchObject({
      code: "RAW_INVALID_RECORD",
      file: "bad.jsonl",
      line: 3,
      exitCode: 2,
    });
    expect(existsSync(path.join(dir, "out", "manifest.json"))).toBe(false);
  });
});

describe("manifest findings", () => {
  it("counts every engine finding but lists only the first MANIFEST_MAX_FINDINGS", async () => {
    const { FindingTally, MANIFEST_MAX_FINDINGS } = await import("../src/pipeline/finding-tally.js");
    const { buildManifest } = await import("../src/sinks/manifest.js");
    const c = new FindingTally();
    for (let i = 0; i < MANIFEST_MAX_FINDINGS + 5; i++) c.add({ code: i % 2 ? "B_CODE" : "A_CODE", severity: i === 3 ? "error" : "warning", line: i + 1, args: { z: 1, a: 2 } });
    const m = buildManifest({
      vschedVersion: "x",
      options: { lenient: false, versionHeader: false, iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true },
      epochZeroNs: 5n,
      rows: { per_request: 0, per_iteration: 0, per_iteration_requests: 0, events: 0, state_transitions: 0, predictions: 0 },
      sources: [],
      warnings: [],
      findings: c,
    }) as unknown as { findings: { args: object }[]; findings_not_listed: number; totals: { findings: Record<string, number> } };
    expect(c.errors).toBe(1);
    expect(m.findings).toHaveLength(MANIFEST_MAX_FINDINGS);
    expect(m.findings_not_listed).toBe(5);
    expect(m.totals.findings).toEqual({ A_CODE: 503, B_CODE: 502 });
    expect(Object.keys(m.findings[0].args)).toEqual(["a", "z"]);
  });
});
