import { Worker } from "node:worker_threads";
import type { Finding } from "../core/finding.js";
import { FindingTally, MANIFEST_MAX_FINDINGS } from "../pipeline/finding-tally.js";
import type { ReplayHooks, ReplayOptions, ReplayPlan, ReplayResult, ReplayRowSink, ReplaySource } from "../pipeline/replay.js";
import { TABLE_NAMES, type TableName } from "../schema/tables.js";
import { CsvBatchEncoder } from "./csv-batch.js";
import { CsvOutputs } from "./csv-outputs.js";
import { fromWire, type EncodeWorkerData, type FromEncode, type FromReplay, type ReplayWorkerData, type TallyState, type ToEncode, type ToReplay } from "./protocol.js";
import { batchBuffers, decodeRows, Dictionaries, lanesBuffers, lanesOf, type Lanes, type RowBatch } from "./row-batch.js";
import { convertWorkerPath } from "./worker-url.js";

/**
 * convert on several threads. Each input file is replayed (reader + engine) by a worker of
 * its own, up to `threads` at once; its rows come back as RowBatches. CSV encoding takes
 * `threads - 1` slots: the main thread's own, and `threads - 2` encoder workers, batches
 * handed round in turn; the main thread writes the bytes in order (CsvOutputs) and feeds
 * Parquet, when asked for, itself (one ParquetTableSet: its row groups span inputs, so inputs
 * then go one at a time). With 2 threads that is one replay worker and the main thread:
 * no third V8 heap for the little a separate writer thread would save.
 *
 * Every queue has a cap: a replay worker has at most MAX_IN_FLIGHT batches out until the
 * main thread credits them back (bytes handed to a stream that is not over its buffer, or
 * rows in a Parquet writer that has drained), so peak memory does not grow with the trace.
 *
 * What the result says is what replay() would say: sources, warnings and findings merged
 * in input order, and the first failing input's error (the one the single-threaded path
 * stops at), even when a later input failed earlier in time.
 */
export const MAX_IN_FLIGHT = 8;

export interface ThreadedSinks {
  /** CSV tables into this directory (header lines written here) */
  csv: { dir: string; versionHeader: string | null; spreadsheetSafe: boolean } | null;
  /** Parquet (or any) rows, fed on the main thread in input order */
  rows: { sink: ReplayRowSink; readonly needsDrain: boolean; drain(): Promise<void> } | null;
}

export interface ThreadedResult {
  result: ReplayResult;
  rows: Record<TableName, number>;
  formulaCells: number;
}

interface InputState {
  worker: Worker | null;
  done: { source: ReplaySource; warnings: Finding[]; tally: TallyState } | null;
  error: Error | null;
  /** next sequence number per table */
  seq: Record<TableName, number>;
}

export class ThreadedReplay {
  private readonly encoders: { worker: Worker }[] = [];
  private readonly jobs = new Map<number, { input: number; table: TableName; seq: number; written: (lanes: Lanes | null) => void; encoder: Worker }>();
  private nextJob = 0;
  /** the main thread's encoder: the last slot of the round */
  private inline: CsvBatchEncoder | null = null;
  /** the strings of every slot, for the rows sink (decoded here, whichever encoder takes the batch) */
  private readonly rowDicts = new Dictionaries();
  private readonly inputs: InputState[];
  private readonly rows = Object.fromEntries(TABLE_NAMES.map((t) => [t, 0])) as Record<TableName, number>;
  private formulaCells = 0;
  private csv: CsvOutputs | null = null;
  private started = 0;
  private running = 0;
  private settled = 0;
  private stopped = false;
  private finish!: { resolve: () => void; reject: (e: Error) => void };

  constructor(
    private readonly plan: ReplayPlan,
    private readonly options: ReplayOptions,
    private readonly sinks: ThreadedSinks,
    private readonly threads: number,
    private readonly hooks: Pick<ReplayHooks, "onRawBytes" | "onWarning"> = {},
  ) {
    this.inputs = plan.inputs.map(() => ({ worker: null, done: null, error: null, seq: Object.fromEntries(TABLE_NAMES.map((t) => [t, 0])) as Record<TableName, number> }));
  }

  async run(): Promise<ThreadedResult> {
    const file = convertWorkerPath();
    const ended = new Promise<void>((resolve, reject) => (this.finish = { resolve, reject }));
    if (this.sinks.csv) {
      this.csv = new CsvOutputs(this.sinks.csv.dir, this.plan.inputs.length, this.sinks.csv.versionHeader);
      this.csv.onError = (e) => this.fail(e);
      this.inline = new CsvBatchEncoder({ spreadsheetSafe: this.sinks.csv.spreadsheetSafe, formulaCells: 0 });
      for (let k = 0; k < this.threads - 2; k++) this.startEncoder(file, this.sinks.csv.spreadsheetSafe);
    }
    while (this.started < this.concurrent()) this.startInput(file);
    try {
      await ended;
      await this.csv?.close();
    } finally {
      this.stop();
    }
    return { result: this.result(), rows: this.rows, formulaCells: this.formulaCells + (this.inline?.guard.formulaCells ?? 0) };
  }

  /** After a failure or an interrupt: end every worker and stream (what was written is discarded). */
  destroy(): void {
    this.stop();
    this.csv?.destroy();
  }

  private stop(): void {
    this.stopped = true;
    for (const s of this.inputs) void s.worker?.terminate();
    for (const e of this.encoders) void e.worker.terminate();
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.stop();
    this.finish.reject(e);
  }

  private startEncoder(file: string, spreadsheetSafe: boolean): void {
    const worker = new Worker(file, { workerData: { role: "encode", spreadsheetSafe } satisfies EncodeWorkerData });
    this.encoders.push({ worker });
    worker.on("message", (m: FromEncode) => {
      if (m.type === "error") return this.fail(fromWire(m.error));
      this.formulaCells += m.formulaCells;
      const job = this.jobs.get(m.id)!;
      this.jobs.delete(m.id);
      // its bytes, once in the file, go back to the encoder that made them
      const done = () => {
        if (!this.stopped) job.encoder.postMessage({ type: "recycle", bytes: m.bytes } satisfies ToEncode, [m.bytes.buffer as ArrayBuffer]);
      };
      this.csv!.put(job.input, job.table, job.seq, m.bytes, () => job.written(this.sinks.rows ? null : m.lanes), done);
      this.maybeFinish();
    });
    this.watch(worker, "a CSV encoder thread");
  }

  private startInput(file: string): void {
    const i = this.started++;
    this.running++;
    const input = this.plan.inputs[i];
    // only the replay options: the caller's object may carry more (streams, callbacks)
    const { lenient, iterationRequests, iterationRequestsEvery, scheduledEvents } = this.options;
    const options = { lenient, iterationRequests, iterationRequestsEvery, scheduledEvents };
    const slots = this.csv ? this.encoders.length + 1 : 1;
    const data: ReplayWorkerData = { role: "replay", plan: this.plan, index: i, options, maxInFlight: MAX_IN_FLIGHT, progress: this.hooks.onRawBytes !== undefined, slots };
    // V8's default heap limits: an 8 MB young generation saved ~25 MB of peak RSS but cost
    // +40 % CPU on the 200 MB bench trace (bench/README.md)
    const worker = new Worker(file, { workerData: data });
    const state = this.inputs[i];
    state.worker = worker;
    worker.on("message", (m: FromReplay) => {
      if (m.type === "batch") this.onBatch(i, worker, m.batch);
      else if (m.type === "bytes") this.hooks.onRawBytes?.(m.n);
      else {
        if (m.type === "done") state.done = m;
        else state.error = fromWire(m.error);
        this.settle(file);
      }
    });
    this.watch(worker, `the thread converting ${input.display}`, () => state.done !== null || state.error !== null);
  }

  /** A worker that crashes or exits before it reported is an internal error, never a hang. */
  private watch(worker: Worker, what: string, reported: () => boolean = () => false): void {
    worker.on("error", (e) => this.fail(new Error(`${what} failed: ${e instanceof Error ? e.message : String(e)}`)));
    worker.on("exit", (code) => {
      if (!this.stopped && !reported()) this.fail(new Error(`${what} exited (code ${code}) before it finished`));
    });
  }

  private onBatch(i: number, worker: Worker, batch: RowBatch): void {
    if (this.stopped) return;
    const table = batch.table;
    this.rows[table] += batch.rows;
    let waits = (this.sinks.rows ? 1 : 0) + (this.csv ? 1 : 0);
    // the batch's buffers go back with the credit where only the CSV encoder read them
    let back: Lanes | null = null;
    const credit = () => {
      if (--waits === 0 && !this.stopped) {
        worker.postMessage({ type: "credit", n: 1, lanes: back } satisfies ToReplay, back ? lanesBuffers(back) : []);
        this.maybeFinish();
      }
    };
    const rows = this.sinks.rows;
    if (rows) {
      // decode before the batch's buffers are transferred to an encoder
      const put = rows.sink[SINK_KEY[table]] as (row: never) => void;
      decodeRows(batch, this.rowDicts.absorb(i, batch).strings, put);
      if (rows.needsDrain) rows.drain().then(credit, (e: Error) => this.fail(e));
      else credit();
    }
    if (this.csv) {
      const seq = this.inputs[i].seq[table]++;
      // the replay worker chose the encoder (its slot's dictionary lives there)
      if (batch.slot === this.encoders.length) {
        const inline = this.inline!;
        const bytes = inline.encode(batch, i);
        if (!rows) back = lanesOf(batch);
        this.csv.put(i, table, seq, bytes, credit, () => inline.recycle(bytes));
        return;
      }
      const enc = this.encoders[batch.slot];
      const id = this.nextJob++;
      this.jobs.set(id, {
        input: i,
        table,
        seq,
        written: (lanes) => {
          back = lanes;
          credit();
        },
        encoder: enc.worker,
      });
      enc.worker.postMessage({ type: "encode", id, input: i, batch } satisfies ToEncode, batchBuffers(batch));
    }
  }

  /** Inputs end in any order; they are taken in input order, and the first failure in that order is the error. */
  private settle(file: string): void {
    this.running--;
    while (this.running < this.concurrent() && this.started < this.inputs.length) this.startInput(file);
    while (this.settled < this.inputs.length) {
      const s = this.inputs[this.settled];
      if (s.error) return this.fail(s.error);
      if (!s.done) break;
      for (const w of s.done.warnings) this.hooks.onWarning?.(w);
      this.settled++;
    }
    this.maybeFinish();
  }

  /** replay workers at once: Parquet rows must reach their one writer in input order, so then one */
  private concurrent(): number {
    return this.sinks.rows ? 1 : Math.min(this.threads, this.inputs.length);
  }

  private maybeFinish(): void {
    if (this.stopped || this.settled < this.inputs.length || this.jobs.size > 0) return;
    this.finish.resolve();
  }

  /** replay()'s result, from the inputs' reports in input order */
  private result(): ReplayResult {
    const findings = new FindingTally();
    const sources: ReplaySource[] = [];
    const warnings: Finding[] = [];
    for (const s of this.inputs) {
      const d = s.done!;
      sources.push(d.source);
      warnings.push(...d.warnings);
      mergeTally(findings, d.tally);
    }
    return { epochZeroNs: this.plan.epochZeroNs, sources, warnings, findings };
  }
}

/** Adding an input's findings one by one after the earlier inputs' gives exactly this. */
function mergeTally(into: FindingTally, t: TallyState): void {
  into.total += t.total;
  into.errors += t.errors;
  for (const [code, n] of Object.entries(t.byCode)) into.byCode[code] = (into.byCode[code] ?? 0) + n;
  for (const f of t.listed) if (into.listed.length < MANIFEST_MAX_FINDINGS) into.listed.push(f);
}

const SINK_KEY = {
  per_request: "perRequest",
  per_iteration: "perIteration",
  per_iteration_requests: "perIterationRequest",
  events: "event",
  state_transitions: "stateTransition",
  predictions: "prediction",
} as const satisfies Record<TableName, keyof ReplayRowSink>;
