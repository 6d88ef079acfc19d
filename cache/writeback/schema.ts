/**
 * The write-back journal's layout (`<cacheDir>/writeback.db`) and its
 * migrations. The version is SQLite's `PRAGMA user_version`; MIGRATIONS[i]
 * takes the database from version i to i + 1 in one transaction. Unlike the
 * metadata cache, this database is not a cache: its rows are writes already
 * acknowledged to applications, so a database newer than this code is
 * refused (never wiped).
 */
import type { Database } from 'better-sqlite3';

/** Version 1: uploads owed to the bucket, and multipart uploads in progress. */
const V1 = `
  CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The earliest acknowledgement this row carries: a barrier waits for every row at or below its sequence.
    ack_seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    -- File name of the snapshot in <cacheDir>/staging/.
    staging TEXT NOT NULL,
    size INTEGER NOT NULL,
    -- A small snapshot's bytes, kept in the row (then the file is only a working copy, rewritten from here at start).
    content BLOB,
    metadata TEXT NOT NULL,
    content_type TEXT,
    base_etag TEXT,
    -- JSON array of keys to delete once this row is uploaded (names the file had before a rename).
    obsolete_keys TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER,
    acknowledged_at INTEGER NOT NULL
  );
  CREATE INDEX uploads_by_seq ON uploads (ack_seq);
  CREATE TABLE multipart (
    key TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    PRIMARY KEY (key, upload_id)
  ) WITHOUT ROWID;
`;

/**
 * Version 2: where a snapshot's unchanged bytes still are in the bucket — the
 * object it was opened on (`base_key` at `base_etag`) and the ranges of it
 * the snapshot did not change (JSON [[start, end], …]) — so an upload may
 * copy them server-side instead of sending them. Only an optimisation: the
 * snapshot file still holds every byte.
 */
const V2 = `
  ALTER TABLE uploads ADD COLUMN base_key TEXT;
  ALTER TABLE uploads ADD COLUMN unchanged TEXT NOT NULL DEFAULT '[]';
`;

export const MIGRATIONS: readonly string[] = [V1, V2];
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Database): void {
  for (let version = schemaVersion(db); version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
