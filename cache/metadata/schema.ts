/**
 * The metadata database's layout and its migrations. The schema version is
 * SQLite's `PRAGMA user_version`; MIGRATIONS[i] takes a database from version
 * i to i + 1, in one transaction. A database newer than this code knows (a
 * downgrade) is not guessed at: the store wipes it, as it is only a cache.
 *
 * Paths are mount paths ('/', '/a/b'); TEXT compares byte-wise (BINARY
 * collation on UTF-8), the order S3 lists keys in, so a subtree is the range
 * `[dir + '/', dir + '0')` ('0' is the byte after '/').
 */
import type { Database } from 'better-sqlite3';

/** Version 1: entries, negative entries, the remote identity. */
const V1 = `
  CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE entries (
    path TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    name TEXT NOT NULL,
    ino INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    atime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    etag TEXT,
    last_modified INTEGER,
    source TEXT NOT NULL,
    marker INTEGER NOT NULL DEFAULT 0,
    symlink_target TEXT,
    metadata TEXT,
    content_type TEXT,
    local_only INTEGER NOT NULL DEFAULT 0,
    validated_at INTEGER NOT NULL,
    listed_at INTEGER,
    seen_gen INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX entries_by_parent ON entries (parent, name);
  CREATE TABLE negatives (path TEXT PRIMARY KEY, validated_at INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Version 2: the directory-rename journal (the keys to move and how far each got). */
const V2 = `
  CREATE TABLE journals (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    from_path TEXT NOT NULL,
    to_path TEXT NOT NULL,
    from_key TEXT NOT NULL,
    to_key TEXT NOT NULL,
    started_at INTEGER NOT NULL
  );
  CREATE TABLE journal_items (
    journal_id INTEGER NOT NULL REFERENCES journals (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (journal_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX journal_items_by_state ON journal_items (journal_id, state);
`;

export const MIGRATIONS: readonly string[] = [V1, V2];
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies the migrations from the database's version up to `target`
 * (default: the newest), each in its own transaction with its version bump.
 */
export function migrate(db: Database, target = SCHEMA_VERSION): void {
  for (let version = schemaVersion(db); version < target; version++) {
    const step = db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    });
    step();
  }
}
