// Regenerates docs/tables.md from the zod declarations (bundled on the fly with esbuild).
import { build } from "esbuild";
import { writeFileSync } from "node:fs";
const res = await build({
  stdin: { contents: 'export { tablesMarkdown } from "./src/render/tables-doc.ts";', resolveDir: process.cwd(), loader: "ts" },
  bundle: true, platform: "node", format: "esm", write: false, logLevel: "warning",
});
const url = "data:text/javascript;base64," + Buffer.from(res.outputFiles[0].text).toString("base64");
const { tablesMarkdown } = await import(url);
writeFileSync("docs/tables.md", tablesMarkdown());
console.log("wrote docs/tables.md");
