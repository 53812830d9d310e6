import { createInterface } from "node:readline";
import { buildProgram } from "./program.js";
import { runMain } from "./run.js";

/**
 * dist/batch.js: many `vsched` commands in one node process, for harnesses that run hundreds of
 * small ones (emitter/vllm_suite/run.py converts and validates every trace of vLLM's own suite,
 * ~600 commands): each separate `node bin/vsched.js` pays ~0.15 CPU-seconds to start node and
 * load the bundle, as much as converting a small trace.
 *
 * Protocol: one JSON line per job on stdin, {"argv": ["convert", "-q", TRACE, "-o", DIR]}; one
 * JSON line per job on stdout, {"exit": N, "stdout": "...", "stderr": "..."}: the exit code and
 * output `node bin/vsched.js ARGV` gives. Jobs run one at a time, each through a fresh command
 * tree (program.ts) and the CLI's own error handling (run.ts); process.stdout and process.stderr
 * are captured while a job runs. A crash (an uncaught error) ends the process as it would end
 * the CLI: the harness sees end-of-file and the exit status, and the stack trace on stderr.
 */
type Write = typeof process.stdout.write;

function capture(stream: NodeJS.WriteStream, into: string[]): () => void {
  const real = stream.write;
  stream.write = ((chunk: string | Uint8Array, enc?: BufferEncoding | ((e?: Error | null) => void), cb?: (e?: Error | null) => void) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const done = typeof enc === "function" ? enc : cb;
    // writeAll (io.ts) waits for this callback: a real stream calls it after the write, never synchronously
    if (done) process.nextTick(done);
    return true;
  }) as Write;
  return () => {
    stream.write = real;
  };
}

async function runJob(argv: string[]): Promise<{ exit: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const restore = [capture(process.stdout, out), capture(process.stderr, err)];
  process.exitCode = undefined;
  try {
    await runMain(buildProgram(), [process.argv[0], "vsched", ...argv]);
  } finally {
    for (const r of restore) r();
  }
  const exit = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { exit, stdout: out.join(""), stderr: err.join("") };
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === "") continue;
  const job = JSON.parse(line) as { argv?: unknown };
  if (!Array.isArray(job.argv) || !job.argv.every((a) => typeof a === "string")) throw new Error(`batch: a job is {"argv": [strings]}, got: ${line.slice(0, 200)}`);
  process.stdout.write(JSON.stringify(await runJob(job.argv)) + "\n");
}
