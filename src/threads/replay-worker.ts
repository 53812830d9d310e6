import type { MessagePort } from "node:worker_threads";
import { tableSink } from "../engine/table-sink.js";
import { FindingTally } from "../pipeline/finding-tally.js";
import { replayInput, type ReplayRowSink } from "../pipeline/replay.js";
import { TABLE_NAMES, type TableName } from "../schema/tables.js";
import { toWire, type FromReplay, type ReplayWorkerData, type ToReplay } from "./protocol.js";
import { LaneBatcher } from "./lane-batch.js";
import { batchBuffers, RowBatchBuilder, type RowBatch } from "./row-batch.js";

/**
 * A replay thread: one input file through the reader and the engine (replayInput, the same
 * code as the single-threaded path), its rows sent to the main thread in batches. At most
 * maxInFlight batches are out at once: past that the reader pauses until the main thread
 * credits some back (written to disk), so memory stays bounded however slow the writers.
 */
export async function runReplayWorker(port: MessagePort, data: ReplayWorkerData): Promise<void> {
  let inFlight = 0;
  // the tables the engine writes into lanes itself: those lanes are the batches (LaneBatcher)
  const engineLanes = { per_iteration_requests: new LaneBatcher("per_iteration_requests", data.slots), events: new LaneBatcher("events", data.slots) };
  const builders = Object.fromEntries(TABLE_NAMES.map((t) => [t, new RowBatchBuilder(t, undefined, data.slots)])) as Record<TableName, RowBatchBuilder>;
  let resume: (() => void) | null = null;
  const onCredit = (m: ToReplay) => {
    inFlight -= m.n;
    if (m.lanes) (m.lanes.table in engineLanes ? engineLanes[m.lanes.table as keyof typeof engineLanes] : builders[m.lanes.table]).recycle(m.lanes);
    if (resume && inFlight < data.maxInFlight) {
      const r = resume;
      resume = null;
      r();
    }
  };
  port.on("message", onCredit);
  const post = (m: FromReplay, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const postBatch = (batch: RowBatch) => {
    inFlight++;
    post({ type: "batch", batch }, batchBuffers(batch));
  };
  const send = (b: RowBatchBuilder) => {
    if (b.rows > 0) postBatch(b.take());
  };
  const put = (t: TableName) => {
    const b = builders[t];
    return (row: object) => {
      b.push(row);
      if (b.full) send(b);
    };
  };
  const sink: ReplayRowSink = tableSink(put);
  // per_iteration_requests and events: the engine's lanes are the batch (no row objects, no fill)
  sink.perIterationRequestLanes = (l) => postBatch(engineLanes.per_iteration_requests.take(l));
  sink.eventLanes = (l) => postBatch(engineLanes.events.take(l));
  const full = () => inFlight >= data.maxInFlight;
  try {
    const findings = new FindingTally();
    const r = await replayInput(data.plan, data.index, data.options, sink, findings, {
      shouldPause: full,
      afterChunk: () => (full() ? new Promise<void>((res) => (resume = res)) : undefined),
      onRawBytes: data.progress ? (n) => post({ type: "bytes", n }) : undefined,
    });
    for (const t of TABLE_NAMES) send(builders[t]);
    const tally = { listed: findings.listed, byCode: findings.byCode, total: findings.total, errors: findings.errors };
    post({ type: "done", source: r.source, warnings: r.warnings, tally });
  } catch (e) {
    post({ type: "error", error: toWire(e) });
  }
  // nothing left to wait for: the thread ends once its last message is out
  port.off("message", onCredit);
}
