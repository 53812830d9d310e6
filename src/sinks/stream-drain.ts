import type { Writable } from "node:stream";

/**
 * Resolves when `out` has drained, at once when it need not; rejects on a stream error.
 * Reads the stream itself, not a flag remembered from write(): a 'drain' that fired while
 * the caller awaited another writer must not be waited for.
 */
export function drainStream(out: Writable): Promise<void> {
  if (!out.writableNeedDrain) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      out.off("error", fail);
      resolve();
    };
    const fail = (e: Error) => {
      out.off("drain", done);
      reject(e);
    };
    out.once("drain", done);
    out.once("error", fail);
  });
}
