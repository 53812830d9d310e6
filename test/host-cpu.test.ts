import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runCli, runCliOk } from "./helpers/golden.js";
import { traceFiles } from "./helpers/fixtures.js";

/**
 * The host CPU as a feature of the step model (docs/fit.md, "Host CPU"), on two real H100 runs
 * of one configuration (vLLM 0.24.0, Llama-3-8B shape, max_num_seqs 64, rate 20): h100-s64-a
 * ran on a slow host, h100-s64-c on a fast one (gpu/plan_sim3.txt). The expected values come
 * from the raw traces read here directly, or from the direction of the physical effect.
 */
const RUN_A = path.join("fixtures", "h100-s64-a");
const RUN_C = path.join("fixtures", "h100-s64-c");
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "vsched-cpu-"));

const cli = (args: string[]) => runCliOk(args);

/** Median schedule() duration (the step record's t_end − t_start) over full-batch steps, straight from the gzipped JSONL. */
function rawFullBatchScheduleMedian(fixture: string): number {
  const text = gunzipSync(readFileSync(traceFiles(fixture)[0])).toString("utf8");
  const d: number[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes('"type":"step"')) continue;
    const s = JSON.parse(line) as { sched: unknown[]; t_start: number; t_end: number };
    if (s.sched.length >= 60) d.push(s.t_end - s.t_start);
  }
  d.sort((x, y) => x - y);
  return d[Math.floor(d.length / 2)];
}

describe("host CPU index", () => {
  const model = path.join(tmp(), "coeffs.json");
  let fit: { beta: { host_cpu: { indices: number[] }; models: { id: string; exported_terms: { term: string; coef: number }[] }[] } };

  it("ranks the runs' hosts as their own schedule() times do, read from the raw traces", async () => {
    fit = JSON.parse(await cli(["fit", RUN_A, "--with", RUN_C, "--json", "--out", model]));
    const [ia, ic] = fit.beta.host_cpu.indices;
    const raw = rawFullBatchScheduleMedian("h100-s64-c") / rawFullBatchScheduleMedian("h100-s64-a");
    expect(raw).toBeLessThan(0.8); // the fast host: 0.58 measured
    expect(ic / ia).toBeGreaterThan(raw * 0.85);
    expect(ic / ia).toBeLessThan(raw * 1.15);
  }, 600_000);

  it("a launch without a CUDA graph costs more on the slower host", () => {
    const ols = fit.beta.models.find((m) => m.id === "gpu_host/ols")!;
    const coef = (t: string) => ols.exported_terms.find((e) => e.term === t)!.coef;
    const [ia, ic] = fit.beta.host_cpu.indices;
    const holdup = (i: number) => coef("next_no_cudagraph") + coef("next_no_cudagraph*cpu_index") * i;
    expect(holdup(ia)).toBeGreaterThan(holdup(ic));
    expect(holdup(ic)).toBeGreaterThan(1e6); // at least a millisecond on either host
  });

  it("simulate replays a run on its own host by default, and a slower host gives a longer run", async () => {
    const own = tmp(), slow = tmp(), fast = tmp();
    const said = await cli(["simulate", RUN_C, "--model", model, "-o", own]);
    expect(said).toMatch(/^host CPU index \d\.\d\d \(the recorded run's own/m);
    const used = JSON.parse(readFileSync(path.join(own, "step-model.json"), "utf8"));
    expect(used.host_cpu.index).toBeCloseTo(fit.beta.host_cpu.indices[1], 2);
    await cli(["simulate", RUN_C, "--model", model, "-o", slow, "--cpu-index", "2"]);
    await cli(["simulate", RUN_C, "--model", model, "-o", fast, "--cpu-index", "0.5"]);
    const span = async (dir: string) => Number(JSON.parse(await cli(["summary", path.join(dir, "logs"), "--json"])).span.duration_ns);
    expect(await span(slow)).toBeGreaterThan(await span(fast));
  }, 900_000);

  it("a --cpu-index that is not recorded, training or a positive number is refused in one line", async () => {
    const r = await runCli(["simulate", RUN_C, "--model", model, "-o", tmp(), "--cpu-index", "fast"], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--cpu-index/);
  }, 120_000);
});

