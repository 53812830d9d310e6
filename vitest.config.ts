import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // the goldens spawn the built CLI; on a loaded 2-core machine a conversion can take seconds
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
