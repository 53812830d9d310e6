// Entry bundled and run by bench/binding-agreement.mjs: replays each fixture that has a
// counterfactual.jsonl through the engine (no CSV in between) and prints the agreement of
// waiting_reason and binding_limits with the oracle, per fixture and per label.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { agreement, agreementLines, type OracleRow, type WaitingRow } from "../src/analysis/binding-agreement.js";
import { resolveInputs } from "../src/parse/inputs.js";
import { openTraces } from "../src/tables/from-trace.js";

async function fixtureRows(dir: string): Promise<WaitingRow[]> {
  const traces = readdirSync(dir).filter((f) => /^vsched-.*\.jsonl(\.gz)?$/.test(f)).map((f) => join(dir, f));
  const source = await openTraces(await resolveInputs(traces));
  const rows: WaitingRow[] = [];
  await source.scan({
    per_iteration_requests: (r) => {
      if (r.waiting_reason !== null) rows.push({ iteration_id: r.iteration_id, request_id: r.request_id, waiting_reason: r.waiting_reason, binding_limits: r.binding_limits });
    },
  });
  return rows;
}

export async function main(fixtures: string, names: string[], showDisagreements: number): Promise<void> {
  const all = readdirSync(fixtures).filter((d) => existsSync(join(fixtures, d, "counterfactual.jsonl"))).sort();
  const chosen = names.length ? all.filter((d) => names.includes(d)) : all;
  type Tally = ReturnType<typeof agreement>["total"];
  const perFixture: Record<string, Tally> = {};
  const perReason: Record<string, Tally> = {};
  for (const name of chosen) {
    const dir = join(fixtures, name);
    const oracle = readFileSync(join(dir, "counterfactual.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as OracleRow);
    const rep = agreement(await fixtureRows(dir), oracle, showDisagreements);
    perFixture[name] = rep.total;
    for (const [k, t] of Object.entries(rep.byReason)) {
      const a = (perReason[k] ??= { n: 0, bindingExact: 0, reasonExact: 0, reasonCompatible: 0 });
      a.n += t.n;
      a.bindingExact += t.bindingExact;
      a.reasonExact += t.reasonExact;
      a.reasonCompatible += t.reasonCompatible;
    }
    console.log(`\n## ${name}  (${oracle.length} oracle samples, ${rep.unmatched} without a waiting row)`);
    console.log(agreementLines("waiting_reason", rep.byReason).join("\n"));
    console.log("");
    console.log(agreementLines("oracle says", rep.byOracle).join("\n"));
    for (const d of rep.disagreements) console.log(`  step ${d.step} ${JSON.stringify(d.req)}: ${d.waiting_reason}; binding_limits=${d.binding_limits} oracle=${d.oracle}`);
  }
  console.log("\n## per fixture");
  console.log(agreementLines("fixture", perFixture).join("\n"));
  console.log("\n## per waiting_reason, all fixtures");
  console.log(agreementLines("waiting_reason", perReason).join("\n"));
}
