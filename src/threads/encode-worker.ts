import type { MessagePort } from "node:worker_threads";
import { CsvBatchEncoder } from "./csv-batch.js";
import { lanesBuffers, lanesOf } from "./row-batch.js";
import { toWire, type EncodeWorkerData, type FromEncode, type ToEncode } from "./protocol.js";

/** A CSV encoder thread: batches in, each table's CSV bytes out, in the order asked. */
export function runEncodeWorker(port: MessagePort, data: EncodeWorkerData): void {
  const encoder = new CsvBatchEncoder({ spreadsheetSafe: data.spreadsheetSafe, formulaCells: 0 });
  port.on("message", (m: ToEncode) => {
    if (m.type === "recycle") return encoder.recycle(m.bytes);
    try {
      const before = encoder.guard.formulaCells;
      const bytes = encoder.encode(m.batch, m.input);
      // the batch's buffers go back too (through the main thread, to its replay worker)
      const lanes = lanesOf(m.batch);
      const reply: FromEncode = { type: "encoded", id: m.id, bytes, formulaCells: encoder.guard.formulaCells - before, lanes };
      port.postMessage(reply, [bytes.buffer as ArrayBuffer, ...lanesBuffers(lanes)]);
    } catch (e) {
      port.postMessage({ type: "error", error: toWire(e) } satisfies FromEncode);
    }
  });
}
