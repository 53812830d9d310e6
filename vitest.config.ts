import os from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // the goldens spawn the built CLI; on a loaded 2-core machine a conversion can take seconds
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // vitest's default is one worker fewer than the cores: on CI's 2 cores, one file at a time,
    // while many files spend much of their time waiting on a child process (the built CLI,
    // vLLM's scheduler in Python) with the other core idle. Two files at once took the run from
    // 505 s to 306 s there (same tests, back to back, load 1.5-5).
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
  },
});
