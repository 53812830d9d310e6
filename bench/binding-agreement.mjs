#!/usr/bin/env node
// Agreement of waiting_reason and binding_limits with the counterfactual oracle
// (counterfactual.jsonl, recorded by scripts/record-fixtures.sh for the cf-* fixtures):
// per fixture and per label. Binding limits: exact set match; waiting_reason: exact and
// compatible (docs/waiting-reasons.md, "Binding limits").
//
// usage: node bench/binding-agreement.mjs [--disagreements N] [--fixtures DIR] [FIXTURE...]
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let show = 0;
let fixtures = path.join(root, "fixtures");
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--disagreements") show = Number(args[++i]);
  else if (args[i] === "--fixtures") fixtures = path.resolve(args[++i]);
  else names.push(args[i]);
}
const out = await build({
  absWorkingDir: root,
  entryPoints: ["bench/binding-agreement-main.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  write: false,
  logLevel: "warning",
  define: { __VSCHED_VERSION__: '"bench"' },
  banner: { js: 'import { createRequire as __cr } from "node:module";\nconst require = __cr(import.meta.url);' },
});
const dir = mkdtempSync(path.join(tmpdir(), "vsched-agreement-"));
const file = path.join(dir, "main.mjs");
writeFileSync(file, out.outputFiles[0].text);
try {
  const mod = await import(pathToFileURL(file).href);
  await mod.main(fixtures, names, show);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
