#!/usr/bin/env node
// Coverage of `vsched compare`'s 95% intervals (src/analysis/compare/stats.ts), both the
// difference and the relative change (bootstrapped as B/A - 1 per resample), on synthetic
// runs whose truth is known: log-normal latencies (sigma 0.8, skewed like JCTs) over an
// AR(1) series (arrival-ordered neighbours correlated, as queueing makes them), B = A's
// distribution scaled by 1 + delta, so the true ratio of the mean and of every quantile is
// exactly 1 + delta. Paired: B shares A's series (rho 0.8); unpaired: B is independent.
// Figures, not assertions (docs/compare.md quotes them; test/compare-stats.test.ts asserts
// a floor on one cell of each).
//
// usage: node bench/compare-coverage.mjs [--runs 300] [--resamples 1000]
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg("--runs", 300);
const RESAMPLES = arg("--resamples", 1000);

const out = await build({ absWorkingDir: root, entryPoints: ["src/analysis/compare/stats.ts"], bundle: true, platform: "node", format: "esm", target: "node20", write: false, logLevel: "warning" });
const dir = mkdtempSync(path.join(tmpdir(), "vsched-coverage-"));
const file = path.join(dir, "stats.mjs");
writeFileSync(file, out.outputFiles[0].text);
const { bootstrapCIs, rng } = await import(pathToFileURL(file).href);
rmSync(dir, { recursive: true, force: true });

const SIGMA = 0.8;
const RHO = 0.8;
const DELTA = -0.3;
const Z = { mean: null, p50: 0, p90: 1.2815515655446004 };

/** A stationary AR(1) series of unit variance. */
function ar1(n, phi, rand) {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const s = Math.sqrt(1 - phi * phi);
  const x = [gauss()];
  for (let i = 1; i < n; i++) x.push(phi * x[i - 1] + s * gauss());
  return x;
}

function experiment(n, phi, paired, statName) {
  const stat = statName === "mean" ? { kind: "mean" } : { kind: "quantile", q: statName === "p50" ? 0.5 : 0.9 };
  const aTrue = statName === "mean" ? Math.exp((SIGMA * SIGMA) / 2) : Math.exp(SIGMA * Z[statName]);
  const trueDiff = DELTA * aTrue;
  const rand = rng(1000 * n + Math.round(100 * phi) + (paired ? 7 : 0) + statName.length);
  let diffCov = 0;
  let ratioCov = 0;
  let ratioDefined = 0;
  let belowMinus100 = 0;
  for (let t = 0; t < RUNS; t++) {
    const x = ar1(n, phi, rand);
    const y = ar1(n, phi, rand);
    const a = x.map((v) => Math.exp(SIGMA * v));
    const b = paired ? x.map((v, i) => (1 + DELTA) * Math.exp(SIGMA * (RHO * v + Math.sqrt(1 - RHO * RHO) * y[i]))) : y.map((v) => (1 + DELTA) * Math.exp(SIGMA * v));
    const ci = bootstrapCIs(a, b, stat, RESAMPLES, t + 1, paired);
    if (ci.diff.lo <= trueDiff && trueDiff <= ci.diff.hi) diffCov++;
    if (ci.ratio) {
      ratioDefined++;
      if (ci.ratio.lo <= DELTA && DELTA <= ci.ratio.hi) ratioCov++;
      if (ci.ratio.lo < -1) belowMinus100++;
    }
  }
  return { diff: diffCov / RUNS, ratio: ratioCov / Math.max(1, ratioDefined), belowMinus100 };
}

console.log(`coverage of the 95% intervals, ${RUNS} synthetic runs each, ${RESAMPLES} resamples, true change ${DELTA * 100}%`);
console.log("| pairing | n | AR(1) phi | stat | difference | relative (ratio) | ratio lo < -100% |");
console.log("|---|---|---|---|---|---|---|");
for (const paired of [true, false]) {
  for (const phi of [0, 0.3, 0.5]) {
    for (const n of [100, 250]) {
      for (const s of ["mean", "p50", "p90"]) {
        const r = experiment(n, phi, paired, s);
        const f = (x) => `${(x * 100).toFixed(1)}%`;
        console.log(`| ${paired ? "paired" : "unpaired"} | ${n} | ${phi} | ${s} | ${f(r.diff)} | ${f(r.ratio)} | ${r.belowMinus100} |`);
      }
    }
  }
}
