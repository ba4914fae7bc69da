import type { ErrorCode, ErrorDetail } from "./types.js";

/** Codes the SDK adds to the server's: the request never got an answer, or the answer was not the API's. */
export type ClientErrorCode = ErrorCode | "NETWORK_ERROR";

/** Every failed call of the SDK: the server's error envelope, with the HTTP status and Retry-After. */
export class ChatApiError extends Error {
  override readonly name = "ChatApiError";
  readonly code: ClientErrorCode;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The fields a VALIDATION_ERROR names. */
  readonly details: ErrorDetail[];
  /** Seconds to wait before retrying (429), from `Retry-After`; null when absent. */
  readonly retryAfter: number | null;

  constructor(init: { code: ClientErrorCode; message: string; status: number; details?: ErrorDetail[]; retryAfter?: number | null; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? [];
    this.retryAfter = init.retryAfter ?? null;
  }
}

/** A code for a response whose body is not the API's error envelope (a proxy's 502, say). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400) return "VALIDATION_ERROR";
  if (status === 401) return "AUTHENTICATION_REQUIRED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 415) return "UNSUPPORTED_FILE_TYPE";
  if (status === 429) return "RATE_LIMIT_EXCEEDED";
  return "INTERNAL";
}

/** DESIGN.md's table again: the SDK imports nothing at run time from the server's modules. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
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
};

/** The HTTP status that goes with a code, for errors that came over a socket. */
export function statusForCode(code: string): number {
  return STATUS_OF[code as ErrorCode] ?? 0;
}
