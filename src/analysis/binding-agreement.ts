import { formatLimitSets, type Limit } from "../schema/binding.js";

/**
 * Agreement of the two waiting columns with the counterfactual oracle (the harness's
 * counterfactual.jsonl: vLLM's own schedule() re-run on copies with limits relaxed).
 *
 * - binding_limits: exact set match (the same minimal sets).
 * - waiting_reason: `exact` when the oracle has one minimal set, a single limit, and it is
 *   the limit the label names; `compatible` when some minimal set contains that limit.
 *   Labels that name no limit (grammar, remote KV, ...) match an oracle that found none.
 */
export interface OracleRow {
  step: number;
  req: string;
  admitted_by: string[][];
}

export interface WaitingRow {
  iteration_id: number;
  request_id: string;
  waiting_reason: string | null;
  binding_limits?: string | null;
}

export interface Tally {
  n: number;
  bindingExact: number;
  reasonExact: number;
  reasonCompatible: number;
}

export interface Disagreement {
  step: number;
  req: string;
  waiting_reason: string;
  binding_limits: string;
  oracle: string;
}

export interface AgreementReport {
  total: Tally;
  /** by vsched's waiting_reason */
  byReason: Record<string, Tally>;
  /** by the oracle's answer (its minimal sets, formatted like binding_limits) */
  byOracle: Record<string, Tally>;
  /** oracle rows with no waiting row at that step (should be none) */
  unmatched: number;
  disagreements: Disagreement[];
}

/** The limits each waiting_reason names (docs/waiting-reasons.md, "Binding limits"). */
export const REASON_LIMITS: Record<string, readonly Limit[]> = {
  max_num_seqs: ["max_num_seqs"],
  max_num_batched_tokens: ["token_budget"],
  decode_priority: ["token_budget"],
  prompt_exceeds_budget: ["token_budget"],
  memory_insufficient: ["kv_blocks"],
  preempted: ["kv_blocks"],
  head_of_line_blocked: ["head_only"],
  lora_slots: ["max_loras"],
  priority_outranked: ["max_num_seqs", "token_budget"],
};

export const formatOracle = formatLimitSets;

/** Normalise a binding_limits text so that set order does not matter. */
export function normaliseSets(text: string): string {
  if (text === "none" || text === "") return "none";
  return formatOracle(text.split("|").map((s) => s.split("+")));
}

export function reasonMatch(reason: string, sets: readonly (readonly string[])[]): { exact: boolean; compatible: boolean } {
  const named = REASON_LIMITS[reason];
  if (!named) return { exact: sets.length === 0, compatible: sets.length === 0 };
  const exact = sets.length === 1 && sets[0].length === 1 && named.includes(sets[0][0] as Limit);
  const compatible = sets.some((s) => s.some((l) => named.includes(l as Limit)));
  return { exact, compatible };
}

const empty = (): Tally => ({ n: 0, bindingExact: 0, reasonExact: 0, reasonCompatible: 0 });

/** Joins on (step, request). `rows` may be a whole table: only waiting rows the oracle sampled count. */
export function agreement(rows: Iterable<WaitingRow>, oracle: readonly OracleRow[], keepDisagreements = 50): AgreementReport {
  const want = new Map<string, OracleRow>();
  for (const o of oracle) want.set(`${o.step}\u0000${o.req}`, o);
  const report: AgreementReport = { total: empty(), byReason: {}, byOracle: {}, unmatched: 0, disagreements: [] };
  let matched = 0;
  for (const r of rows) {
    if (r.waiting_reason === null) continue;
    const o = want.get(`${r.iteration_id}\u0000${r.request_id}`);
    if (!o) continue;
    matched++;
    const oracleText = formatOracle(o.admitted_by);
    const mine = normaliseSets(r.binding_limits ?? "");
    const bindingOk = mine === oracleText;
    const m = reasonMatch(r.waiting_reason, o.admitted_by);
    for (const t of [report.total, (report.byReason[r.waiting_reason] ??= empty()), (report.byOracle[oracleText] ??= empty())]) {
      t.n++;
      if (bindingOk) t.bindingExact++;
      if (m.exact) t.reasonExact++;
      if (m.compatible) t.reasonCompatible++;
    }
    if (!bindingOk && report.disagreements.length < keepDisagreements) {
      report.disagreements.push({ step: o.step, req: o.req, waiting_reason: r.waiting_reason, binding_limits: mine, oracle: oracleText });
    }
  }
  report.unmatched = oracle.length - matched;
  return report;
}

const pct = (k: number, n: number) => (n === 0 ? "-" : `${((100 * k) / n).toFixed(1)}%`);

/** A plain-text table: one line per group. */
export function agreementLines(title: string, groups: Record<string, Tally>): string[] {
  const rows = Object.entries(groups).sort((a, b) => b[1].n - a[1].n);
  const w = Math.max(title.length, ...rows.map(([k]) => k.length));
  const out = [`${title.padEnd(w)}  ${"n".padStart(5)}  ${"binding exact".padStart(13)}  ${"reason exact".padStart(12)}  ${"reason compat".padStart(13)}`];
  for (const [k, t] of rows) {
    out.push(`${k.padEnd(w)}  ${String(t.n).padStart(5)}  ${pct(t.bindingExact, t.n).padStart(13)}  ${pct(t.reasonExact, t.n).padStart(12)}  ${pct(t.reasonCompatible, t.n).padStart(13)}`);
  }
  return out;
}
