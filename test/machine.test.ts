import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, runCliOk } from "./helpers/golden.js";

/**
 * Which machine a recording ran on (trace schema 1.7: header.gpu_stats.devices[].uuid and
 * header.host_cpu.model, written by the emitter's machine.py), through convert, summary and
 * calibrate. The traces are fixtures/known-linear's (vLLM's scheduler on the CPU harness) with
 * the header of a run on a GPU machine put in its place, as the emitter writes it there.
 */
const SOURCE = "fixtures/known-linear/vsched-1-dp0.jsonl";

function onMachine(dir: string, name: string, uuid: string, cpu: string): string {
  const [first, ...rest] = readFileSync(SOURCE, "utf8").split("\n");
  const h = JSON.parse(first);
  h.schema_version = "1.7";
  h.gpu_stats = { interval_ns: 100_000_000, devices: [{ index: 0, name: "NVIDIA H100 80GB HBM3", memory_total_bytes: 85520809984, uuid }] };
  h.host_cpu = { schedstat: true, pressure: true, cpus: 16, model: cpu };
  const out = path.join(dir, `${name}.jsonl`);
  writeFileSync(out, [JSON.stringify(h), ...rest].join("\n"));
  return out;
}

describe("the machine a run had", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-machine-"));
  const xeon = "Intel(R) Xeon(R) Platinum 8480+";
  const a = onMachine(dir, "a", "GPU-5d8c3a1e-aaaa", xeon);
  const again = onMachine(dir, "again", "GPU-5d8c3a1e-aaaa", xeon);
  const b = onMachine(dir, "b", "GPU-0b7e2f94-bbbb", "AMD EPYC 9654");

  it("validates, and summary names the GPU and the host CPU, from the trace and from its converted logs", async () => {
    expect((await runCli(["validate", a])).exitCode).toBe(0);
    const logs = path.join(dir, "logs-a");
    await runCliOk(["convert", a, "-o", logs]);
    for (const run of [a, logs]) {
      expect(await runCliOk(["summary", run])).toContain(`Machine: GPU NVIDIA H100 80GB HBM3 GPU-5d8c3a1e-aaaa; host CPU ${xeon}\n`);
      expect(JSON.parse(await runCliOk(["summary", run, "--json"])).machine).toEqual({ gpus: [{ name: "NVIDIA H100 80GB HBM3", uuid: "GPU-5d8c3a1e-aaaa" }], cpu_model: xeon });
    }
    // a trace from before 1.7 names none
    expect(JSON.parse(await runCliOk(["summary", SOURCE, "--json"])).machine).toBeNull();
    expect(await runCliOk(["summary", SOURCE])).not.toContain("Machine:");
  });

  it("calibrate says whether two recordings had the same GPU, and says nothing where one does not name it", async () => {
    const same = JSON.parse(await runCliOk(["calibrate", a, again, "--json"]));
    expect(same.machines.same_gpus).toBe(true);
    expect(await runCliOk(["calibrate", a, again])).toContain(`machines: the same GPU (GPU-5d8c3a1e-aaaa), host CPU ${xeon} in both\n`);
    const other = await runCliOk(["calibrate", a, b]);
    expect(other).toContain(`machines: other GPUs (GPU-5d8c3a1e-aaaa -> GPU-0b7e2f94-bbbb); host CPUs ${xeon} -> AMD EPYC 9654\n`);
    const unknown = JSON.parse(await runCliOk(["calibrate", a, SOURCE, "--json"]));
    expect(unknown.machines).toMatchObject({ simulated: null, same_gpus: null });
    expect(await runCliOk(["calibrate", a, SOURCE])).not.toContain("machines:");
    const table = await runCliOk(["calibrate", a, again, a, b, a, SOURCE]);
    // rows follow the title and the column line: label, paired, six figures, the share of same steps, GPU
    const gpuColumn = table.split("\n").slice(2, 5).map((l) => l.trim().split(/\s+/)[8]);
    expect(gpuColumn).toEqual(["same", "other", "-"]);
    // without a pair that names both GPUs, no GPU column
    expect((await runCliOk(["calibrate", a, SOURCE, SOURCE, SOURCE])).split("\n")[1]).not.toMatch(/GPU\s/);
  });
});
