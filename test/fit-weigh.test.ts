import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, runCliOk } from "./helpers/golden.js";

/**
 * fit --weigh (how a pooled fit counts its runs). Known answers that need no reference: a run
 * passed twice under "configs" is one configuration whose steps count alike, so the pool equals
 * the run passed once; and two copies of one run weighed as one group equal that run alone.
 * test/python/reference checks the weights themselves against statsmodels' WLS.
 */
const trace = (name: string) => path.join("fixtures", name, "vsched-1-dp0.jsonl");
const KV = trace("kv-pressure-preempt"), AZ = trace("azure-conv-chunked");

interface Fit {
  beta: { weigh: string; weigh_groups: number[]; models: { id: string; exported_terms: { term: string; coef: number }[] }[] };
}
const fit = async (...args: string[]): Promise<Fit> => JSON.parse(await runCliOk(["fit", ...args, "--json"], { timeoutMs: 300_000 }));
const coefs = (f: Fit, id: string) => f.beta.models.find((m) => m.id === id)!.exported_terms.map((t) => t.coef);

function expectSameCoefs(a: number[], b: number[]) {
  expect(a.length).toBe(b.length);
  const scale = Math.max(...b.map(Math.abs));
  a.forEach((c, j) => expect(Math.abs(c - b[j]), `term ${j}: ${c} vs ${b[j]}`).toBeLessThan(1e-7 * scale));
}

describe("fit --weigh", () => {
  it("configs is the default: a run passed twice is one configuration, and the pool equals each run once weighed alike", async () => {
    const twice = await fit(KV, "--with", AZ, "--with", AZ);
    expect(twice.beta.weigh).toBe("configs");
    expect(twice.beta.weigh_groups).toEqual([0, 1, 1]);
    const once = await fit(KV, "--with", AZ, "--weigh", "runs");
    expect(once.beta.weigh_groups).toEqual([0, 1]);
    for (const id of ["tokens/ols", "gpu/ols", "context/ols"]) expectSameCoefs(coefs(twice, id), coefs(once, id));
    // and weighing steps is another fit (the check can tell them apart)
    const steps = await fit(KV, "--with", AZ, "--with", AZ, "--weigh", "steps");
    expect(Math.abs(coefs(steps, "tokens/ols")[0] - coefs(once, "tokens/ols")[0])).toBeGreaterThan(1e-4 * Math.abs(coefs(once, "tokens/ols")[0]));
  }, 600_000);

  it("two copies of one run are one group: the fit of the run alone", async () => {
    const pair = await fit(AZ, "--with", AZ);
    expect(pair.beta.weigh_groups).toEqual([0, 0]);
    const alone = await fit(AZ);
    for (const id of ["tokens/ols", "context/ols"]) expectSameCoefs(coefs(pair, id), coefs(alone, id));
  }, 600_000);

  it("an unknown --weigh is a usage error on one line", async () => {
    const r = await runCli(["fit", AZ, "--weigh", "requests"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--weigh: expected one of configs, runs, steps, got 'requests'");
  });
});
