import { z } from "@hono/zod-openapi";

/**
 * Validation messages in plain words ("must be a number", "must be one of: direct, group"),
 * installed as zod's global error map so every schema speaks them; a message a schema gives
 * itself (a regex's, a refinement's) still wins. Pure: it reads only the issue.
 */
export function plainMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? "is required" : `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case "too_small":
      return bound("at least", issue.origin, issue.minimum, issue.inclusive !== false, "greater than");
    case "too_big":
      return bound("at most", issue.origin, issue.maximum, issue.inclusive !== false, "less than");
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${show(issue.values[0])}` : `must be one of: ${issue.values.map(show).join(", ")}`;
    case "invalid_format":
      return FORMAT_WORDS[issue.format] ?? "has an invalid format";
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "unrecognized_keys":
      return `${issue.keys.length === 1 ? "is not a known field" : "are not known fields"}: ${issue.keys.join(", ")}`;
    case "invalid_key":
      return "has a key that is not allowed";
    case "invalid_union":
      return unionMessage(issue.errors);
    default:
      return "is not valid";
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "an object",
  record: "an object",
  array: "a list",
  null: "null",
};

const FORMAT_WORDS: Record<string, string> = {
  email: "must be an email address",
  url: "must be a URL",
  datetime: "must be an ISO-8601 time",
  regex: "has an invalid format",
};

const UNITS: Record<string, string> = { string: " characters", array: " items", set: " items", file: " bytes" };

function bound(words: string, origin: string, limit: number | bigint | Date, inclusive: boolean, exclusiveWords: string): string {
  const n = Number(limit);
  // The common length rules read best said directly.
  if (origin === "string" && words === "at least" && n === 1 && inclusive) return "must not be empty";
  if (origin === "array" && words === "at least" && n === 1 && inclusive) return "must not be empty";
  return `must be ${inclusive ? words : exclusiveWords} ${String(limit)}${UNITS[origin] ?? ""}`;
}

/** "must be text or a number" when every alternative wanted another type, else a plain refusal. */
function unionMessage(alternatives: ReadonlyArray<ReadonlyArray<{ code: string; path: ReadonlyArray<PropertyKey>; expected?: unknown }>>): string {
  const wanted = alternatives.map((issues) => (issues.length === 1 && issues[0]!.code === "invalid_type" && issues[0]!.path.length === 0 ? issues[0]!.expected : undefined));
  if (wanted.length > 0 && wanted.every((w) => typeof w === "string")) return `must be ${wanted.map((w) => TYPE_WORDS[w as string] ?? w).join(" or ")}`;
  return "is not any of the allowed forms";
}

const show = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

/** Makes plainMessage zod's global error map (idempotent; called where schemas are defined, src/schemas/common.ts). */
export function speakPlainly(): void {
  z.config({ customError: plainMessage });
}
