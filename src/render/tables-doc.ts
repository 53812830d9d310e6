import { columnMeta } from "../schema/columns.js";
import { OUTPUT_SCHEMA_VERSION, TABLE_NAMES, TABLES } from "../schema/tables.js";

const INTRO: Record<string, string> = {
  per_request: "One row per request (seed 000 §5.1), written when it finishes; requests still live when the trace ends come last with `finish_reason=unfinished`.",
  per_iteration: "One row per scheduler step (seed 000 §5.2): one `schedule()` call and the `update_from_output()` that answered it.",
  per_iteration_requests:
    "One row per request per step (seed 000 §5.3): every request in the running list (also those given no tokens) and in the waiting queue after `schedule()`, plus a `completed` row in the step whose update finished it. Bound it on long runs with `--iteration-requests running|none` and `--iteration-requests-every N`.",
  events: "Lifecycle events (seed 000 §4), ordered by time within each rank. `details` is a JSON object.",
  state_transitions: "Every state change of every request (seed 000 §1.5): arrival → waiting → running ⇄ preempted → completed.",
};

/** docs/tables.md, generated from the zod declarations (test/tables-doc.test.ts keeps it current). */
export function tablesMarkdown(): string {
  const out: string[] = [
    "<!-- generated from src/schema/tables.ts by `npm run docs:tables`; do not edit -->",
    `# Output tables (schema ${OUTPUT_SCHEMA_VERSION})`,
    "",
    "Times are integer nanoseconds. `*_time` columns and `timestamp` are relative to t=0, the moment the (earliest) scheduler was constructed; `*_epoch_ns` columns are the same instants as absolute Unix epoch nanoseconds (they exceed 2^53: read them as strings or int64, never as float). Empty field = not applicable or unknown. Floats have 6 decimals. Column order is fixed; new columns are only ever appended.",
    "",
    "`scheduler_action` joins with `+`, in this order, what the step did: `admit_new` (first admissions), `resume` (re-admissions after preemption), `preempt`, `continue` (already-running requests got tokens), `finish` (requests finished in its update); `idle` when none.",
    "",
  ];
  for (const name of TABLE_NAMES) {
    out.push(`## ${name}.csv`, "", INTRO[name], "", "| # | column | unit | meaning |", "|---|---|---|---|");
    Object.entries(TABLES[name].shape).forEach(([col, schema], i) => {
      const m = columnMeta(schema as never);
      out.push(`| ${i + 1} | \`${col}\` | ${m.unit || "—"} | ${m.description.replace(/\|/g, "\\|")} |`);
    });
    out.push("");
  }
  return out.join("\n");
}
