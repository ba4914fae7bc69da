import type { Env as AppBindings } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends AppBindings {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      FUZZ_SEED: string;
      /** Only in the webhook tests' runtime: the fake receiver of test/helpers/webhook-receiver.ts. */
      WEBHOOK_RECEIVER: Fetcher;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
      durableNamespaces: "ConversationDO" | "UserDO" | "IpLimiterDO";
    }
  }
}
