/**
 * `vsched report` in a real browser (Debian's Chromium driven by playwright-core) on traces
 * recorded from vLLM's real scheduler: the page loads with no console error and no network
 * request, every chart exists with its series and its point count before downsampling, the
 * numbers shown are the ones `vsched summary --json` prints, zoom is shared, and a request
 * chosen in the table shows its lane. Expected values come from the converted CSVs and the
 * summary command, never from the report's own code.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cli, fixture, get, launch, openReport, q7, readCsv, tmpDir } from "./helpers.js";

interface Case {
  name: string;
  traces: string[];
  ranks: number;
}

const CASES: Case[] = [
  { name: "e2e-vllm-cpu (real vllm serve)", traces: [fixture("e2e-vllm-cpu", "trace")], ranks: 1 },
  { name: "kv-pressure-preempt (preemption)", traces: [fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl")], ranks: 1 },
  { name: "priority-policy (priority)", traces: [fixture("priority-policy", "vsched-1-dp0.jsonl")], ranks: 1 },
  { name: "two ranks (kv-pressure-preempt dp0 + dp-rank-1 dp1)", traces: [fixture("kv-pressure-preempt", "vsched-1-dp0.jsonl"), fixture("dp-rank-1", "vsched-1-dp1.jsonl")], ranks: 2 },
];

interface Prepared {
  html: string;
  summary: Record<string, unknown>;
  iterations: Record<string, unknown>[];
  requests: Record<string, unknown>[];
  iterationRequests: Record<string, unknown>[];
}

let browser: Browser;
const prepared = new Map<string, Prepared>();

beforeAll(async () => {
  browser = await launch();
  const tmp = tmpDir();
  for (const [i, c] of CASES.entries()) {
    const html = path.join(tmp, `r${i}.html`);
    const logs = path.join(tmp, `logs${i}`);
    await cli(["report", ...c.traces, "-o", html]);
    await cli(["convert", ...c.traces, "-o", logs]);
    const summary = JSON.parse(await cli(["summary", logs, "--json"])) as Record<string, unknown>;
    prepared.set(c.name, {
      html,
      summary,
      iterations: readCsv(path.join(logs, "per_iteration.csv")),
      requests: readCsv(path.join(logs, "per_request.csv")),
      iterationRequests: readCsv(path.join(logs, "per_iteration_requests.csv")),
    });
  }
}, 300_000);

afterAll(async () => {
  await browser?.close();
});

const nums = (rows: Record<string, unknown>[], col: string): number[] => rows.map((r) => r[col]).filter((v): v is number => typeof v === "number");

describe.each(CASES)("$name", (c) => {
  test("loads with no console error and no network request; every chart has its series and points", async () => {
    const p = prepared.get(c.name)!;
    const { page, problems, requests } = await openReport(browser, p.html);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    const charts = await page.$$eval("[data-chart]", (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute("data-chart"), { series: Number(e.getAttribute("data-series")), drawn: Number(e.getAttribute("data-drawn-series")), points: Number(e.getAttribute("data-points")), shown: Number(e.getAttribute("data-shown")) }])),
    );
    const rank0 = p.iterations.filter((r) => r.dp_rank === 0);
    const causes0 = new Set(p.iterationRequests.filter((r) => r.dp_rank === 0 && (r.state === "waiting" || r.state === "preempted")).map((r) => r.waiting_reason));
    const completed = p.requests.filter((r) => ["stop", "length", "repetition"].includes(String(r.finish_reason)));
    const expected: Record<string, [number, number]> = {
      timing: [2, rank0.length],
      "prefill-decode": [2, rank0.length],
      tokens: [1, rank0.length],
      kv: [1, rank0.length],
      queues: [2, rank0.length],
      marks: [3, rank0.length],
      "waiting-causes": [causes0.size, rank0.length],
      "ttft-cdf": [1, completed.length],
      "ttft-hist": [1, completed.length],
      "tpot-cdf": [1, nums(completed, "tpot").length],
      "tpot-hist": [1, nums(completed, "tpot").length],
      "queue-cdf": [1, completed.length],
      "queue-hist": [1, completed.length],
      "e2e-cdf": [1, completed.length],
      "e2e-hist": [1, completed.length],
      "schedule-hist": [1, p.iterations.length],
      "model-run-hist": [1, nums(p.iterations, "forward_duration").length],
      scatter: [1, nums(p.iterations, "forward_duration").length],
      "service-rate": [1, completed.filter((r) => (r.e2e_latency as number) > 0).length],
    };
    for (const [id, [series, points]] of Object.entries(expected)) {
      expect(charts[id], id).toBeDefined();
      expect([charts[id].series, charts[id].drawn, charts[id].points], id).toEqual([series, series, points]);
    }
    // small runs are drawn whole; the downsampler never draws more than 2 points per bucket
    for (const id of ["timing", "kv", "queues", "waiting-causes"]) expect(charts[id].shown, id).toBe(Math.min(rank0.length, 2400));
    expect(charts.trajectories.series).toBeGreaterThan(0);
    await page.close();
  });

  test("the numbers shown are summary --json's; the seed-002 extras match the CSVs", async () => {
    const p = prepared.get(c.name)!;
    const { page } = await openReport(browser, p.html);
    const figs = await page.$$eval("[data-src]", (els) => els.map((e) => ({ src: e.getAttribute("data-src"), key: e.getAttribute("data-key")!, value: JSON.parse(e.getAttribute("data-value")!) as unknown, text: e.textContent })));
    const fromSummary = figs.filter((f) => f.src === "summary");
    expect(fromSummary.length).toBeGreaterThan(40);
    for (const f of fromSummary) {
      expect(f.value, f.key).toEqual(get(p.summary, f.key));
      if (f.value !== null) expect(f.text, f.key).not.toBe("–");
    }
    const st = Object.fromEntries(figs.filter((f) => f.src === "statistics").map((f) => [f.key, f.value as number]));
    const sched = nums(p.iterations, "scheduling_overhead");
    const fwd = nums(p.iterations, "forward_duration");
    expect(st["schedule_ns.min"]).toBe(Math.min(...sched));
    expect(st["schedule_ns.max"]).toBe(Math.max(...sched));
    expect(st["schedule_ns.p95"]).toBeCloseTo(q7(sched, 0.95), 6);
    expect(st["model_run_ns.p95"]).toBeCloseTo(q7(fwd, 0.95), 6);
    const timed = p.iterations.filter((r) => typeof r.duration === "number");
    const tokensPerS = timed.reduce((a, r) => a + (r.total_tokens as number), 0) / (timed.reduce((a, r) => a + (r.duration as number), 0) / 1e9);
    expect(st.scheduled_tokens_per_s).toBeCloseTo(tokensPerS, 6);
    const decoding = p.iterations.filter((r) => (r.num_decode_reqs as number) > 0);
    const chunk = decoding.map((r) => (r.decode_tokens as number) / (r.num_decode_reqs as number));
    expect(st["decode_chunks.min_tokens"]).toBeCloseTo(Math.min(...chunk), 6);
    expect(st["decode_chunks.max_tokens"]).toBeCloseTo(Math.max(...chunk), 6);
    await page.close();
  });

  test("a request chosen in the sorted table shows its lane with its states and queue positions", async () => {
    const p = prepared.get(c.name)!;
    const { page, problems } = await openReport(browser, p.html);
    await page.click('#requests-table th[data-col="waiting"]'); // longest waits first
    const first = page.locator("#requests-table tbody tr").first();
    const row = await first.getAttribute("data-row");
    const id = await first.locator("td.id").getAttribute("title");
    await first.click();
    const lane = page.locator('#lane [data-chart="lane"]');
    await lane.waitFor();
    expect(await lane.getAttribute("data-request-row")).toBe(row);
    expect(await page.locator("#lane-id").textContent()).toBe(id);
    const codes = JSON.parse((await lane.getAttribute("data-segment-codes"))!) as string[];
    // its waiting causes in per_iteration_requests are exactly the lane's waiting colours
    const mine = p.iterationRequests.filter((r) => String(r.request_id) === id);
    const causes = new Set(mine.filter((r) => r.state === "waiting" || r.state === "preempted").map((r) => String(r.waiting_reason)));
    const laneCauses = new Set(codes.filter((k) => !["prefill", "decode", "running_unscheduled"].includes(k)));
    if ((await lane.getAttribute("data-compacted")) === "true") {
      // a compacted lane keeps the causes that cover most of its spans: a subset, never an invented one
      expect(codes.length).toBeLessThanOrEqual(32);
      for (const k of laneCauses) expect(causes).toContain(k);
    } else expect(laneCauses).toEqual(causes);
    expect(codes).toContain("decode");
    const positions = mine.filter((r) => typeof r.queue_position === "number").length;
    expect(Number(await lane.getAttribute("data-queue-points"))).toBeGreaterThan(positions > 0 ? 0 : -1);
    expect(Number(await lane.getAttribute("data-queue-points"))).toBeLessThanOrEqual(positions);
    expect(problems).toEqual([]);
    await page.close();
  });

  test("zooming one time chart zooms them all", async () => {
    const p = prepared.get(c.name)!;
    const { page } = await openReport(browser, p.html);
    const over = page.locator('[data-chart="kv"] .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const ranges = await page.evaluate(() => (window as unknown as { vschedReport: { groups: { time: { scales: { x: { min: number; max: number } } }[] } } }).vschedReport.groups.time.map((u) => [u.scales.x.min, u.scales.x.max]));
    expect(ranges.length).toBeGreaterThanOrEqual(4);
    for (const r of ranges) expect(r).toEqual(ranges[0]);
    await page.close();
  });

  if (c.ranks > 1) {
    test("a rank selector switches the step charts to the other rank", async () => {
      const p = prepared.get(c.name)!;
      const { page, problems } = await openReport(browser, p.html);
      expect(await page.locator("#rank-select option").count()).toBe(c.ranks);
      await page.selectOption("#rank-select", "1");
      const rank1 = p.iterations.filter((r) => r.dp_rank === 1).length;
      expect(await page.locator('[data-chart="timing"]').getAttribute("data-points")).toBe(String(rank1));
      expect(await page.locator('[data-chart="kv"]').getAttribute("data-points")).toBe(String(rank1));
      expect(problems).toEqual([]);
      await page.close();
    });
  }
});

describe("hostile request ids (fixture hostile-ids, recorded through the harness)", () => {
  const ids = readFileSync(fixture("data", "hostile-request-ids.jsonl.gz"));
  test("render as text, run nothing, and the page stays usable", async () => {
    const { gunzipSync } = await import("node:zlib");
    const all = gunzipSync(ids).toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as string);
    const tmp = tmpDir();
    const html = path.join(tmp, "hostile.html");
    await cli(["report", fixture("hostile-ids", "vsched-1-dp0.jsonl.gz"), "-o", html]);
    // the only closing script tags in the file are the page's own three
    expect(readFileSync(html, "utf8").match(/<\/script/gi)?.length).toBe(3);
    const { page, problems, requests } = await openReport(browser, html);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.locator("img").count()).toBe(0);
    const titles = await page.locator("#requests-table td.id").evaluateAll((tds) => tds.map((td) => td.getAttribute("title")));
    for (const id of all.slice(0, 3)) expect(titles).toContain(id);
    const long = all[3];
    expect(long.length).toBe(1_000_000);
    const row = page.locator("#requests-table tbody tr").filter({ hasText: "</SCRIPT LLLL" });
    expect(await row.locator("td.id").textContent()).toMatch(/^<\/SCRIPT L+… \(1,000,000 chars\)$/);
    await row.click();
    await page.locator('#lane [data-chart="lane"]').waitFor();
    expect(await page.locator("#lane-id").textContent()).toBe(long);
    // still usable: sorting and choosing another request work
    await page.click('#requests-table th[data-col="e2e"]');
    await page.locator("#requests-table tbody tr").first().click();
    expect(await page.locator("#lane-id").textContent()).not.toBe(long);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });
});
