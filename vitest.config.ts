import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          // Room for the concurrency tests (50 messages per sender); the rate-limit tests go past it.
          RATE_MESSAGES_PER_MIN: "120",
        },
      },
    }),
  ],
  test: {
    setupFiles: ["./test/helpers/apply-migrations.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
  },
}));
