import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../lib/errors";
import { jsonDepth, MAX_JSON_DEPTH } from "../lib/json-depth";
import { speakPlainly } from "../lib/plain-messages";

// Every schema is defined below this module, so every validation message is in plain words.
speakPlainly();

/** The documented codes, from the one table that also gives their statuses. */
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]);

export const ErrorSchema = z
  .object({
    error: z.object({
      code: ErrorCodeSchema,
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })),
    }),
  })
  .openapi("Error");

export const IsoTime = z.string().openapi({ format: "date-time", example: "2026-11-21T10:00:00.000Z" });

/**
 * JSON object bags (metadata, message data) are capped so one row cannot grow without bound,
 * in size and in depth. Depth is checked first: a value too deep to walk is never serialised.
 */
export function boundedObject(maxBytes: number) {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    if (jsonDepth(value) > MAX_JSON_DEPTH) {
      ctx.addIssue({ code: "custom", message: `must nest at most ${MAX_JSON_DEPTH} levels (the object itself is level 1)` });
    } else if (new TextEncoder().encode(JSON.stringify(value)).byteLength > maxBytes) {
      ctx.addIssue({ code: "custom", message: `must serialise to at most ${maxBytes} bytes` });
    }
  }).openapi({ description: `A JSON object of at most ${maxBytes} bytes, nesting at most ${MAX_JSON_DEPTH} levels (the object itself is level 1)` });
}

/** Ids are opaque strings; this only keeps them bounded and printable. */
export const IdSchema = z.string().min(1).max(128);

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export function errorResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: "Validation error (details name the fields)",
    401: "Missing, expired or invalid token",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Payload too large",
    429: "Rate limit exceeded (see Retry-After)",
  };
  return Object.fromEntries(statuses.map((s) => [s, jsonResponse(ErrorSchema, descriptions[s] ?? "Error")]));
}

/**
 * An http(s) URL stored as given. Whitespace and control characters are refused rather than
 * silently dropped by the URL parser, so what is stored is what was checked.
 */
export const HttpUrl = z
  .string()
  .max(2048)
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, "must not contain spaces or control characters")
  .pipe(z.url({ protocol: /^https?$/, error: "must be an http or https URL" }));
