import { expect } from "vitest";

export type ErrorResult = { status: number; body: any };

/** The fields named by the details of an error body. */
export const fieldsOf = (body: any): string[] => body.error.details.map((d: { field: string }) => d.field);

/**
 * Asserts the documented error envelope — exactly {"error": {"code", "message", "details"}} with a
 * non-empty message — with this status and code, and that the details name every one of `fields`
 * (a field name, or a pattern one of them must match).
 */
export function expectError(result: ErrorResult, status: number, code: string, fields?: string | RegExp | (string | RegExp)[]): void {
  expect({ status: result.status, code: result.body?.error?.code }, JSON.stringify(result.body)).toEqual({ status, code });
  expect(Object.keys(result.body)).toEqual(["error"]);
  expect(result.body).toEqual({ error: { code, message: expect.any(String), details: expect.any(Array) } });
  expect(result.body.error.message.length).toBeGreaterThan(0);
  if (fields === undefined) return;
  const named = fieldsOf(result.body);
  for (const field of Array.isArray(fields) ? fields : [fields]) {
    if (typeof field === "string") expect(named).toContain(field);
    else expect(named.some((f) => field.test(f)), `a field matching ${field} in ${JSON.stringify(named)}`).toBe(true);
  }
}

/** A 400 VALIDATION_ERROR whose details name `field`. */
export function expectFieldError(result: ErrorResult, field: string | RegExp): void {
  expectError(result, 400, "VALIDATION_ERROR", field);
}
