import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { DEV_VARS } from "./src/lib/dev-defaults.ts";
import { WEBHOOK_HOST, webhookReceiver } from "./test/helpers/webhook-receiver.ts";

/** Webhook tests run in a runtime of their own with WEBHOOK_URL set: everywhere else webhooks are off, as by default. */
const WEBHOOK_TESTS = "test/integration/webhooks*.test.ts";

export default defineConfig(async () => {
  const bindings = {
    // What `npm run dev` puts in .dev.vars: wrangler.toml itself has no login and no secret.
    ...DEV_VARS,
    TEST_MIGRATIONS: await readD1Migrations("./migrations"),
    // Room for the concurrency tests (50 messages per sender); the rate-limit tests go past it.
    RATE_MESSAGES_PER_MIN: "120",
    // Tests make a fresh conversation each; the creation-limit test passes its own low limit.
    RATE_CONVERSATIONS_PER_MIN: "100000",
    FUZZ_SEED: process.env.FUZZ_SEED ?? "20261121",
    // Every test request comes from the same (absent) address; the per-IP tests pass their
    // own low limits and addresses through worker.fetch.
    RATE_LOGINS_PER_MIN_PER_IP: "100000",
    RATE_CONNECTS_PER_MIN_PER_IP: "100000",
    // Short, so going offline is seen quickly; the presence tests reconnect well within it.
    PRESENCE_GRACE_MS: "300",
  };
  const receiver = webhookReceiver();
  const shared = {
    setupFiles: ["./test/helpers/apply-migrations.ts", "./test/helpers/fuzz-seed.ts"],
    testTimeout: 20_000,
  };
  return {
    test: {
      projects: [
        {
          plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings } })],
          test: { ...shared, name: "workers", include: ["test/integration/**/*.test.ts", "test/unit/**/*.test.ts"], exclude: [WEBHOOK_TESTS] },
        },
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  ...bindings,
                  WEBHOOK_URL: `http://${WEBHOOK_HOST}/hooks/chat`,
                  WEBHOOK_SECRET: "test-webhook-secret",
                  // Retries after 1, 2, 4 … s instead of 10, 20, 40 … s.
                  WEBHOOK_RETRY_BASE_SECONDS: "1",
                },
                // Requests to WEBHOOK_HOST reach the receiver in this process; tests read it through the binding.
                outboundService: receiver.receive,
                serviceBindings: { WEBHOOK_RECEIVER: receiver.control },
              },
            }),
          ],
          test: { ...shared, name: "webhooks", include: [WEBHOOK_TESTS] },
        },
      ],
    },
  };
});
