// Prints JSON for test_compare_scipy.py: vsched compare's relative-change intervals
// (src/analysis/compare/stats.ts, bundled here) on independent log-normal pairs with a known
// ratio, for scipy.stats.bootstrap to recompute. Independent data: the moving-block
// resample then draws as the i.i.d. bootstrap scipy runs, so the two must agree.
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = await build({ absWorkingDir: root, entryPoints: ["src/analysis/compare/stats.ts"], bundle: true, platform: "node", format: "esm", write: false, logLevel: "warning" });
const dir = mkdtempSync(path.join(tmpdir(), "vsched-ratio-"));
writeFileSync(path.join(dir, "stats.mjs"), out.outputFiles[0].text);
const { bootstrapCIs, rng } = await import(pathToFileURL(path.join(dir, "stats.mjs")).href);
rmSync(dir, { recursive: true, force: true });

const rand = rng(99);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const rows = [];
for (let t = 0; t < 20; t++) {
  const a = [];
  const b = [];
  for (let i = 0; i < 400; i++) {
    const x = gauss();
    const y = gauss();
    a.push(Math.exp(0.8 * x));
    b.push(0.7 * Math.exp(0.8 * (0.8 * x + 0.6 * y)));
  }
  for (const [stat, s] of [["mean", { kind: "mean" }], ["p50", { kind: "quantile", q: 0.5 }]]) {
    for (const paired of [true, false]) rows.push({ a, b, stat, paired, ratio: bootstrapCIs(a, b, s, 4000, t + 1, paired).ratio });
  }
}
process.stdout.write(JSON.stringify(rows));
