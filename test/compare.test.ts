import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareRuns, type CompareResult, type Difference } from "../src/analysis/compare/index.js";
import { memorySource } from "../src/tables/memory.js";
import { openTables } from "../src/tables/open.js";
import { expectGolden, ROOT, runCli } from "./helpers/golden.js";

const F = (name: string) => path.join(ROOT, "fixtures", name);
const OPTS = { resamples: 2000, seed: 1 };
const find = (r: CompareResult, metric: string, run: string, stat = "mean"): Difference => {
  const d = r.metrics.find((m) => m.name === metric)!.differences.find((x) => x.run.startsWith(run) && x.stat === stat);
  if (!d) throw new Error(`no ${stat} difference of ${metric} for ${run}`);
  return d;
};

describe("compare on the recorded A/B fixtures (vLLM 0.33.0's real scheduler)", () => {
  let r: CompareResult;
  beforeAll(async () => {
    const runs = ["ab-fcfs", "ab-isrtf-oracle", "ab-fcfs-jitter1", "ab-isrtf-learned"].map((n) => `fixtures/${n}`);
    r = await compareRuns(await Promise.all(runs.map((a) => openTables([a], { cwd: ROOT }))), OPTS);
  }, 120_000);

  it("pairs the runs by request id: the same 250 requests", () => {
    expect(r.pairing.map((p) => [p.paired, p.n_paired])).toEqual([[true, 250], [true, 250], [true, 250]]);
  });

  it("ISRTF with the oracle lowers mean JCT against FCFS, with a 95% CI that excludes 0", () => {
    const d = find(r, "jct", "fixtures/ab-isrtf-oracle");
    expect(d.value).toBeLessThan(0);
    expect(d.ci95_hi).toBeLessThan(0);
    expect(d.wilcoxon_p!).toBeLessThan(0.05);
  });

  it("the null pair (FCFS vs FCFS, other arrival jitter) gives intervals that contain 0", () => {
    for (const m of ["jct", "ttft", "tpot", "queue_time", "slowdown"]) {
      for (const stat of ["mean", "p50", "p90"]) {
        const d = find(r, m, "fixtures/ab-fcfs-jitter1", stat);
        expect(d.ci95_lo, `${m} ${stat}`).toBeLessThanOrEqual(0);
        expect(d.ci95_hi, `${m} ${stat}`).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("ISRTF starves the longest requests: their queue time rises (the cost side of SRTF)", () => {
    expect(find(r, "queue_time_longest10pct", "fixtures/ab-isrtf-oracle").ci95_lo).toBeGreaterThan(0);
  });

  it("withholds p99 at n = 250 and says so", () => {
    const jct = r.metrics.find((m) => m.name === "jct")!;
    expect(jct.runs[0].p99).toBeNull();
    expect(jct.note).toMatch(/p99 not reported: n = 250 is below 1000/);
    expect(jct.differences.some((d) => d.stat === "p99")).toBe(false);
  });

  it("the oracle's predictions are exact; the learned ones are biased and rank worse", () => {
    const [, oracle, , learned] = r.runs.map((s) => s.predictor);
    expect(r.runs[0].predictor).toBeNull();
    expect(oracle!.overall).toMatchObject({ mae: 0, bias: 0, r2: 1 });
    expect(oracle!.kendall_tau_b_all_requests.tau_b).toBe(1);
    expect(oracle!.kendall_tau_b_waiting_queue.mean_tau_b).toBe(1);
    expect(learned!.overall.bias!).toBeGreaterThan(50);
    expect(learned!.kendall_tau_b_all_requests.tau_b!).toBeLessThan(oracle!.kendall_tau_b_all_requests.tau_b!);
  });

  it("queues really formed (a policy can only help when something waits)", () => {
    for (const s of r.runs) expect(s.occupancy.share_time_queued!).toBeGreaterThan(0.5);
  });

  it("is deterministic: the same seed gives the same object", async () => {
    const again = await compareRuns([await openTables(["fixtures/ab-fcfs"], { cwd: ROOT }), await openTables(["fixtures/ab-isrtf-oracle"], { cwd: ROOT })], OPTS);
    expect(find(again, "jct", "fixtures/ab-isrtf-oracle")).toEqual(find(r, "jct", "fixtures/ab-isrtf-oracle"));
  }, 60_000);
});

describe("mismatched runs", () => {
  it("different workloads are compared unpaired, with a note naming why", async () => {
    const r = await compareRuns([await openTables(["fixtures/ab-fcfs"], { cwd: ROOT }), await openTables(["fixtures/azure-conv-chunked/vsched-1-dp0.jsonl"], { cwd: ROOT })], { resamples: 200, seed: 1 });
    expect(r.pairing[0]).toMatchObject({ paired: false, n_paired: null });
    expect(r.pairing[0].note).toMatch(/not the same requests .*compared unpaired/);
    expect(r.metrics[0].differences.every((d) => !d.paired && d.wilcoxon_p === null)).toBe(true);
  }, 60_000);

  it("a run of another output schema major is refused", async () => {
    const a = memorySource({ per_request: [], per_iteration: [] });
    const b = memorySource({ per_request: [], per_iteration: [] }, { outputSchemaVersion: "2.0", label: "new/logs" });
    await expect(compareRuns([a, b], OPTS)).rejects.toMatchObject({ code: "COMPARE_SCHEMA_MISMATCH", file: "new/logs" });
  });

  it("a run without per_iteration is refused", async () => {
    await expect(compareRuns([memorySource({ per_request: [] }), memorySource({ per_request: [] })], OPTS)).rejects.toMatchObject({ code: "COMPARE_TABLE_MISSING" });
  });
});

describe("vsched compare (golden transcripts of the built CLI)", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-compare-"));
    const r = await runCli(["convert", path.join(F("azure-conv-chunked"), "vsched-1-dp0.jsonl"), "-o", path.join(tmp, "old")]);
    expect(r.exitCode).toBe(0);
    // an older writer's per_request.csv: without the longest_wait column
    const file = path.join(tmp, "old", "per_request.csv");
    const lines = readFileSync(file, "utf8").split("\n");
    const col = lines[0].split(",").indexOf("longest_wait");
    writeFileSync(file, lines.map((l) => l && l.split(",").filter((_, i) => i !== col).join(",")).join("\n"));
  }, 60_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("text: FCFS vs ISRTF (oracle) vs the null pair", async () => {
    const r = await runCli(["compare", "fixtures/ab-fcfs", "fixtures/ab-isrtf-oracle", "fixtures/ab-fcfs-jitter1", "--slo", "e2e=60s"], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    expectGolden("test/golden/compare-text.md", r);
  }, 120_000);

  it("--json is the same object, and --html writes a self-contained page with escaped ids", async () => {
    const html = path.join(tmp, "c.html");
    const r = await runCli(["compare", "fixtures/ab-fcfs", "fixtures/ab-isrtf-noisy0.5", "--json", "--resamples", "500", "--html", html], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as CompareResult;
    expect(j.compare_format).toBe(1);
    expect(j.settings).toMatchObject({ resamples: 500, seed: 1 });
    const page = readFileSync(html, "utf8");
    expect(page).toContain("uPlot");
    expect(page).not.toMatch(/<script[^>]+src=/); // nothing loaded from elsewhere
    expect(page).not.toMatch(/<link[^>]+href=/);
    // the page's own scripts parse (uPlot and the plotting code)
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    expect(scripts.length).toBe(2);
    for (const s of scripts) expect(() => new Function(s)).not.toThrow();
  }, 120_000);

  it("one run: usage error, exit 2", async () => {
    expectGolden("test/golden/compare-one-run.md", await runCli(["compare", "fixtures/ab-fcfs"]));
  });

  it("a missing column: one line naming the run and the column, exit 2", async () => {
    const r = await runCli(["compare", "old", "old"], { cwd: tmp });
    expect(r.exitCode).toBe(2);
    expectGolden("test/golden/compare-missing-column.md", r);
  });

  it("different workloads: compared unpaired with a note", async () => {
    const r = await runCli(["compare", "fixtures/azure-conv-chunked/vsched-1-dp0.jsonl", "fixtures/aborts/vsched-1-dp0.jsonl", "--resamples", "200"], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(0);
    expectGolden("test/golden/compare-unpaired.md", r);
  }, 120_000);
});

describe("hostile request ids", () => {
  it("are escaped in the HTML page and quoted in the text", async () => {
    const { renderCompareHtml } = await import("../src/render/compare-html/index.js");
    const { renderCompareText } = await import("../src/render/compare-text.js");
    const base = await openTables(["fixtures/azure-conv-chunked/vsched-1-dp0.jsonl"], { cwd: ROOT });
    const evil = "</script><img src=x onerror=alert(1)>\u001b[31m";
    const renamed: typeof base = {
      ...base,
      info: { ...base.info, label: "<b>run</b>" },
      scan: (h) => base.scan({ ...h, per_request: h.per_request && ((row) => h.per_request!(row.request_id === "0" ? { ...row, request_id: evil } : row)) }),
    };
    const r = await compareRuns([renamed, base], { resamples: 100, seed: 1 });
    expect(r.pairing[0].example_id).toBe(evil);
    const page = renderCompareHtml(r);
    expect(page).not.toContain("<img src=x");
    expect(page).not.toContain("<b>run</b>");
    expect(page).toContain("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
    // the embedded JSON cannot end its script element
    const data = page.slice(page.indexOf('<script id="data"'), page.indexOf("</script>", page.indexOf('<script id="data"')));
    expect(data).not.toContain("</");
    const text = renderCompareText(r);
    expect(text).not.toContain("\u001b");
    expect(text).toContain('e.g. id "</script><img src=x onerror=alert(1)>?[3…"'); // printable, bounded to 40 characters
  }, 60_000);
});
