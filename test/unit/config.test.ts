import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { allowedOrigin } from "../../src/lib/cors";
import { readConfig } from "../../src/lib/config";

const config = (vars: Partial<Env>) => readConfig(vars as Env);

describe("configuration", () => {
  it("TYPING_TIMEOUT_MS: 5000 by default, a positive number otherwise", () => {
    expect(config({}).typingTimeoutMs).toBe(5_000);
    expect(config({ TYPING_TIMEOUT_MS: "250" }).typingTimeoutMs).toBe(250);
    expect(config({ TYPING_TIMEOUT_MS: "soon" }).typingTimeoutMs).toBe(5_000);
    expect(config({ TYPING_TIMEOUT_MS: "0" }).typingTimeoutMs).toBe(5_000);
  });

  it("CORS_ORIGINS: none by default, a trimmed list, or * for any", () => {
    expect(config({}).corsOrigins).toEqual([]);
    expect(config({ CORS_ORIGINS: "" }).corsOrigins).toEqual([]);
    expect(config({ CORS_ORIGINS: " https://a.test , https://b.test/ ," }).corsOrigins).toEqual(["https://a.test", "https://b.test"]);
    expect(config({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  it("allowedOrigin answers a listed origin with itself, * with *, anything else with nothing", () => {
    expect(allowedOrigin(["https://a.test"], "https://a.test")).toBe("https://a.test");
    expect(allowedOrigin(["https://a.test"], "https://evil.test")).toBeNull();
    expect(allowedOrigin(["https://a.test"], "")).toBeNull();
    expect(allowedOrigin([], "https://a.test")).toBeNull();
    expect(allowedOrigin("*", "https://any.test")).toBe("*");
  });
});
