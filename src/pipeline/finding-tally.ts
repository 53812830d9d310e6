import type { Finding } from "../core/finding.js";

/** findings listed one by one in the manifest; beyond that only counted by code */
export const MANIFEST_MAX_FINDINGS = 1000;

/**
 * Engine findings with bounded memory: every finding is counted by code and severity,
 * the first MANIFEST_MAX_FINDINGS are kept for the manifest.
 */
export class FindingTally {
  readonly listed: Finding[] = [];
  readonly byCode: Record<string, number> = {};
  total = 0;
  errors = 0;
  readonly add = (f: Finding): void => {
    this.total++;
    if (f.severity === "error") this.errors++;
    this.byCode[f.code] = (this.byCode[f.code] ?? 0) + 1;
    if (this.listed.length < MANIFEST_MAX_FINDINGS) this.listed.push(f);
  };
}
