import { defineConfig } from "vitest/config";

// Node-side tests: the SDK against a real `wrangler dev`, and the web page in headless
// Chromium. Each file starts its own server (scripts/dev-server.ts), so files run one at a time.
export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
