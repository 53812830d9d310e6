import { pairingKeys } from "../client-ids.js";
import type { RequestFacts, RunData } from "./collect.js";

/**
 * Two runs are paired when they served the same requests: the same set of client request ids
 * (vLLM's random suffix dropped, a reused id paired by order of arrival: client-ids.ts), and
 * for each id the same prompt length and max_tokens (an id reused for another request would
 * otherwise pair unrelated requests). Otherwise they are compared as two independent samples,
 * and `note` says why.
 */
export interface Pairing {
  run: string;
  paired: boolean;
  /** requests completed in both runs (the paired sample); null when unpaired */
  n_paired: number | null;
  only_in_baseline: number;
  only_in_run: number;
  mismatched: number;
  /** a run's ids carried vLLM's random suffix, so requests were paired by the ids without it (client-ids.ts) */
  by_client_id: boolean;
  /** first offending id (client-controlled: renderers escape it) */
  example_id: string | null;
  note: string | null;
}

export function pairRuns(base: RunData, run: RunData): { pairing: Pairing; pairs: [RequestFacts, RequestFacts][] } {
  const keysOf = (d: RunData) => pairingKeys(d.requests.map((r) => r.id), d.requests.map((r) => r.arrival_ns));
  const { keys: baseKeys, suffixed: baseSuffixed } = keysOf(base), { keys: runKeys, suffixed: runSuffixed } = keysOf(run);
  const other = new Map(runKeys.map((k, i) => [k, run.requests[i]]));
  let onlyBase = 0;
  let mismatched = 0;
  let example: string | null = null;
  const pairs: [RequestFacts, RequestFacts][] = [];
  for (const [i, a] of base.requests.entries()) {
    const b = other.get(baseKeys[i]);
    if (!b) {
      onlyBase++;
      example ??= a.id;
    } else if (b.input_tokens !== a.input_tokens || b.max_tokens !== a.max_tokens) {
      mismatched++;
      example ??= a.id;
    } else if (a.completed && b.completed) pairs.push([a, b]);
  }
  const inBase = new Set(baseKeys);
  const onlyRun = run.requests.filter((_, i) => !inBase.has(runKeys[i]));
  if (onlyRun.length) example ??= onlyRun[0].id;
  const paired = onlyBase === 0 && onlyRun.length === 0 && mismatched === 0 && pairs.length > 0;
  let note: string | null = null;
  if (!paired) {
    const why = [
      onlyBase ? `${onlyBase} request ids only in the baseline` : null,
      onlyRun.length ? `${onlyRun.length} only in this run` : null,
      mismatched ? `${mismatched} ids with another prompt length or max_tokens` : null,
      !onlyBase && !onlyRun.length && !mismatched ? "no request completed in both" : null,
    ].filter(Boolean);
    note = `not the same requests (${why.join(", ")}): compared unpaired, as independent samples`;
  }
  return {
    pairing: {
      run: run.label, paired, n_paired: paired ? pairs.length : null, only_in_baseline: onlyBase, only_in_run: onlyRun.length, mismatched,
      by_client_id: baseSuffixed || runSuffixed, example_id: example, note,
    },
    pairs: paired ? pairs : [],
  };
}
