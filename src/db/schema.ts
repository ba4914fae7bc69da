import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** People. Email is stored lower-cased so lookups and prefix search are exact range scans. */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email"),
    name: text("name").notNull(),
    /** name.toLowerCase() from JavaScript: SQLite's lower() folds ASCII only, which would hide "Élodie". */
    nameLower: text("name_lower").notNull(),
    avatarUrl: text("avatar_url"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /**
     * Presence, a mirror of the user's Durable Object: it queues each change (first socket
     * opens, last closes) and the mirror's consumer writes many users' in one D1 batch. The
     * stamp orders one user's changes, so a late or redelivered one never moves it back.
     */
    online: integer("online", { mode: "boolean" }).notNull().default(false),
    lastSeenAt: text("last_seen_at"),
    presenceStamp: integer("presence_stamp").notNull().default(0),
    /**
     * An inbox socket of the user is open (or closed within the grace period), written by the
     * user's object before its first inbox is answered: a conversation adding the user asks
     * their object whether to notify it only then, so building a big group creates no objects.
     */
    inboxOpen: integer("inbox_open", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [
    uniqueIndex("users_email_unique").on(t.email),
    index("users_name_lower_idx").on(t.nameLower),
  ],
);

/**
 * Each word of each user's name (lower-cased, from JavaScript like name_lower), so a search by
 * the prefix of any word of a name ("sell" finds "Alice Seller") is a range scan over the
 * primary key. Kept in step by src/db/users.ts wherever a user's name is written.
 */
export const userNameWords = sqliteTable(
  "user_name_words",
  {
    word: text("word").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.word, t.userId] }), index("user_name_words_user_idx").on(t.userId)],
);

/**
 * Conversations and their summary. The summary columns (last_seq, last_message,
 * last_message_at, last_activity_at, sender_seqs) are written only by the conversation's
 * Durable Object, in one UPDATE per flush.
 */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    type: text("type", { enum: ["direct", "group"] }).notNull(),
    title: text("title"),
    status: text("status", { enum: ["active", "closed"] }).notNull().default("active"),
    contextType: text("context_type"),
    contextId: text("context_id"),
    context: text("context", { mode: "json" }).$type<Record<string, unknown>>(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>(),
    /** Set for direct conversations only: the sorted pair plus context, so create-or-get is one unique lookup. */
    directKey: text("direct_key"),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastSeq: integer("last_seq").notNull().default(0),
    lastMessage: text("last_message", { mode: "json" }).$type<Record<string, unknown>>(),
    lastMessageAt: text("last_message_at"),
    lastActivityAt: text("last_activity_at").notNull(),
    /** Orders the summary writes of the conversation's object (queued ones may arrive late or twice): an older one never overwrites a newer. */
    mirrorStamp: integer("mirror_stamp").notNull().default(0),
    /** How many participants the conversation has (mirrored by its object with the participant rows). */
    participantCount: integer("participant_count").notNull().default(0),
    /** {user_id: seq of that user's latest message}; sending moves the sender's read cursor. */
    senderSeqs: text("sender_seqs", { mode: "json" }).$type<Record<string, number>>().notNull().default({}),
  },
  (t) => [
    uniqueIndex("conversations_direct_key_unique").on(t.directKey),
    index("conversations_context_idx").on(t.contextType, t.contextId),
    index("conversations_activity_idx").on(t.lastActivityAt, t.id),
  ],
);

export const participants = sqliteTable(
  "participants",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["buyer", "seller", "client", "provider", "member"] }).notNull().default("member"),
    /** Explicit read cursor; the effective one is max(this, the user's own latest seq). */
    lastReadSeq: integer("last_read_seq").notNull().default(0),
    joinedAt: text("joined_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index("participants_user_idx").on(t.userId, t.conversationId),
    /** A conversation's participants in join order, as its object lists them: the first 100 are a range, at any size. */
    index("participants_join_order_idx").on(t.conversationId, t.joinedAt, t.userId),
  ],
);

/** One-use WebSocket tickets (30 s). Consumed with DELETE … RETURNING so a ticket works once. */
export const wsTickets = sqliteTable(
  "ws_tickets",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
    email: text("email"),
    tokenExp: integer("token_exp").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("ws_tickets_expires_idx").on(t.expiresAt)],
);

/** Attachment metadata; the bytes live in R2 under `r2_key`, a key the server chose. */
export const attachments = sqliteTable(
  "attachments",
  {
    id: text("id").primaryKey(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    uploaderId: text("uploader_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    r2Key: text("r2_key").notNull(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    kind: text("kind", { enum: ["image", "audio", "document"] }).notNull(),
    durationMs: integer("duration_ms"),
    createdAt: text("created_at").notNull(),
    /** Set when the message carrying it is deleted: the bytes are withheld from then on. */
    deletedAt: text("deleted_at"),
  },
  (t) => [index("attachments_conversation_idx").on(t.conversationId, t.createdAt)],
);

/** Friend requests; accepting one also writes two `friendships` rows (the friendship itself). */
export const friendRequests = sqliteTable(
  "friend_requests",
  {
    id: text("id").primaryKey(),
    fromUserId: text("from_user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    toUserId: text("to_user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "accepted", "declined"] }).notNull().default("pending"),
    createdAt: text("created_at").notNull(),
    respondedAt: text("responded_at"),
  },
  (t) => [
    uniqueIndex("friend_requests_pair_unique").on(t.fromUserId, t.toUserId),
    index("friend_requests_to_idx").on(t.toUserId, t.status),
  ],
);

/** One row per direction, so "my friends" is a single index range. */
export const friendships = sqliteTable(
  "friendships",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    friendId: text("friend_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.friendId] })],
);

export const blocks = sqliteTable(
  "blocks",
  {
    blockerId: text("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: text("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index("blocks_blocked_idx").on(t.blockedId)],
);

/**
 * What the mirror queue's consumer has done (one row, id 1), counted inside the same D1 batch
 * it writes, so the meter adds no request: how many batches (D1 requests), queue messages and
 * statements. Read by admins (GET /api/v1/admin/mirror) and the benchmarks.
 */
export const mirrorMeter = sqliteTable("mirror_meter", {
  id: integer("id").primaryKey(),
  batches: integer("batches").notNull().default(0),
  messages: integer("messages").notNull().default(0),
  statements: integer("statements").notNull().default(0),
});

/**
 * Webhook events that could not be delivered after every retry (src/webhooks/consumer.ts), for
 * admins to read (GET /api/v1/admin/webhook-failures) and replay by hand.
 */
export const webhookFailures = sqliteTable(
  "webhook_failures",
  {
    eventId: text("event_id").primaryKey(),
    type: text("type").notNull(),
    conversationId: text("conversation_id").notNull(),
    attempts: integer("attempts").notNull(),
    lastError: text("last_error").notNull(),
    /** The event exactly as it was POSTed (JSON). */
    event: text("event", { mode: "json" }).notNull(),
    failedAt: text("failed_at").notNull(),
  },
  (t) => [index("webhook_failures_failed_at_idx").on(t.failedAt)],
);
