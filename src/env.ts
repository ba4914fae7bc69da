import type { ConversationDO } from "./conversation/conversation-do";
import type { IpLimiterDO } from "./limits/ip-limiter-do";
import type { UserDO } from "./user/user-do";
import type { WebhookJob } from "./webhooks/jobs";

/** Bindings and [vars] from wrangler.toml. Vars arrive as strings; src/lib/config.ts parses them. */
export interface Env {
  DB: D1Database;
  BUCKET: R2Bucket;
  ASSETS: Fetcher;
  CONVERSATIONS: DurableObjectNamespace<ConversationDO>;
  USERS: DurableObjectNamespace<UserDO>;
  IP_LIMITER: DurableObjectNamespace<IpLimiterDO>;
  /** Summaries and read cursors on their way to D1, written in batches across conversations; JSON text (see encodeMirror). */
  MIRROR: Queue<string>;
  /** Webhook events and message.unread checks on their way to WEBHOOK_URL (src/webhooks). */
  WEBHOOKS: Queue<WebhookJob>;
  ENVIRONMENT?: string;
  DEV_LOGIN?: string;
  JWT_SECRET?: string;
  JWT_JWKS_URL?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  TOKEN_TTL_SECONDS?: string;
  ADMIN_EMAILS?: string;
  DM_POLICY?: string;
  MAX_MESSAGE_LENGTH?: string;
  MAX_UPLOAD_BYTES?: string;
  DEFAULT_CURRENCY?: string;
  RATE_MESSAGES_PER_MIN?: string;
  RATE_TYPING_PER_MIN?: string;
  RATE_PINGS_PER_MIN?: string;
  RATE_UPLOADS_PER_MIN?: string;
  RATE_VOICE_NOTES_PER_MIN?: string;
  RATE_REACTIONS_PER_MIN?: string;
  RATE_CONVERSATIONS_PER_MIN?: string;
  MAX_REACTIONS_PER_MESSAGE?: string;
  RATE_LOGINS_PER_MIN_PER_IP?: string;
  RATE_CONNECTS_PER_MIN_PER_IP?: string;
  PRESENCE_GRACE_MS?: string;
  TYPING_TIMEOUT_MS?: string;
  CORS_ORIGINS?: string;
  WEBHOOK_URL?: string;
  WEBHOOK_SECRET?: string;
  /** The first retry's delay; later ones double it (src/webhooks/retry.ts). Lowered by the tests. */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
}

/** Who is calling, as established by src/auth. */
export interface Identity {
  id: string;
  email: string | null;
  name: string | null;
  roles: string[];
  isAdmin: boolean;
  /** The app's own backend (`roles` holds `service`): acts on any conversation, never a participant, never online. */
  isService: boolean;
  /** Token expiry, seconds since the epoch; sockets close with 4001 after it. */
  exp: number;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { identity: Identity };
}
