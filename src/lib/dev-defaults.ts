/**
 * The values local development runs with, and nothing else does. They never appear in
 * wrangler.toml, so a plain `wrangler deploy` ships no development login and no known secret:
 * `npm run dev` writes them to `.dev.vars` (read by `wrangler dev` only), the test runner and
 * the Node-side dev server pass them as bindings. Kept free of imports so Node scripts can load
 * it directly.
 */
export const DEV_JWT_SECRET = "dev-only-secret-change-me-with-wrangler-secret-put";

export const DEV_VARS = {
  ENVIRONMENT: "development",
  DEV_LOGIN: "true",
  JWT_SECRET: DEV_JWT_SECRET,
} as const;
