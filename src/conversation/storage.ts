/**
 * The conversation Durable Object's SQLite schema. Each entry runs once, in order; the applied
 * count lives in the `state` table, so adding a migration is appending to this list.
 */
const MIGRATIONS: string[] = [
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
];

export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = sql.exec<{ value: string }>("SELECT value FROM state WHERE key = 'schema_version'").toArray()[0];
  const applied = row ? Number(row.value) : 0;
  for (let version = applied; version < MIGRATIONS.length; version++) {
    sql.exec(MIGRATIONS[version]!);
    sql.exec("INSERT OR REPLACE INTO state (key, value) VALUES ('schema_version', ?)", String(version + 1));
  }
}

/** Small named values (the conversation snapshot, the mirrored summary seq) in the `state` table. */
export class StateStore {
  constructor(private readonly sql: SqlStorage) {}

  get(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM state WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  set(key: string, value: string): void {
    this.sql.exec("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", key, value);
  }
}
