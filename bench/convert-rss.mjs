// Preload for bench/convert-throughput.mjs: `node --import ./bench/convert-rss.mjs bin/vsched.js …`
// writes the process's peak RSS and CPU time to $VSCHED_BENCH_RUSAGE when it exits.
import { writeFileSync } from "node:fs";

const file = process.env.VSCHED_BENCH_RUSAGE;
if (file) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ max_rss_kb: u.maxRSS, user_s: u.userCPUTime / 1e6, sys_s: u.systemCPUTime / 1e6 }));
  });
}
