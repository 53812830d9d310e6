import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where dist/convert-worker.js is. From the bundle (dist/cli.js) it is the file beside it;
 * from the TypeScript sources (vitest) it is the built one in the checkout's dist/, which
 * test/global-setup.ts builds before any test runs (Node cannot start a .ts worker).
 */
export function convertWorkerPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, "convert-worker.js");
  if (existsSync(beside)) return beside;
  const built = path.resolve(here, "..", "..", "dist", "convert-worker.js");
  if (existsSync(built)) return built;
  throw new Error(`convert's worker script is missing (looked for ${beside} and ${built}): run npm run build, or use --threads 1`);
}
