import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./helpers/golden.js";

/**
 * `vsched simulate --scheduler-cls` (issue 17 §5): a recorded workload replayed through a
 * researcher's own vLLM Scheduler subclass (examples/policies/sjf.py, shortest job first by
 * max_tokens; an AsyncScheduler subclass, as async scheduling needs). The checks read the simulated trace itself (plain format), not vsched's tables:
 * vLLM's real scheduler ran the subclass, every admission took the shortest waiting jobs, and
 * mean job time fell against FCFS on the same clock. Needs the harness venv
 * (emitter/scripts/vllm_env.sh 0.33.0).
 */
// a real H100 run: every request asked for its own output length (max_tokens), async scheduling,
// max_num_seqs 64 with a queue
const RECORDED = path.join("fixtures", "h100-s64-a");
const COST = "linear:alpha=0.02,beta_prefill=0.0001,beta_decode=0.0003,per_req=0.0005";

interface Rec { type: string; req?: string; t?: number; max_tokens?: number; new?: [string, number][]; resumed?: [string, number][]; preempted?: string[]; from?: string; finished?: [string, string, number][]; tokens?: [string, number][] }

async function simulate(extra: string[]): Promise<{ out: string; stdout: string; records: Rec[] }> {
  const out = mkdtempSync(path.join(os.tmpdir(), "vsched-policy-"));
  const r = await runCli(["simulate", RECORDED, "--cost", COST, "-o", out, ...extra], { timeoutMs: 300_000, env: { VLLM_SCHEDULER_LOG_FORMAT: "plain" } });
  if (r.exitCode !== 0) throw new Error(`simulate exited ${r.exitCode}: ${r.stderr}`);
  const records = readFileSync(path.join(out, "trace", "vsched-1-dp0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Rec);
  return { out, stdout: r.stdout, records };
}

/** Per step: the longest job admitted and the shortest job left waiting (jobs by max_tokens). */
function admissionViolations(records: Rec[]): number {
  const maxTok = new Map<string, number>();
  const waiting = new Set<string>();
  let violations = 0;
  for (const r of records) {
    if (r.type === "arrival") {
      maxTok.set(r.req!, r.max_tokens!);
      waiting.add(r.req!);
    } else if (r.type === "step") {
      const admitted = [...(r.new ?? []), ...(r.resumed ?? [])].map(([id]) => id);
      for (const id of admitted) waiting.delete(id);
      if (admitted.length && waiting.size) {
        const longestIn = Math.max(...admitted.map((id) => maxTok.get(id)!));
        const shortestLeft = Math.min(...[...waiting].map((id) => maxTok.get(id)!));
        if (longestIn > shortestLeft) violations++;
      }
      for (const id of r.preempted ?? []) waiting.add(id);
    } else if (r.type === "finish" && r.from === "waiting") waiting.delete(r.req!);
  }
  return violations;
}

function meanJobTimeS(records: Rec[]): number {
  const arrived = new Map<string, number>();
  const times: number[] = [];
  for (const r of records) {
    if (r.type === "arrival") arrived.set(r.req!, r.t!);
    if (r.type === "update") for (const [id] of r.finished ?? []) times.push((r as unknown as { t_start: number }).t_start - arrived.get(id)!);
  }
  return times.reduce((a, b) => a + b, 0) / times.length / 1e9;
}

describe("simulate --scheduler-cls: a researcher's own scheduler subclass", () => {
  it("runs the subclass in vLLM's scheduler: shortest jobs admitted first, mean job time below FCFS on the same clock", async () => {
    const [fcfs, sjf] = [await simulate([]), await simulate(["--scheduler-cls", "examples.policies.sjf:AsyncSJFScheduler"])];
    const header = sjf.records[0] as unknown as { config: { scheduler_class: string } };
    expect(header.config.scheduler_class).toBe("examples.policies.sjf.AsyncSJFScheduler");
    expect(sjf.stdout).toContain("scheduler examples.policies.sjf:AsyncSJFScheduler");
    expect(admissionViolations(sjf.records)).toBe(0);
    expect(admissionViolations(fcfs.records), "FCFS on this queueing workload does admit longer jobs first").toBeGreaterThan(10);
    expect(meanJobTimeS(sjf.records)).toBeLessThan(meanJobTimeS(fcfs.records) * 0.95);
    // the A/B a researcher runs next
    const cmp = await runCli(["compare", path.join(fcfs.out, "logs"), path.join(sjf.out, "logs"), "--json"], { timeoutMs: 120_000 });
    expect(cmp.exitCode, cmp.stderr).toBe(0);
  }, 600_000);

  async function refused(cls: string) {
    const out = mkdtempSync(path.join(os.tmpdir(), "vsched-policy-"));
    const r = await runCli(["simulate", RECORDED, "--cost", COST, "-o", out, "--scheduler-cls", cls], { timeoutMs: 300_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    return r.stderr;
  }

  it("refuses a synchronous Scheduler subclass under async scheduling (vLLM #43724), in one line", async () => {
    expect(await refused("examples.policies.sjf:SJFScheduler")).toContain("AsyncScheduler");
  }, 300_000);

  it("refuses a class that is not a vLLM Scheduler, in one line naming it", async () => {
    expect(await refused("examples.policies.sjf:job_length")).toContain("examples.policies.sjf:job_length");
  }, 300_000);
});
void ROOT;
