import type { MessagePort } from "node:worker_threads";
import { CsvBatchEncoder } from "./csv-batch.js";
import { toWire, type EncodeWorkerData, type FromEncode, type ToEncode } from "./protocol.js";

/** A CSV encoder thread: batches in, each table's CSV bytes out, in the order asked. */
export function runEncodeWorker(port: MessagePort, data: EncodeWorkerData): void {
  const encoder = new CsvBatchEncoder({ spreadsheetSafe: data.spreadsheetSafe, formulaCells: 0 });
  port.on("message", (m: ToEncode) => {
    try {
      const before = encoder.guard.formulaCells;
      const bytes = encoder.encode(m.batch, m.input);
      const reply: FromEncode = { type: "encoded", id: m.id, bytes, formulaCells: encoder.guard.formulaCells - before };
      port.postMessage(reply, [bytes.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ type: "error", error: toWire(e) } satisfies FromEncode);
    }
  });
}
