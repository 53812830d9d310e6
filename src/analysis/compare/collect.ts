import { InputError } from "../../core/errors.js";
import { OUTPUT_SCHEMA_VERSION, type TableName } from "../../schema/tables.js";
import { WAITING_REASONS, type WaitingReason } from "../../schema/waiting.js";
import type { TableRow, TableSource } from "../../tables/types.js";
import { Occupancy } from "./occupancy.js";
import { QueueTau } from "./queue-tau.js";

/** What compare keeps of one request (one row of per_request). */
export interface RequestFacts {
  id: string;
  arrival_ns: number;
  input_tokens: number;
  max_tokens: number | null;
  output_tokens: number;
  /** finished by stop or length (aborted, errored and unfinished requests have no JCT) */
  completed: boolean;
  completion_ns: number | null;
  ttft_ns: number | null;
  tpot_ns: number | null;
  queue_ns: number;
  e2e_ns: number | null;
  preemptions: number;
  recomputed_tokens: number;
  longest_wait_ns: number;
  wait_by_cause: Float64Array;
}

/** Least-squares sums for step duration ≈ c0 + c1·prefill_tokens + c2·decode_tokens. */
export class StepFit {
  readonly xtx = new Float64Array(9);
  readonly xty = new Float64Array(3);
  n = 0;
  add(prefill: number, decode: number, duration: number): void {
    const x = [1, prefill, decode];
    for (let i = 0; i < 3; i++) {
      this.xty[i] += x[i] * duration;
      for (let j = 0; j < 3; j++) this.xtx[i * 3 + j] += x[i] * x[j];
    }
    this.n++;
  }
}

export interface PredictionPoint {
  t_ns: number;
  at_tokens: number;
  predicted: number | null;
  actual: number | null;
  index: number;
}

export interface RunData {
  label: string;
  source: TableSource;
  policy: string;
  vllm_version: string;
  max_num_batched_tokens: number | null;
  requests: RequestFacts[];
  iterations: number;
  preempted_total: number;
  occupancy: Occupancy;
  fit: StepFit;
  /** per request, in prediction order; null when the run has no predictions table or no rows */
  predictions: Map<string, PredictionPoint[]> | null;
  /**
   * τ-b over the waiting queues (predictor.ts), fed in this pass: with the queue's rows when the
   * run is a replay (its one pass), else with the requests only, for a pass over
   * per_iteration_requests after; null without predictions or waiting rows
   */
  queueTau: { tau: QueueTau; rowsFed: boolean } | null;
}

const NEEDED: Partial<Record<TableName, readonly string[]>> = {
  per_request: ["request_id", "arrival_time", "input_tokens", "output_tokens", "max_tokens", "finish_reason", "completion_time",
    "ttft", "tpot", "waiting_time", "e2e_latency", "preemption_count", "recomputed_tokens", "longest_wait",
    ...WAITING_REASONS.map((r) => `wait_${r}_ns`)],
  per_iteration: ["iteration_id", "start_time", "duration", "prefill_tokens", "decode_tokens", "waiting_count", "running_count", "preempted_count"],
};

/** Refuse a run compare cannot read, in one line naming the run and what is missing. */
export function checkSource(source: TableSource): void {
  const label = source.info.label;
  const v = source.info.outputSchemaVersion;
  if (v !== null && v.split(".")[0] !== OUTPUT_SCHEMA_VERSION.split(".")[0]) {
    throw new InputError(`output schema ${v} is not comparable: this vsched reads schema ${OUTPUT_SCHEMA_VERSION.split(".")[0]}.x (re-run vsched convert on its traces)`, "COMPARE_SCHEMA_MISMATCH", label);
  }
  for (const [table, cols] of Object.entries(NEEDED) as [TableName, readonly string[]][]) {
    const have = source.columns(table);
    if (have === null) throw new InputError(`no ${table} table: compare needs per_request and per_iteration`, "COMPARE_TABLE_MISSING", label);
    const missing = cols.find((c) => !have.includes(c));
    if (missing) throw new InputError(`${table} has no column '${missing}' (written by an older vsched? re-run vsched convert)`, "COMPARE_COLUMN_MISSING", label);
  }
}

function requestFacts(r: TableRow<"per_request">): RequestFacts {
  const byCause = new Float64Array(WAITING_REASONS.length);
  WAITING_REASONS.forEach((c: WaitingReason, i) => (byCause[i] = (r[`wait_${c}_ns`] as number | null) ?? 0));
  return {
    id: r.request_id,
    arrival_ns: r.arrival_time,
    input_tokens: r.input_tokens,
    max_tokens: r.max_tokens,
    output_tokens: r.output_tokens,
    completed: r.finish_reason === "stop" || r.finish_reason === "length",
    completion_ns: r.completion_time,
    ttft_ns: r.ttft,
    tpot_ns: r.tpot,
    queue_ns: r.waiting_time,
    e2e_ns: r.e2e_latency,
    preemptions: r.preemption_count,
    recomputed_tokens: r.recomputed_tokens,
    longest_wait_ns: r.longest_wait,
    wait_by_cause: byCause,
  };
}

/** One pass over per_request, per_iteration and predictions of a run (and per_iteration_requests of a replay with predictions). */
export async function collectRun(source: TableSource): Promise<RunData> {
  checkSource(source);
  const header = source.info.sources[0]?.header;
  const requests: RequestFacts[] = [];
  const occupancy = new Occupancy();
  const fit = new StepFit();
  let iterations = 0;
  let preempted = 0;
  const hasPredictions = source.columns("predictions") !== null;
  const predictions = new Map<string, PredictionPoint[]>();
  // a replay writes the queue's rows and each request's end in one stream: τ rides on this pass
  // (a replay can always write predictions, so its hint decides; one without any finds none, and one
  // whose first prediction came late takes a second pass)
  const tauRows = hasPredictions && source.info.origin === "trace" && source.info.predictionsLikely === true && source.info.options.iterationRequests === "all";
  const tau = hasPredictions ? new QueueTau(tauRows) : null;
  await source.scan({
    per_request: (r) => {
      requests.push(requestFacts(r));
      tau?.request(r);
    },
    per_iteration: (it) => {
      iterations++;
      preempted += it.preempted_count;
      occupancy.add(it.start_time, it.waiting_count, it.running_count, it.dp_rank);
      if (it.duration !== null && it.prefill_tokens + it.decode_tokens > 0) fit.add(it.prefill_tokens, it.decode_tokens, it.duration);
      tau?.iteration(it);
    },
    ...(hasPredictions
      ? {
          predictions: (p: TableRow<"predictions">) => {
            let list = predictions.get(p.request_id);
            if (!list) predictions.set(p.request_id, (list = []));
            list.push({ t_ns: p.prediction_time, at_tokens: p.output_tokens_at_prediction, predicted: p.predicted_remaining_tokens, actual: p.actual_remaining_tokens, index: p.prediction_index });
            tau!.prediction(p);
          },
        }
      : {}),
    ...(tauRows ? { per_iteration_requests: (row: TableRow<"per_iteration_requests">) => tau!.row(row) } : {}),
  });
  occupancy.end();
  requests.sort((a, b) => a.arrival_ns - b.arrival_ns || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    label: source.info.label,
    source,
    policy: String(header?.config?.policy ?? "unknown"),
    vllm_version: String(header?.vllm_version ?? "unknown"),
    max_num_batched_tokens: typeof header?.config?.max_num_batched_tokens === "number" ? header.config.max_num_batched_tokens : null,
    requests,
    iterations,
    preempted_total: preempted,
    occupancy,
    fit,
    predictions: predictions.size ? predictions : null,
    queueTau: predictions.size && tau ? { tau, rowsFed: tauRows } : null,
  };
}
