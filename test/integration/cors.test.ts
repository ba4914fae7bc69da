import { describe, expect, it } from "vitest";
import { buildRequest, fetchWith, login } from "../helpers/api";

// DESIGN.md, Cross-origin clients: CORS_ORIGINS on every /api/* route, preflight included (before
// authentication), with Authorization and Content-Type allowed.

const APP = "https://app.example";

function preflight(vars: Record<string, string | undefined>, origin: string, path = "/api/v1/conversations") {
  const request = buildRequest(path, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });
  return fetchWith(vars, request);
}

const allowedHeaders = (response: Response) => (response.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(",");

describe("CORS", () => {
  it("a preflight from a listed origin is answered before authentication, allowing Authorization and Content-Type", async () => {
    const response = await preflight({ CORS_ORIGINS: `https://other.example, ${APP}` }, APP);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(allowedHeaders(response)).toEqual(expect.arrayContaining(["authorization", "content-type"]));
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("an origin that is not listed gets no allow-origin (the browser refuses), still without a 401", async () => {
    const response = await preflight({ CORS_ORIGINS: APP }, "https://evil.example");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("* allows any origin", async () => {
    const response = await preflight({ CORS_ORIGINS: "*" }, "https://anyone.example", "/api/v1/users/me");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("by default (empty) no origin is allowed: same origin only", async () => {
    const response = await preflight({ CORS_ORIGINS: undefined }, APP);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.status).not.toBe(401);
  });

  it("actual requests carry the answer too, errors included", async () => {
    const user = await login("cors");
    const ok = await fetchWith({ CORS_ORIGINS: APP }, "/api/v1/users/me", { token: user.token, headers: { origin: APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    expect(ok.headers.get("access-control-expose-headers")).toContain("Retry-After");
    const unauthenticated = await fetchWith({ CORS_ORIGINS: APP }, "/api/v1/users/me", { headers: { origin: APP } });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("access-control-allow-origin")).toBe(APP);
    const other = await fetchWith({ CORS_ORIGINS: APP }, "/api/v1/users/me", { token: user.token, headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
