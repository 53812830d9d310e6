#!/usr/bin/env node
// Proof that a trace-format change changed nothing a reader sees: every recorded fixture's
// trace as committed at REV (default: main) and as it is in the working tree are both
// converted with this checkout's CLI, and their tables must be byte-identical.
//
//   node scripts/check-fixture-equivalence.mjs [--rev REV] [NAME...]
//
// Run after scripts/record-fixtures.sh re-recorded the fixtures with a new emitter (the
// virtual clock makes the runs the same, so only the encoding may differ). Prints, per
// fixture, the trace bytes before and after and whether the CSVs are identical; what may
// differ in manifest.json is listed (the sources' path, bytes and sha256, and the header's
// schema_version). Exit 1 when any table differs.
//
//   node scripts/check-fixture-equivalence.mjs --base-cli DIR/bin/vsched.js [--threads N] [NAME...]
//
// Proof that an engine change changed no table: the working tree's traces converted by
// another build of vsched (a checkout of main, built) and by this checkout, compared the same way.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const revAt = argv.indexOf("--rev");
const rev = revAt === -1 ? "main" : argv[revAt + 1];
const baseAt = argv.indexOf("--base-cli");
const baseCli = baseAt === -1 ? null : path.resolve(argv[baseAt + 1]);
// --threads N: this checkout converts with `--threads N` (the other side with its default), so a
// threaded convert is held to the tables of a single-threaded one
const threadsAt = argv.indexOf("--threads");
const threads = threadsAt === -1 ? [] : ["--threads", argv[threadsAt + 1]];
const only = argv.filter((a, i) => !a.startsWith("--") && (revAt === -1 || i !== revAt + 1) && (baseAt === -1 || i !== baseAt + 1) && (threadsAt === -1 || i !== threadsAt + 1));
const cli = path.join(root, "bin", "vsched.js");
const fixtures = path.join(root, "fixtures");

const isTrace = (f) => /^vsched-.*\.jsonl(\.gz)?$/.test(path.basename(f));
function traceFiles(name) {
  const dir = path.join(fixtures, name);
  const top = readdirSync(dir).filter(isTrace);
  const sub = existsSync(path.join(dir, "trace")) ? readdirSync(path.join(dir, "trace")).filter(isTrace).map((f) => path.join("trace", f)) : [];
  return [...top, ...sub].sort();
}

function gitShow(rel) {
  const r = spawnSync("git", ["show", `${rev}:${rel}`], { cwd: root, maxBuffer: 1 << 30 });
  return r.status === 0 ? r.stdout : null;
}

function convert(files, out, by = cli) {
  const r = spawnSync(process.execPath, [by, "convert", ...files, "-o", out, ...(by === cli ? threads : [])], { encoding: "utf8" });
  if (r.status !== 0 && r.status !== 1) throw new Error(`convert ${files.join(" ")}: exit ${r.status}: ${r.stderr.trim()}`);
}

/** manifest keys whose values differ, as dotted paths */
function manifestDiff(a, b, at = "") {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return [at || "(root)"];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => manifestDiff(a[k], b[k], at ? `${at}.${Array.isArray(a) ? "[]" : k}` : k));
}

const names = readdirSync(fixtures)
  .filter((d) => existsSync(path.join(fixtures, d, "recipe.json")) && traceFiles(d).length > 0)
  .filter((d) => only.length === 0 || only.includes(d))
  .sort();
const tmp = mkdtempSync(path.join(os.tmpdir(), "vsched-equiv-"));
let failed = 0;
const manifestKeys = new Set();
let sumOld = 0;
let sumNew = 0;
console.log(baseCli ? `fixture traces converted by ${baseCli} vs this checkout` : `fixture traces at ${rev} vs the working tree, converted by this checkout`);
for (const name of names) {
  const rels = traceFiles(name);
  const oldDir = path.join(tmp, name, "old-trace");
  const oldFiles = [];
  let oldBytes = 0;
  let newBytes = 0;
  let missing = false;
  for (const rel of rels) {
    const buf = baseCli ? readFileSync(path.join(fixtures, name, rel)) : gitShow(path.posix.join("fixtures", name, rel));
    if (buf === null) {
      missing = true;
      break;
    }
    const f = path.join(oldDir, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, buf);
    oldFiles.push(f);
    oldBytes += buf.length;
    newBytes += readFileSync(path.join(fixtures, name, rel)).length;
  }
  if (missing) {
    console.log(`${name.padEnd(26)} not at ${rev}: skipped`);
    continue;
  }
  const outOld = path.join(tmp, name, "old");
  const outNew = path.join(tmp, name, "new");
  convert(oldFiles, outOld, baseCli ?? cli);
  convert(
    rels.map((r) => path.join(fixtures, name, r)),
    outNew,
  );
  const tables = readdirSync(outOld).filter((f) => f.endsWith(".csv"));
  if (readdirSync(outNew).filter((f) => f.endsWith(".csv")).length !== tables.length) tables.push("(a table missing or added)");
  const differ = tables.filter((t) => !existsSync(path.join(outNew, t)) || !readFileSync(path.join(outOld, t)).equals(readFileSync(path.join(outNew, t))));
  for (const k of manifestDiff(JSON.parse(readFileSync(path.join(outOld, "manifest.json"), "utf8")), JSON.parse(readFileSync(path.join(outNew, "manifest.json"), "utf8")))) manifestKeys.add(k);
  sumOld += oldBytes;
  sumNew += newBytes;
  const verdict = differ.length ? `DIFFER: ${differ.join(", ")}` : `${tables.length} tables identical`;
  if (differ.length) failed++;
  console.log(`${name.padEnd(26)} ${String(oldBytes).padStart(9)} B -> ${String(newBytes).padStart(9)} B (${(newBytes / oldBytes).toFixed(2)}x)  ${verdict}`);
}
console.log(`all: ${sumOld} B -> ${sumNew} B (${(sumNew / Math.max(sumOld, 1)).toFixed(2)}x); manifest.json differs only in: ${[...manifestKeys].sort().join(", ") || "nothing"}`);
rmSync(tmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
