import { existsSync } from "node:fs";
import { InputError } from "../../core/errors.js";

/** Where Chromium is looked for: $VSCHED_CHROMIUM, then Debian's and Ubuntu's paths. */
export const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** A headless browser that cannot reach the network or phone home. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function findChromium(env: Record<string, string | undefined> = process.env): string | null {
  const candidates = env.VSCHED_CHROMIUM ? [env.VSCHED_CHROMIUM] : CHROMIUM_PATHS;
  return candidates.find((p) => existsSync(p)) ?? null;
}

type Playwright = typeof import("playwright-core");

/** Chromium's path, or one actionable error (exit 2): checked before any work is done. */
export function requireChromium(what: string): string {
  const exe = findChromium();
  if (!exe) {
    throw new InputError(
      `${what} needs Chromium, not found at ${process.env.VSCHED_CHROMIUM ?? CHROMIUM_PATHS.join(", ")}: install it with 'sudo apt-get install chromium' (Debian/Ubuntu; scripts/setup-browser.sh does it) or set VSCHED_CHROMIUM=/path/to/chrome`,
      "REPORT_CHROMIUM_MISSING",
    );
  }
  return exe;
}

/** playwright-core driving that Chromium, or one actionable error (exit 2). */
export async function launchChromium(what: string): Promise<import("playwright-core").Browser> {
  const exe = requireChromium(what);
  let pw: Playwright;
  try {
    pw = (await import("playwright-core")) as Playwright;
  } catch {
    throw new InputError(`${what} drives Chromium with the npm package playwright-core: install it with 'npm install playwright-core'`, "REPORT_PLAYWRIGHT_MISSING");
  }
  return pw.chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS });
}
