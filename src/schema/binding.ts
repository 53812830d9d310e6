/**
 * binding_limits vocabulary (docs/waiting-reasons.md, "Binding limits"): the limits a
 * waiting request's admission is tested against, and the buckets of the per-request time
 * split. The engine estimates them in src/engine/binding-limits.ts.
 */
export const LIMITS = ["max_num_seqs", "token_budget", "kv_blocks", "max_loras", "head_only"] as const;
export type Limit = (typeof LIMITS)[number];

/**
 * per_request.bind_<bucket>_ns: one bucket per decision. A single limit; `joint` (one minimal
 * set of two or more limits, e.g. token_budget+kv_blocks); `alternatives` (several minimal
 * sets, any one would do); `none` (no listed limit admits it); `arrived_after_decision`
 * (before its first decision).
 */
export const BIND_BUCKETS = [
  "arrived_after_decision",
  "max_num_seqs",
  "token_budget",
  "kv_blocks",
  "max_loras",
  "head_only",
  "joint",
  "alternatives",
  "none",
] as const;
export type BindBucket = (typeof BIND_BUCKETS)[number];

/**
 * The binding_limits text of a list of minimal sets: each set's limits in LIMITS order joined
 * by "+", sets by size then LIMITS order joined by "|"; "none" for no set.
 */
export function formatLimitSets(sets: readonly (readonly string[])[]): string {
  if (sets.length === 0) return "none";
  const idx = (l: string) => LIMITS.indexOf(l as Limit);
  const key = (s: readonly string[]) => s.map((l) => String.fromCharCode(65 + idx(l))).join("");
  return sets
    .map((s) => [...s].sort((a, b) => idx(a) - idx(b)))
    .sort((a, b) => a.length - b.length || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .map((s) => s.join("+"))
    .join("|");
}
