import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runConvert } from "../src/cli/commands/convert.js";
import { columnMeta } from "../src/schema/columns.js";
import { TABLES, TABLE_NAMES, tableColumns, type TableName } from "../src/schema/tables.js";
import { openTables, type TableRow, type TableSource } from "../src/tables/index.js";
import { traceFiles } from "./helpers/fixtures.js";

/** Every row of every table, in stored order. */
async function collect(src: TableSource): Promise<Record<TableName, TableRow<TableName>[]>> {
  const out = Object.fromEntries(TABLE_NAMES.map((t) => [t, [] as TableRow<TableName>[]])) as Record<TableName, TableRow<TableName>[]>;
  await src.scan(Object.fromEntries(TABLE_NAMES.map((t) => [t, (r: TableRow<TableName>) => out[t].push(r)])));
  return out;
}

const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

describe("TableSource: a logs directory and the replay of its trace give the same typed rows", () => {
  for (const fixture of ["kv-pressure-preempt", "e2e-vllm-cpu", "priority-policy"]) {
    it(fixture, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-tables-"));
      const traces = traceFiles(fixture);
      const code = await runConvert({
        inputs: traces, out: path.join(dir, "logs"), lenient: false, versionHeader: false,
        iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, stderr: sink,
      });
      expect(code).toBe(0);
      const fromLogs = await openTables([path.join(dir, "logs")]);
      const fromTrace = await openTables(traces);
      expect(fromLogs.info.origin).toBe("logs");
      expect(fromTrace.info.origin).toBe("trace");
      expect(fromLogs.info.epochZeroNs).toBe(fromTrace.info.epochZeroNs);
      expect(fromLogs.info.sources.map((s) => s.header.dp_rank)).toEqual(fromTrace.info.sources.map((s) => s.header.dp_rank));
      const a = await collect(fromLogs);
      const b = await collect(fromTrace);
      for (const t of TABLE_NAMES) {
        expect(fromLogs.columns(t)).toEqual(tableColumns(t));
        expect(a[t].length, t).toBe(b[t].length);
        expect(a[t].length, `${t} has rows`).toBeGreaterThan(t === "per_iteration_requests" || t === "events" ? 100 : t === "predictions" ? -1 : 0); // nothing predicts in these fixtures
        const shape = TABLES[t].shape as Record<string, import("zod").ZodType>;
        for (const c of tableColumns(t)) {
          const float = columnMeta(shape[c]).kind === "float";
          for (let i = 0; i < a[t].length; i++) {
            const x = (a[t][i] as Record<string, unknown>)[c];
            const y = (b[t][i] as Record<string, unknown>)[c];
            // CSV writes floats with fixed decimals; every other kind round-trips exactly
            if (float && typeof x === "number" && typeof y === "number") expect(Math.abs(x - y), `${t}[${i}].${c}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(y)));
            else if (x !== y) expect(x, `${t}[${i}].${c}`).toEqual(y);
          }
        }
      }
    });
  }
});

describe("TableSource over Parquet output: the same typed rows as the replay", () => {
  for (const partitionBy of [null, "dp_rank"] as const) {
    it(`kv-pressure-preempt with dp-rank-1, --format parquet${partitionBy ? " --partition-by dp_rank" : ""}`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-tables-pq-"));
      const traces = [...traceFiles("kv-pressure-preempt"), ...traceFiles("dp-rank-1")];
      const code = await runConvert({
        inputs: traces, out: path.join(dir, "logs"), lenient: false, versionHeader: false, format: "parquet", partitionBy,
        iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, stderr: sink,
      });
      expect(code).toBe(0);
      const a = await collect(await openTables([path.join(dir, "logs")]));
      const b = await collect(await openTables(traces));
      for (const t of TABLE_NAMES) {
        // partitions come back grouped by rank, as the CSV rows are (rows are grouped by source)
        expect(a[t].length, t).toBe(b[t].length);
        expect(a[t], t).toEqual(b[t]);
      }
      expect(new Set(a.per_request.map((r) => (r as { dp_rank: number }).dp_rank))).toEqual(new Set([0, 1]));
    });
  }
});

describe("summary reads typed tables: a raw trace gives the same figures as its logs directory", () => {
  for (const fixture of ["e2e-vllm-cpu", "kv-pressure-preempt", "async-scheduling"]) {
    it(fixture, async () => {
      const { computeSummary } = await import("../src/analysis/summary/index.js");
      const dir = mkdtempSync(path.join(os.tmpdir(), "vsched-sum-"));
      const traces = traceFiles(fixture);
      await runConvert({
        inputs: traces, out: path.join(dir, "logs"), lenient: false, versionHeader: false,
        iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true, quiet: true, stderr: sink,
      });
      const a = await computeSummary(await openTables([path.join(dir, "logs")]), { slo: { ttft_ns: 2e9 } });
      const b = await computeSummary(await openTables(traces), { slo: { ttft_ns: 2e9 } });
      expect(a.requests.completed).toBeGreaterThan(0);
      expect(a.latency.itl?.count ?? 0).toBeGreaterThan(0);
      expect(b).toEqual(a);
    });
  }
});
