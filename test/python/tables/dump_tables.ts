// Writes every row the TypeScript TableSource yields for a logs directory, one JSON array per
// row in the table's stored column order, to <out>/<table>.jsonl: the reference the Python
// loader (vsched_emitter.tables) is compared with in test_loader.py.
// Usage (bundled by the test with esbuild): node dump_tables.js LOGS OUT [LOGS OUT ...]
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openLogsDir } from "../../../src/tables/index.js";
import { TABLE_NAMES, type TableName } from "../../../src/schema/tables.js";

const args = process.argv.slice(2);
for (let i = 0; i + 1 < args.length; i += 2) {
  const [logs, out] = [args[i], args[i + 1]];
  const source = await openLogsDir(logs);
  mkdirSync(out, { recursive: true });
  const lines = new Map<TableName, string[]>();
  const handlers: Record<string, (row: Record<string, unknown>) => void> = {};
  for (const t of TABLE_NAMES) {
    const columns = source.columns(t);
    if (!columns) continue;
    const rows: string[] = [];
    lines.set(t, rows);
    handlers[t] = (row) => rows.push(JSON.stringify(columns.map((c) => row[c] ?? null)));
  }
  await source.scan(handlers);
  for (const [t, rows] of lines) {
    writeFileSync(path.join(out, `${t}.jsonl`), rows.map((r) => r + "\n").join(""));
    writeFileSync(path.join(out, `${t}.columns.json`), JSON.stringify(source.columns(t)));
  }
}
