import { z } from "@hono/zod-openapi";

export const ErrorCodeSchema = z.enum([
  "AUTHENTICATION_REQUIRED",
  "INVALID_TOKEN",
  "CHAT_ACCESS_DENIED",
  "NOT_FRIENDS",
  "BLOCKED",
  "FORBIDDEN",
  "CONVERSATION_NOT_FOUND",
  "MESSAGE_NOT_FOUND",
  "USER_NOT_FOUND",
  "NOT_FOUND",
  "VALIDATION_ERROR",
  "CONVERSATION_CLOSED",
  "OFFER_NOT_PENDING",
  "FILE_TOO_LARGE",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_FILE_TYPE",
  "RATE_LIMIT_EXCEEDED",
  "INTERNAL",
]);

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

/** JSON object bags (metadata, message data) are capped so one row cannot grow without bound. */
export function boundedObject(maxBytes: number) {
  return z
    .record(z.string(), z.unknown())
    .refine((value) => new TextEncoder().encode(JSON.stringify(value)).byteLength <= maxBytes, {
      message: `must serialise to at most ${maxBytes} bytes`,
    });
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
