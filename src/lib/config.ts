import type { Env } from "../env";

/** The tunables of wrangler.toml [vars], parsed once per call site with their documented defaults. */
export interface Config {
  devLogin: boolean;
  /** Local development (`.dev.vars` of `npm run dev`): the only place the development JWT_SECRET is accepted. */
  development: boolean;
  tokenTtlSeconds: number;
  adminEmails: Set<string>;
  dmPolicy: "open" | "friends";
  maxMessageLength: number;
  maxUploadBytes: number;
  /** Distinct emoji on one message. */
  maxReactionsPerMessage: number;
  defaultCurrency: string;
  /** How long after someone's last socket closes their going offline is announced. */
  presenceGraceMs: number;
  /** A typing.start not refreshed within this long expires and is broadcast as stopped. */
  typingTimeoutMs: number;
  /** Origins whose browsers may call /api/* (CORS): "*" for any, none for same origin only. */
  corsOrigins: "*" | string[];
  /** Per-user token buckets, each N per minute (see src/conversation/limiter.ts for who spends which). */
  rates: { messagesPerMin: number; typingPerMin: number; pingsPerMin: number; uploadsPerMin: number; voiceNotesPerMin: number; reactionsPerMin: number; conversationsPerMin: number };
  ipRates: { loginsPerMin: number; ticketsPerMin: number; connectsPerMin: number };
  /** Null unless both WEBHOOK_URL and WEBHOOK_SECRET are set: then no event is even made. */
  webhooks: WebhookSettings | null;
}

export interface WebhookSettings {
  url: string;
  secret: string;
  /** The first retry's delay in seconds; each later one doubles it, up to a cap. */
  retryBaseSeconds: number;
}

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

function nonNegativeInt(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}

/** CORS_ORIGINS: "*", or comma-separated origins (a trailing slash is forgiven: an Origin header never has one). */
function origins(raw: string | undefined): "*" | string[] {
  const list = (raw ?? "").split(",").map((o) => o.trim().replace(/\/+$/, "")).filter(Boolean);
  return list.includes("*") ? "*" : list;
}

export function readConfig(env: Env): Config {
  return {
    // Off unless explicitly enabled: a deployment without the variable has no development login.
    devLogin: env.DEV_LOGIN?.toLowerCase() === "true",
    development: env.ENVIRONMENT === "development",
    tokenTtlSeconds: positiveInt(env.TOKEN_TTL_SECONDS, 86_400),
    adminEmails: new Set(
      (env.ADMIN_EMAILS ?? "")
        .split(",")
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
    dmPolicy: env.DM_POLICY === "friends" ? "friends" : "open",
    maxMessageLength: positiveInt(env.MAX_MESSAGE_LENGTH, 1000),
    maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 10 * 1024 * 1024),
    maxReactionsPerMessage: positiveInt(env.MAX_REACTIONS_PER_MESSAGE, 50),
    presenceGraceMs: nonNegativeInt(env.PRESENCE_GRACE_MS, 3_000),
    typingTimeoutMs: positiveInt(env.TYPING_TIMEOUT_MS, 5_000),
    corsOrigins: origins(env.CORS_ORIGINS),
    defaultCurrency: /^[A-Z]{3}$/.test(env.DEFAULT_CURRENCY ?? "") ? env.DEFAULT_CURRENCY! : "USD",
    rates: {
      messagesPerMin: positiveInt(env.RATE_MESSAGES_PER_MIN, 30),
      typingPerMin: positiveInt(env.RATE_TYPING_PER_MIN, 10),
      pingsPerMin: positiveInt(env.RATE_PINGS_PER_MIN, 30),
      uploadsPerMin: positiveInt(env.RATE_UPLOADS_PER_MIN, 10),
      voiceNotesPerMin: positiveInt(env.RATE_VOICE_NOTES_PER_MIN, 10),
      reactionsPerMin: positiveInt(env.RATE_REACTIONS_PER_MIN, 60),
      conversationsPerMin: positiveInt(env.RATE_CONVERSATIONS_PER_MIN, 10),
    },
    ipRates: {
      loginsPerMin: positiveInt(env.RATE_LOGINS_PER_MIN_PER_IP, 20),
      // Tickets are issued right before a socket connects, so they share the connect allowance.
      ticketsPerMin: positiveInt(env.RATE_CONNECTS_PER_MIN_PER_IP, 60),
      connectsPerMin: positiveInt(env.RATE_CONNECTS_PER_MIN_PER_IP, 60),
    },
    webhooks:
      env.WEBHOOK_URL && env.WEBHOOK_SECRET
        ? { url: env.WEBHOOK_URL, secret: env.WEBHOOK_SECRET, retryBaseSeconds: positiveInt(env.WEBHOOK_RETRY_BASE_SECONDS, 10) }
        : null,
  };
}
