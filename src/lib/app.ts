import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { fromZodIssues } from "./errors";

/** A sub-app whose zod validation failures become VALIDATION_ERROR envelopes naming the fields. */
export function createApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const root = result.target === "json" || result.target === "form" ? "body" : result.target;
        const error = fromZodIssues(result.error.issues, root);
        return c.json(
          { error: { code: error.code, message: error.message, details: error.details ?? [] } },
          400,
        );
      }
    },
  });
}

export const bearerSecurity = [{ bearerAuth: [] }];
