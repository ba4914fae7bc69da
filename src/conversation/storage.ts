/**
 * True of a message id of the older, random-only form (no second underscore): only those are in
 * the partial index of ids, and a lookup names this same condition to use it.
 */
export const OLDER_MESSAGE_ID = "instr(substr(id, 5), '_') = 0";

/**
 * A log longer than this keeps its unique index of ids through the rebuild below: copying it
 * would hold up the object's first wake-up after a deploy and bill a write for every row and
 * index entry copied. Its ids, older ones included, are then found through that index.
 */
export const REBUILD_LIMIT = 10_000;

/**
 * Rebuilds the log without the unique index of ids, which every insert wrote (ids name their
 * seq now); ids of the older, random-only form get a partial index of their own. SQLite cannot
 * drop a column's UNIQUE constraint, so the table is copied (the SQLite ALTER TABLE procedure).
 */
function rebuildWithoutIdIndex(sql: SqlStorage): void {
  // seq is gapless from 1, so the last one is the row count.
  const rows = sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM messages").one().seq ?? 0;
  if (rows > REBUILD_LIMIT) return;
  sql.exec(`CREATE TABLE messages_next (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL,
     sender_id TEXT,
     type TEXT NOT NULL,
     content TEXT,
     data TEXT,
     reply_to TEXT,
     attachment TEXT,
     client_id TEXT,
     created_at TEXT NOT NULL,
     edited_at TEXT,
     deleted_at TEXT,
     sender TEXT
   );
   INSERT INTO messages_next (seq, id, sender_id, type, content, data, reply_to, attachment, client_id, created_at, edited_at, deleted_at, sender)
     SELECT seq, id, sender_id, type, content, data, reply_to, attachment, client_id, created_at, edited_at, deleted_at, sender FROM messages;
   DROP TABLE messages;
   ALTER TABLE messages_next RENAME TO messages;
   CREATE UNIQUE INDEX messages_sender_client ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;
   CREATE UNIQUE INDEX messages_older_id ON messages(id) WHERE ${OLDER_MESSAGE_ID};`);
}

/**
 * The conversation Durable Object's SQLite schema. Each entry runs once, in order; the applied
 * count lives in the `state` table, so adding a migration is appending to this list. A step is
 * SQL, or a function for a step that depends on what the object holds.
 */
const MIGRATIONS: (string | ((sql: SqlStorage) => void))[] = [
  `CREATE TABLE messages (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     sender_id TEXT,
     type TEXT NOT NULL,
     content TEXT,
     data TEXT,
     reply_to TEXT,
     attachment TEXT,
     client_id TEXT,
     created_at TEXT NOT NULL,
     edited_at TEXT,
     deleted_at TEXT
   );
   CREATE UNIQUE INDEX messages_sender_client ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;
   CREATE TABLE members (
     user_id TEXT PRIMARY KEY,
     read_seq INTEGER NOT NULL DEFAULT 0,
     last_sent_seq INTEGER NOT NULL DEFAULT 0,
     mirrored_read_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE buckets (
     user_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     tokens REAL NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, kind)
   );
   CREATE TABLE typing (user_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`,
  `CREATE INDEX messages_sender_seq ON messages(sender_id, seq);
   CREATE TABLE reactions (
     seq INTEGER NOT NULL,
     emoji TEXT NOT NULL,
     user_id TEXT NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (seq, emoji, user_id)
   );
   CREATE TABLE offers (
     id TEXT PRIMARY KEY,
     message_id TEXT NOT NULL,
     offerer_id TEXT NOT NULL,
     amount_minor INTEGER NOT NULL,
     currency TEXT NOT NULL,
     product_id TEXT,
     status TEXT NOT NULL,
     counter_of TEXT,
     responded_by TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE attachments (
     id TEXT PRIMARY KEY,
     uploader_id TEXT NOT NULL,
     info TEXT NOT NULL,
     seq INTEGER,
     withdrawn INTEGER NOT NULL DEFAULT 0,
     mirrored INTEGER NOT NULL DEFAULT 1
   );
   CREATE TABLE sessions (
     id INTEGER PRIMARY KEY,
     user_id TEXT NOT NULL,
     from_seq INTEGER NOT NULL,
     to_seq INTEGER
   );
   CREATE INDEX sessions_user ON sessions(user_id, from_seq);
   CREATE TABLE receipt_marks (
     user_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     seq INTEGER NOT NULL,
     at TEXT NOT NULL,
     PRIMARY KEY (user_id, kind, seq)
   );`,
  // The object owns its membership (see membership.ts); D1's participant rows mirror this table.
  `CREATE TABLE participants (
     user_id TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     joined_at TEXT NOT NULL,
     active INTEGER NOT NULL,
     version INTEGER NOT NULL,
     mirrored_version INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX participants_joined ON participants(joined_at, user_id) WHERE active = 1;
   CREATE INDEX participants_unmirrored ON participants(user_id) WHERE version > mirrored_version;
   CREATE TABLE inbox_watchers (user_id TEXT PRIMARY KEY);`,
  // Closed receipt sessions are merged and dropped (receipts.ts): ids must never be reused, or a
  // late close of a gone socket could close a newer session that took its id.
  `CREATE TABLE sessions_next (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     user_id TEXT NOT NULL,
     from_seq INTEGER NOT NULL,
     to_seq INTEGER
   );
   INSERT INTO sessions_next (id, user_id, from_seq, to_seq) SELECT id, user_id, from_seq, to_seq FROM sessions;
   DROP TABLE sessions;
   ALTER TABLE sessions_next RENAME TO sessions;
   CREATE INDEX sessions_user ON sessions(user_id, from_seq);`,
  // A role set by the app's backend or an admin can be changed only by them (membership.ts).
  `ALTER TABLE participants ADD COLUMN role_locked INTEGER NOT NULL DEFAULT 0;`,
  // Inbox sockets subscribed here, and the receipts sessions of subscriptions and open inboxes
  // (what reaches an inbox socket counts as delivered: user-sessions.ts).
  `CREATE TABLE subscribers (user_id TEXT PRIMARY KEY, session INTEGER NOT NULL);
   ALTER TABLE inbox_watchers ADD COLUMN session INTEGER NOT NULL DEFAULT 0;`,
  // Each message keeps its sender's profile as it was when sent; participants' profiles are
  // kept here so a send reads no D1 (membership.ts).
  `ALTER TABLE messages ADD COLUMN sender TEXT;
   ALTER TABLE participants ADD COLUMN name TEXT;
   ALTER TABLE participants ADD COLUMN avatar_url TEXT;`,
  // Full-text search (search-index.ts). Contentless (the text stays in `messages` only) and
  // columnsize=0 (no per-message size row): indexing a batch writes one row per message plus a
  // few segment rows, and it happens off the send path. Existing objects start unindexed and
  // are caught up by their first search.
  `CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2');`,
  // Every send wrote this index; what read it (when someone first sent after a message, for its
  // receipts) reads the later messages in seq order instead (receipts.ts).
  `DROP INDEX IF EXISTS messages_sender_seq;`,
  // Message ids carry their seq (lib/ids.ts): see rebuildWithoutIdIndex.
  rebuildWithoutIdIndex,
];

/** Whether this object was ever created: an object reached by an unknown id writes nothing. */
export function hasSchema(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").toArray().length > 0;
}

/** The schema version a migrated object has: the number of steps. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = sql.exec<{ value: string }>("SELECT value FROM state WHERE key = 'schema_version'").toArray()[0];
  const applied = row ? Number(row.value) : 0;
  for (let version = applied; version < MIGRATIONS.length; version++) {
    const step = MIGRATIONS[version]!;
    if (typeof step === "string") sql.exec(step);
    else step(sql);
    sql.exec("INSERT OR REPLACE INTO state (key, value) VALUES ('schema_version', ?)", String(version + 1));
  }
}

/** Small named values (the conversation's meta and version, the mirrored summary seq) in the `state` table. */
export class StateStore {
  /** Read through, written through: this object is the table's only writer. */
  private readonly cache = new Map<string, string | null>();

  constructor(private readonly sql: SqlStorage) {}

  get(key: string): string | null {
    let value = this.cache.get(key);
    if (value === undefined) {
      value = this.sql.exec<{ value: string }>("SELECT value FROM state WHERE key = ?", key).toArray()[0]?.value ?? null;
      this.cache.set(key, value);
    }
    return value;
  }

  set(key: string, value: string): void {
    this.sql.exec("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", key, value);
    this.cache.set(key, value);
  }

  /** A transaction rolled back: what was cached may not have been kept. */
  forget(): void {
    this.cache.clear();
  }
}
