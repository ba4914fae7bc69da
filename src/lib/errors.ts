import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every documented error code with its HTTP status (DESIGN.md, Conventions). */
export const ERROR_STATUS = {
  AUTHENTICATION_REQUIRED: 401,
  INVALID_TOKEN: 401,
  CHAT_ACCESS_DENIED: 403,
  NOT_FRIENDS: 403,
  BLOCKED: 403,
  FORBIDDEN: 403,
  CONVERSATION_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  VALIDATION_ERROR: 400,
  CONVERSATION_CLOSED: 409,
  OFFER_NOT_PENDING: 409,
  FILE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_FILE_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  field: string;
  message: string;
}

/** A plain, serialisable error: what crosses the Durable Object RPC boundary. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
  retryAfterMs?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetail[]; retryAfterMs?: number } = {}) {
    super(message);
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }

  static from(info: ErrorInfo): AppError {
    return new AppError(info.code, info.message, { details: info.details, retryAfterMs: info.retryAfterMs });
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, details: this.details, retryAfterMs: this.retryAfterMs };
  }
}

export function validationError(field: string, message: string): AppError {
  return new AppError("VALIDATION_ERROR", `${field}: ${message}`, { details: [{ field, message }] });
}

/** The JSON envelope of DESIGN.md: {"error": {"code", "message", "details"}}. */
export function errorBody(error: AppError): { error: { code: ErrorCode; message: string; details: ErrorDetail[] } } {
  return { error: { code: error.code, message: error.message, details: error.details ?? [] } };
}

export function errorResponse(error: AppError): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (error.retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  return new Response(JSON.stringify(errorBody(error)), { status: error.status, headers });
}

type ZodIssueLike = { path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: readonly string[] };

/** Names each zod issue's field by its path (`root` for the whole value); an unknown key is named as the field itself, not as its parent object. */
export function issueDetails(issues: ReadonlyArray<ZodIssueLike>, root: string): ErrorDetail[] {
  const fieldOf = (path: ReadonlyArray<PropertyKey>) => (path.length ? path.map(String).join(".") : root);
  return issues.flatMap((issue) =>
    issue.code === "unrecognized_keys" && issue.keys?.length
      ? issue.keys.map((key) => ({ field: fieldOf([...issue.path, key]), message: "is not a known field" }))
      : [{ field: fieldOf(issue.path), message: issue.message }],
  );
}

/** One line saying every detail, for an error's `message`. */
export const detailSummary = (details: ErrorDetail[]): string => details.map((d) => `${d.field}: ${d.message}`).join("; ");

/** Turns zod issues into a VALIDATION_ERROR whose details name each field. */
export function fromZodIssues(issues: ReadonlyArray<ZodIssueLike>, root = "body"): AppError {
  const details = issueDetails(issues, root);
  return new AppError("VALIDATION_ERROR", detailSummary(details) || "invalid request", { details });
}
