#!/usr/bin/env node
// docs/report.png: the first screen of `vsched report` on the bundled real trace, as the
// README shows it. Needs Chromium (scripts/setup-browser.sh) and a built CLI.
//   node scripts/report-screenshot.mjs [out.png]
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.resolve(process.argv[2] ?? path.join(root, "docs", "report.png"));
const html = path.join(mkdtempSync(path.join(os.tmpdir(), "vsched-shot-")), "report.html");
execFileSync(process.execPath, [path.join(root, "bin", "vsched.js"), "report", "fixtures/e2e-vllm-cpu/trace", "-o", html], { cwd: root, stdio: "inherit" });
const browser = await chromium.launch({
  executablePath: process.env.VSCHED_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`file://${html}`);
await page.waitForSelector("body[data-ready]");
await page.screenshot({ path: out });
await browser.close();
console.error(`wrote ${path.relative(process.cwd(), out)}`);
