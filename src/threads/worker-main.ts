import { parentPort, workerData } from "node:worker_threads";
import type { WorkerData } from "./protocol.js";
import { runEncodeWorker } from "./encode-worker.js";
import { runReplayWorker } from "./replay-worker.js";

/** dist/convert-worker.js: one bundle for both kinds of convert worker, chosen by workerData.role. */
const data = workerData as WorkerData;
if (!parentPort) throw new Error("convert-worker.js runs only as a worker thread of vsched convert");
// Test hook: a worker that dies before it reports, so the crash path has a test (test/convert-threads.test.ts).
if (process.env.VSCHED_TEST_WORKER_EXIT === data.role) process.exit(70);
if (data.role === "replay") void runReplayWorker(parentPort, data);
else runEncodeWorker(parentPort, data);
