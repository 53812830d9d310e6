// Regenerates docs/tables.md and the code tables of docs/validate.md from their declarations
// (src/schema/tables.ts, src/core/codes.ts), bundled on the fly with esbuild.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
const res = await build({
  stdin: {
    contents: 'export { tablesMarkdown } from "./src/render/tables-doc.ts"; export { validateDocWithCodes } from "./src/render/codes-doc.ts";',
    resolveDir: process.cwd(),
    loader: "ts",
  },
  bundle: true, platform: "node", format: "esm", write: false, logLevel: "warning",
});
const url = "data:text/javascript;base64," + Buffer.from(res.outputFiles[0].text).toString("base64");
const { tablesMarkdown, validateDocWithCodes } = await import(url);
writeFileSync("docs/tables.md", tablesMarkdown());
writeFileSync("docs/validate.md", validateDocWithCodes(readFileSync("docs/validate.md", "utf8")));
console.log("wrote docs/tables.md, docs/validate.md");
