import { describe, expect, it } from "vitest";
import type { BetaTrainingRow } from "../src/schema/fit.js";
import { applyGpuWork, hostBound } from "../src/analysis/fit/gpu-work.js";
import { runCli } from "./helpers/golden.js";

/**
 * The GPU clock's target where a graphless step's GPU time ended with its launch (fit/gpu-work.ts,
 * docs/fit.md "GPU work"), on a known answer: steps whose work is a known line in the batch, and
 * whose recorded GPU time is the later of that work and a host launch drawn per step (the GPU
 * waits for kernels the host has not launched yet). The launch is slow on half the steps, as on
 * the lent H100 whose host slowed mid-run; a model of the recorded times would learn it as work.
 */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

interface Step { row: BetaTrainingRow; work: number }

function steps(n: number, slowHost: boolean, seed = 7): Step[] {
  const rnd = lcg(seed);
  const out: Step[] = [];
  for (let i = 0; i < n; i++) {
    const graphless = rnd() < 0.2;
    const padded = graphless ? 512 + Math.floor(rnd() * 2560) : 8 * (1 + Math.floor(rnd() * 12));
    const decodeCtx = Math.floor(rnd() * 60_000);
    const prefillAttn = graphless ? Math.floor(rnd() * 4e6) : 0;
    // the GPU's work: a line in the gpu set's features, 1% noise
    const work = (6e6 + 6_000 * padded + 20 * decodeCtx + 2 * prefillAttn) * (0.99 + 0.02 * rnd());
    // the host's launch: kernel by kernel without a graph (a share of the work, slower on a slow host), one graph launch with
    const launch = graphless ? work * (slowHost ? 0.9 + 0.8 * rnd() : 0.5 + 0.6 * rnd()) : 2e6 + 1e6 * rnd();
    const span = Math.max(work, launch * (1 + 0.01 * rnd()));
    out.push({
      work,
      row: {
        excluded: null, no_cudagraph: graphless ? 1 : 0, padded_tokens: padded, has_prefill: graphless ? 1 : 0,
        decode_context_tokens: decodeCtx, prefill_attention_work: prefillAttn,
        gpu_step_ns: Math.round(span), runner_host_ns: Math.round(launch), gpu_work_ns: null,
      } as unknown as BetaTrainingRow,
    });
  }
  return out;
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

describe("the GPU work of steps whose GPU time ended with their launch", () => {
  for (const slowHost of [false, true]) {
    it(`recovers the known work of the host-bound steps (${slowHost ? "slow" : "fast"} host)`, () => {
      const s = steps(4000, slowHost);
      const summary = applyGpuWork(s.map((x) => x.row), null, "censored")!;
      const bound = s.filter((x) => hostBound(x.row));
      expect(summary.host_bound).toBe(bound.length);
      expect(bound.length).toBeGreaterThan(slowHost ? 400 : 100);
      const spans = sum(bound.map((x) => x.row.gpu_step_ns!)), work = sum(bound.map((x) => x.work));
      const read = sum(bound.map((x) => x.row.gpu_work_ns!));
      // the recorded time overstates the work by the launch wait; the read work is within 5% of the true work
      expect(spans / work).toBeGreaterThan(slowHost ? 1.15 : 1.02);
      expect(Math.abs(read / work - 1)).toBeLessThan(0.05);
      expect(summary.rounds).toBeGreaterThan(0);
      expect(summary.rounds).toBeLessThan(200); // settled before the cap
      for (const x of s) {
        if (hostBound(x.row)) expect(x.row.gpu_work_ns!).toBeLessThanOrEqual(x.row.gpu_step_ns!);
        else expect(x.row.gpu_work_ns).toBe(x.row.gpu_step_ns); // a step that did not wait on its launch keeps its time
      }
    });
  }

  it("reads the same work on a fast and a slow host, where the recorded times differ", () => {
    const fast = steps(4000, false, 11), slow = steps(4000, true, 11);
    const graphlessWork = (s: Step[]) => {
      applyGpuWork(s.map((x) => x.row), null, "censored");
      const g = s.filter((x) => x.row.no_cudagraph === 1);
      return { read: sum(g.map((x) => x.row.gpu_work_ns!)), span: sum(g.map((x) => x.row.gpu_step_ns!)) };
    };
    const a = graphlessWork(fast), b = graphlessWork(slow);
    // the same seed gives the same batches and work: only the launches differ
    expect(b.span / a.span).toBeGreaterThan(1.1);
    expect(Math.abs(b.read / a.read - 1)).toBeLessThan(0.04);
  });

  it("leaves graph steps and steps without a GPU time alone", () => {
    const s = steps(500, true);
    const untimed = { ...s[0].row, gpu_step_ns: null, runner_host_ns: null } as BetaTrainingRow;
    applyGpuWork([...s.map((x) => x.row), untimed], null, "censored");
    expect(untimed.gpu_work_ns).toBeNull();
    for (const x of s) if (x.row.no_cudagraph === 0) expect(x.row.gpu_work_ns).toBe(x.row.gpu_step_ns);
    expect(applyGpuWork([untimed], null, "censored")).toBeNull();
  });

  it("under span (the default) counts the host-bound steps and fits their time as recorded", () => {
    const s = steps(2000, true);
    const w = applyGpuWork(s.map((x) => x.row), null, "span")!;
    expect(w.host_bound).toBe(s.filter((x) => hostBound(x.row)).length);
    expect(w.host_bound).toBeGreaterThan(200);
    expect(w.rounds).toBe(0);
    for (const x of s) expect(x.row.gpu_work_ns).toBe(x.row.gpu_step_ns);
  });

  it("fit --gpu-work takes span or censored; anything else is a usage error in one line", async () => {
    const r = await runCli(["fit", "fixtures/known-linear/vsched-1-dp0.jsonl", "--gpu-work", "bounded"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--gpu-work: expected one of span, censored, got 'bounded'/);
  });
});
