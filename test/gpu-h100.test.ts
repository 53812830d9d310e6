import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./helpers/golden.js";

/**
 * NVML samples from a real H100 run (fixtures/h100-nvml-sat: vLLM 0.24.0, Llama-3-8B shape,
 * 200 requests at saturation, the emitter's sampler at 100 ms; gpu/README.md). The expected
 * columns are worked out here from the raw gpu, step and update records and the join rule of
 * docs/tables.md (latest sample at or before the step's end_time), not by vsched.
 */
const DIR = path.join(ROOT, "fixtures", "h100-nvml-sat");

interface Raw { type: string; t?: number; t_end?: number; step?: number; devices?: number[][]; gpu_stats?: { interval_ns: number } }

describe("GPU stats per iteration from a real H100", () => {
  it("joins every step to the NVML sample before its end, with the device's own figures", async () => {
    const file = readdirSync(DIR).find((f) => f.endsWith(".jsonl.gz"))!;
    const lines = gunzipSync(readFileSync(path.join(DIR, file))).toString("utf8").trim().split("\n").map((l) => JSON.parse(l) as Raw);
    const header = lines[0];
    expect(header.gpu_stats?.interval_ns).toBe(100_000_000);
    const samples = lines.filter((r) => r.type === "gpu");
    const steps = lines.filter((r) => r.type === "step");
    // a step ends when its update does (per_iteration.end_time); without an update, at its own end
    const updateEnd = new Map(lines.filter((r) => r.type === "update").map((u) => [u.step!, u.t_end!]));
    expect(samples.length).toBeGreaterThan(100); // ~13 s of run at 10 samples a second
    // the H100's own limits: utilisation 0-100 %, SM clock at most 1980 MHz, power under 750 W
    for (const s of samples) {
      const [, util, , clock, powerMw] = s.devices![0];
      expect(util).toBeGreaterThanOrEqual(0);
      expect(util).toBeLessThanOrEqual(100);
      expect(clock).toBeLessThanOrEqual(1980);
      expect(powerMw).toBeLessThan(750_000);
    }
    const out = mkdtempSync(path.join(os.tmpdir(), "vsched-gpu-"));
    const r = await runCli(["convert", path.join(DIR, file), "-o", out], { timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = Papa.parse<Record<string, string>>(readFileSync(path.join(out, "per_iteration.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
    expect(rows).toHaveLength(steps.length);
    let busy = 0;
    steps.forEach((st, i) => {
      const end = updateEnd.get(st.step!) ?? st.t_end!;
      const before = samples.filter((s) => s.t! <= end);
      const row = rows[i];
      if (!before.length) return expect(row.gpu_util_percent).toBe("");
      const [, util, mem, clock, powerMw] = before[before.length - 1].devices![0];
      expect(Number(row.gpu_util_percent)).toBeCloseTo(util, 6);
      expect(Number(row.gpu_memory_used_bytes)).toBe(mem);
      expect(Number(row.gpu_sm_clock_mhz)).toBeCloseTo(clock, 6);
      expect(Number(row.gpu_power_w)).toBeCloseTo(powerMw / 1000, 3);
      if (util >= 90) busy++;
    });
    expect(busy / steps.length).toBeGreaterThan(0.8); // saturated: the GPU is busy in nearly every step
  }, 180_000);
});
