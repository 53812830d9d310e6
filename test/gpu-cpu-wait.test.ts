import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ROOT, runCliOk } from "./helpers/golden.js";

/**
 * CPU contention on real H100 runs (vLLM 0.24.0, the 1B shape, s64 t4096 40/s; gpu/plan_cpu_1b.txt:
 * the same requests with 0, 16, 24 and 32 busy loops on the GPU machine's 16 cores, trace schema
 * 1.5). Expected values come from the raw traces read here, or from the physics: the busy loops
 * take the engine thread's CPU, so it waits, and a model that knows the wait replays a contended
 * run slower than an uncontended one.
 */
const run = (tag: string) => path.join(ROOT, "bench", "h100", `m1b_s64_t4096_r40_${tag}`);
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "vsched-wait-"));

/** Σ step.cpu wait and Σ (t_start − previous t_start), straight from the gzipped JSONL, the first step left out (its figure covers the time before the run). */
function rawWaitShare(tag: string): { wait: number; covered: number; steps: number } {
  const file = readdirSync(run(tag)).find((f) => /^vsched-.*\.jsonl\.gz$/.test(f))!;
  const text = gunzipSync(readFileSync(path.join(run(tag), file))).toString("utf8");
  let wait = 0, covered = 0, steps = 0, last: number | null = null;
  for (const line of text.split("\n")) {
    if (!line.includes('"type":"step"')) continue;
    const s = JSON.parse(line) as { t_start: number; cpu?: [number, number, number | null] | null };
    if (last !== null && s.cpu) (wait += s.cpu[1]), (covered += s.t_start - last), steps++;
    last = s.t_start;
  }
  return { wait, covered, steps };
}

describe("CPU contention on the H100 (trace schema 1.5)", () => {
  it("summary's wait share is the raw traces' own, and the busy loops show as a wait the idle host does not have", async () => {
    const share = async (tag: string) => JSON.parse(await runCliOk(["summary", run(tag), "--json"])).resources.engine_cpu.wait_share as number;
    for (const tag of ["w0", "w16"]) {
      const raw = rawWaitShare(tag);
      expect(raw.steps).toBeGreaterThan(1000);
      expect(await share(tag)).toBeCloseTo(raw.wait / raw.covered, 9);
    }
    const [idle, busy] = [rawWaitShare("w0"), rawWaitShare("w16")];
    expect(idle.wait / idle.covered).toBeLessThan(0.01); // measured 0.0%
    expect(busy.wait / busy.covered).toBeGreaterThan(0.2); // measured 40%
  }, 120_000);

  it("fit learns what the wait costs a step, and simulate replays a contended run slower than the same run uncontended", async () => {
    const dir = tmp();
    const model = path.join(dir, "m.json");
    const fit = JSON.parse(await runCliOk(["fit", run("w0"), "--with", run("w16"), "--with", run("w32"), "--with", run("b_w0"), "--json", "--out", model], { timeoutMs: 300_000 }));
    expect(fit.beta.chosen).toBe("gpu_wait/ridge"); // measured: the wait term wins the blocked CV
    const file = JSON.parse(readFileSync(model, "utf8"));
    // a share of the waited time reaches the step: more than none, not more than all of it (measured 0.48)
    expect(file.cpu_wait.coef).toBeGreaterThan(0.1);
    expect(file.cpu_wait.coef).toBeLessThanOrEqual(1);
    const e2e = async (wait: string) => {
      const out = path.join(dir, `sim-${wait}`);
      await runCliOk(["simulate", run("b_w16"), "--model", model, "-o", out, "--cpu-wait", wait], { timeoutMs: 300_000 });
      const cal = JSON.parse(await runCliOk(["calibrate", run("b_w16"), path.join(out, "logs"), "--json"]));
      const m = cal.latency.find((x: { metric: string }) => x.metric === "e2e");
      return (m.simulated_mean_ns - m.recorded_mean_ns) / m.recorded_mean_ns;
    };
    const [recorded, none] = [await e2e("recorded"), await e2e("none")];
    expect(recorded).toBeGreaterThan(none + 0.2); // the contended replay is much the slower
    expect(Math.abs(recorded)).toBeLessThan(Math.abs(none)); // and nearer the recording
  }, 900_000);
});
