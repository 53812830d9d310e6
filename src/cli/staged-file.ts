import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { outputError } from "../sinks/write-file-atomic.js";

/**
 * One output file written whole or not at all: `fill` writes into a hidden file beside the
 * target, which is renamed into place only when it returns; on an error or Ctrl-C the
 * partial file is removed and the target is left as it was.
 */
export async function writeStagedFile<T>(target: string, display: string, fill: (write: (text: string | Buffer) => void) => Promise<T>): Promise<T> {
  const abs = path.resolve(target);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.vsched-tmp-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmp, "w");
  } catch (e) {
    throw outputError(e, display);
  }
  const onSignal = () => {
    rmSync(tmp, { force: true });
    process.stderr.write(`vsched: interrupted; ${display} not written\n`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  try {
    const result = await fill((text) => {
      const b = typeof text === "string" ? Buffer.from(text, "utf8") : text;
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
    });
    closeSync(fd);
    renameSync(tmp, abs);
    return result;
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw outputError(e, display);
  } finally {
    process.off("SIGINT", onSignal);
  }
}
