#!/usr/bin/env node
// Bundles the CLI: src/cli/main.ts → dist/cli.js (one ESM file, every dependency inside),
// convert's worker threads: src/threads/worker-main.ts → dist/convert-worker.js, and the same
// CLI run as many commands in one process: src/cli/batch.ts → dist/batch.js (for harnesses).
// The output is written to a temporary file and renamed, so a test reading dist/cli.js
// while another process rebuilds it never sees half a file.
import { build } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const outfile = path.join(root, "dist", "cli.js");

// `import text from "x?raw"` (as vite and vitest read it): the file's text, for the assets the
// HTML report inlines (uPlot, its page script), so dist/cli.js needs no file beside it.
const rawPlugin = {
  name: "raw",
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, async (args) => {
      const r = await b.resolve(args.path.slice(0, -4), { kind: "import-statement", resolveDir: args.resolveDir });
      if (r.errors.length) return { errors: r.errors };
      return { path: r.path, namespace: "raw" };
    });
    b.onLoad({ filter: /.*/, namespace: "raw" }, (args) => ({ contents: readFileSync(args.path, "utf8"), loader: "text" }));
  },
};

// dist/convert-worker.js: convert's worker threads (src/threads/worker-main.ts), found beside cli.js
// (and beside batch.js, whose converts look for it the same way)
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: "src/cli/main.ts", "convert-worker": "src/threads/worker-main.ts", batch: "src/cli/batch.ts" },
  outdir: path.dirname(outfile),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  write: false,
  logLevel: "warning",
  legalComments: "none",
  plugins: [rawPlugin],
  // loaded only by report --png and only where installed (a devDependency: tests and --png drive Chromium)
  external: ["playwright-core"],
  define: { __VSCHED_VERSION__: JSON.stringify(pkg.version) },
  // CJS dependencies (ndjson, papaparse) call require(); give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __vschedCreateRequire } from "node:module";\nconst require = __vschedCreateRequire(import.meta.url);',
  },
});

mkdirSync(path.dirname(outfile), { recursive: true });
for (const f of result.outputFiles) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
if (!process.argv.includes("--quiet")) console.error(`built ${path.relative(root, outfile)} (vsched ${pkg.version})`);
