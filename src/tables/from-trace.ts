import { planReplay, replay, type ReplayResult } from "../pipeline/replay.js";
import type { TraceInput } from "../parse/inputs.js";
import { traceStartHas } from "../parse/node.js";
import { OUTPUT_SCHEMA_VERSION, tableColumns } from "../schema/tables.js";
import type { RowHandlers, RunInfo, TableRow, TableSource } from "./types.js";

export interface TraceSource extends TableSource {
  /** what the last pass's replay found (reader warnings, engine findings) */
  readonly lastReplay: ReplayResult | null;
  /** replays run so far: one per scan(), so a command that reads its tables in one pass shows 1 */
  readonly replays: number;
}

type AnyHandler = (row: TableRow<never>) => void;

/** A prediction record in the first MiB of an input (both spellings of JSON a writer may use). */
async function predictionsNearStart(inputs: TraceInput[]): Promise<boolean> {
  for (const inp of inputs) if ((await traceStartHas(inp, '"type":"prediction"')) || (await traceStartHas(inp, '"type": "prediction"'))) return true;
  return false;
}

/**
 * Raw traces as a TableSource, with no CSV in between: every pass replays the traces
 * through the engine and hands the rows of the wanted tables to their handlers. Tables
 * nobody asked for are switched off in the engine, so a pass costs what it reads.
 */
export async function openTraces(inputs: TraceInput[], opts: { lenient?: boolean } = {}): Promise<TraceSource> {
  const plan = await planReplay(inputs);
  const info: RunInfo = {
    origin: "trace",
    label: inputs[0].display,
    outputSchemaVersion: OUTPUT_SCHEMA_VERSION,
    epochZeroNs: plan.epochZeroNs.toString(),
    sources: inputs.map((inp, i) => {
      const { type: _type, ...header } = plan.headers[i];
      return { path: inp.relative, header, timeOffsetNs: plan.offsetsNs[i] };
    }),
    options: { iterationRequests: "all", iterationRequestsEvery: 1, scheduledEvents: true },
    predictionsLikely: await predictionsNearStart(inputs),
  };
  const source: TraceSource = {
    info,
    lastReplay: null,
    replays: 0,
    // a replay produces every column of this vsched's schema
    columns: (t) => tableColumns(t),
    async scan(h: RowHandlers) {
      (source as { replays: number }).replays++;
      const none = () => {};
      const pick = (f: AnyHandler | undefined) => (f ?? none) as never;
      const r = await replay(
        plan,
        {
          lenient: opts.lenient ?? false,
          iterationRequests: h.per_iteration_requests ? "all" : "none",
          iterationRequestsEvery: 1,
          scheduledEvents: h.events !== undefined,
        },
        {
          perRequest: pick(h.per_request as AnyHandler),
          perIteration: pick(h.per_iteration as AnyHandler),
          perIterationRequest: pick(h.per_iteration_requests as AnyHandler),
          event: pick(h.events as AnyHandler),
          stateTransition: pick(h.state_transitions as AnyHandler),
          prediction: pick(h.predictions as AnyHandler),
        },
      );
      (source as { lastReplay: ReplayResult | null }).lastReplay = r;
    },
  };
  return source;
}
