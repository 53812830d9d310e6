// Preload for bench/convert-throughput.mjs: `node --import ./bench/convert-rss.mjs bin/vsched.js …`
// writes the process's peak RSS and CPU time to $VSCHED_BENCH_RUSAGE when it exits, and CPU
// seconds per JS thread (Linux): Node runs this preload in worker threads too, and each worker
// names its thread id and role in `$VSCHED_BENCH_RUSAGE.threads`; the main thread reads every
// thread's /proc stat every 50 ms (a worker ended by terminate() runs no exit handler), keeps
// the last, and writes { role: CPU s } under `threads` (the main thread, replay and encode
// workers summed per role). What no JS thread took (V8's GC helpers, libuv's file writes) is
// the process total less these.
import { appendFileSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { isMainThread, workerData } from "node:worker_threads";

const file = process.env.VSCHED_BENCH_RUSAGE;
const HZ = 100;
const tid = () => readlinkSync("/proc/thread-self").split("/").pop();
function cpuOf(path) {
  try {
    const f = readFileSync(path, "utf8");
    const s = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(s[11]) + Number(s[12])) / HZ;
  } catch {
    return null;
  }
}
if (file && !isMainThread) {
  try {
    appendFileSync(`${file}.threads`, JSON.stringify({ tid: tid(), role: workerData?.role ?? "worker" }) + "\n");
  } catch {}
} else if (file) {
  // the main thread starts before any worker: a list left by an earlier run (its thread ids may be reused) goes
  rmSync(`${file}.threads`, { force: true });
  const mainTid = tid();
  const last = new Map();
  const sample = () => {
    try {
      for (const t of readdirSync("/proc/self/task")) {
        const c = cpuOf(`/proc/self/task/${t}/stat`);
        if (c !== null) last.set(t, c);
      }
    } catch {}
  };
  setInterval(sample, 50).unref();
  process.on("exit", () => {
    sample();
    const u = process.resourceUsage();
    const roles = new Map([[mainTid, "main"]]);
    try {
      for (const l of readFileSync(`${file}.threads`, "utf8").trim().split("\n")) {
        const { tid: t, role } = JSON.parse(l);
        roles.set(t, role);
      }
    } catch {}
    const threads = {};
    for (const [t, role] of roles) if (last.has(t)) threads[role] = Math.round(((threads[role] ?? 0) + last.get(t)) * 100) / 100;
    writeFileSync(file, JSON.stringify({ max_rss_kb: u.maxRSS, user_s: u.userCPUTime / 1e6, sys_s: u.systemCPUTime / 1e6, threads }));
  });
}
