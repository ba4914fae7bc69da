import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Env, Identity } from "../env";
import { readConfig } from "../lib/config";
import { DEV_JWT_SECRET } from "../lib/dev-defaults";
import { AppError } from "../lib/errors";

/** Asymmetric algorithms accepted from an external identity provider. "none" and HS* never are. */
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySetFor(url: string): ReturnType<typeof createRemoteJWKSet> {
  let set = remoteKeySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url));
    remoteKeySets.set(url, set);
  }
  return set;
}

/** The HS256 key, or an INTERNAL error when a deployment would otherwise sign with the development value. */
export function signingKey(env: Env): Uint8Array {
  const secret = env.JWT_SECRET;
  if (!secret || (!readConfig(env).development && secret === DEV_JWT_SECRET)) {
    console.error(
      secret
        ? "JWT_SECRET is the development value outside local development: run `wrangler secret put JWT_SECRET`"
        : "JWT_SECRET is not set: run `wrangler secret put JWT_SECRET`",
    );
    throw new AppError("INTERNAL", "server is not configured for authentication");
  }
  return new TextEncoder().encode(secret);
}

/** The HS256 key imported once per secret: importing the raw bytes for every token cost each request a WebCrypto call. */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(env: Env): Promise<CryptoKey> {
  const bytes = signingKey(env);
  const secret = env.JWT_SECRET!;
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

export interface TokenSubject {
  id: string;
  email: string | null;
  name: string;
}

/** Signs a user's token, valid for TOKEN_TTL_SECONDS unless the caller (the service) asks for another lifetime. */
export async function issueToken(
  env: Env,
  user: TokenSubject,
  { now = Date.now(), expiresIn = readConfig(env).tokenTtlSeconds }: { now?: number; expiresIn?: number } = {},
): Promise<{ token: string; expiresIn: number }> {
  const jwt = new SignJWT({ email: user.email ?? undefined, name: user.name, roles: [] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor(now / 1000) + expiresIn);
  if (env.JWT_ISSUER) jwt.setIssuer(env.JWT_ISSUER);
  if (env.JWT_AUDIENCE) jwt.setAudience(env.JWT_AUDIENCE);
  return { token: await jwt.sign(await hmacKey(env)), expiresIn };
}

function rolesFrom(claim: unknown): string[] {
  if (typeof claim === "string") return claim.split(/[ ,]+/).filter(Boolean);
  if (Array.isArray(claim)) return claim.filter((r): r is string => typeof r === "string");
  return [];
}

/** Admins by role or by ADMIN_EMAILS; the app's backend by the `service` role only. */
export function privilegesOf(env: Env, roles: string[], email: string | null): Pick<Identity, "isAdmin" | "isService"> {
  return {
    isAdmin: roles.includes("admin") || (email !== null && readConfig(env).adminEmails.has(email)),
    isService: roles.includes("service"),
  };
}

export function identityFromClaims(env: Env, payload: JWTPayload): Identity {
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 128) {
    throw new AppError("INVALID_TOKEN", "token has no usable subject");
  }
  const email = typeof payload.email === "string" ? payload.email.trim().toLowerCase() : null;
  const name = typeof payload.name === "string" ? payload.name : null;
  const roles = rolesFrom(payload.roles);
  return { id: payload.sub, email, name, roles, ...privilegesOf(env, roles, email), exp: payload.exp as number };
}

/**
 * Verifies a bearer token: HS256 against JWT_SECRET, or, when JWT_JWKS_URL is set, an
 * asymmetric token of the external provider. Algorithms are pinned per key type, `exp` is
 * required, and JWT_ISSUER / JWT_AUDIENCE are checked whenever they are set.
 */
export async function verifyToken(env: Env, token: string): Promise<Identity> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new AppError("INVALID_TOKEN", "token is malformed");
  }
  const options = {
    requiredClaims: ["exp", "sub"],
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE || undefined,
  };
  try {
    if (alg === "HS256") {
      const { payload } = await jwtVerify(token, await hmacKey(env), { ...options, algorithms: ["HS256"] });
      return identityFromClaims(env, payload);
    }
    if (env.JWT_JWKS_URL && alg && JWKS_ALGORITHMS.includes(alg)) {
      const { payload } = await jwtVerify(token, keySetFor(env.JWT_JWKS_URL), { ...options, algorithms: JWKS_ALGORITHMS });
      return identityFromClaims(env, payload);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof errors.JWTExpired) throw new AppError("INVALID_TOKEN", "token has expired");
    if (err instanceof errors.JOSEError) throw new AppError("INVALID_TOKEN", `token rejected: ${err.code}`);
    throw err;
  }
  throw new AppError("INVALID_TOKEN", `token algorithm ${alg ?? "(none)"} is not accepted`);
}
