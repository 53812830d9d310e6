import { InputError, UsageError } from "../core/errors.js";
import type { Finding } from "../core/finding.js";
import type { ReplayOptions, ReplayPlan, ReplaySource } from "../pipeline/replay.js";
import type { Lanes, RowBatch } from "./row-batch.js";

/**
 * The messages between convert's main thread and its workers. Row data travels only as
 * RowBatch / byte buffers in the transfer list; everything else here is small.
 */
export interface ReplayWorkerData {
  role: "replay";
  plan: ReplayPlan;
  /** which input of the plan this worker replays */
  index: number;
  options: Omit<ReplayOptions, "onFault">;
  /** batches sent and not yet credited back before the reader pauses (the queue's cap) */
  maxInFlight: number;
  /** send on-disk byte counts for the progress bar */
  progress: boolean;
  /** CSV encoders (the main thread's and the encoder workers): each table's batches go round them, RowBatch.slot */
  slots: number;
}

export interface EncodeWorkerData {
  role: "encode";
  spreadsheetSafe: boolean;
}

export type WorkerData = ReplayWorkerData | EncodeWorkerData;

/** A FindingTally's state, to merge in input order on the main thread. */
export interface TallyState {
  listed: Finding[];
  byCode: Record<string, number>;
  total: number;
  errors: number;
}

export type FromReplay =
  | { type: "batch"; batch: RowBatch }
  | { type: "bytes"; n: number }
  | { type: "done"; source: ReplaySource; warnings: Finding[]; tally: TallyState }
  | { type: "error"; error: WireError };

/** a batch written: one more may be sent; `lanes`, its buffers to fill again */
export type ToReplay = { type: "credit"; n: number; lanes: Lanes | null };

/** `recycle`: an output buffer the main thread has written, to encode into again */
export type ToEncode = { type: "encode"; id: number; input: number; batch: RowBatch } | { type: "recycle"; bytes: Uint8Array };

export type FromEncode =
  | { type: "encoded"; id: number; bytes: Uint8Array; formulaCells: number; lanes: Lanes }
  | { type: "error"; error: WireError };

/** An error as it crosses threads: InputError and UsageError come back as themselves. */
export interface WireError {
  kind: "input" | "usage" | "other";
  message: string;
  code?: string;
  file?: string;
  line?: number;
  stack?: string;
}

export function toWire(e: unknown): WireError {
  if (e instanceof InputError) return { kind: "input", message: e.message, code: e.code, file: e.file, line: e.line };
  if (e instanceof UsageError) return { kind: "usage", message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: "other", message: err.message, stack: err.stack };
}

export function fromWire(w: WireError): Error {
  if (w.kind === "input") return new InputError(w.message, w.code!, w.file, w.line);
  if (w.kind === "usage") return new UsageError(w.message);
  const e = new Error(w.message);
  if (w.stack) e.stack = w.stack;
  return e;
}
