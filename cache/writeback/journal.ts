/**
 * The write-back journal: uploads acknowledged to applications (async write
 * mode) and not yet in the bucket, in `<cacheDir>/writeback.db` (SQLite,
 * WAL). A commit that acknowledges data (insert, supersede, and a drop, which
 * must not be undone) runs with synchronous=FULL: it returns once it is on
 * disk. Bookkeeping after an upload landed (removing its row, attempts) runs
 * with synchronous=NORMAL — durable across a process crash, and if a power
 * loss undoes it, the next start uploads the same bytes again, nothing is
 * lost. Each row names a snapshot file in
 * `<cacheDir>/staging/` that holds the whole content to upload; the caller
 * fsyncs that file before it commits the row, so a committed row always has
 * its bytes — or, for a small file, the row holds the bytes itself (one
 * fsync per acknowledgement instead of three). Also records multipart uploads in progress, so uploads cut off
 * by a crash are aborted at the next start.
 *
 * Synchronous steps only (better-sqlite3): no `await` runs inside a change.
 * It knows nothing of files, handles or the bucket; vfs/data/writeback.ts
 * decides what to journal and when.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { Span } from '../staging.js';
import { SCHEMA_VERSION, migrate, schemaVersion } from './schema.js';

export const JOURNAL_FILE = 'writeback.db';

export type UploadState = 'queued' | 'failed';

export interface UploadRow {
  id: number;
  /** The earliest acknowledgement this row carries (a retargeted or superseding row keeps it). */
  ackSeq: number;
  path: string;
  key: string;
  /** File name of the snapshot in the staging directory. */
  staging: string;
  size: number;
  /** The bytes are in the row (`content(id)`), not only in the snapshot file. */
  inline: boolean;
  metadata: Record<string, string>;
  contentType: string | undefined;
  /** The etag the file was opened on (last-writer-wins warning); undefined for a new file. */
  baseEtag: string | undefined;
  /** The key of the object the file was opened on (at `baseEtag`); undefined for a new file. */
  baseKey: string | undefined;
  /** Ranges of that object the snapshot holds unchanged, at the same offsets (server-side copies may give them). */
  unchanged: Span[];
  /** Keys to delete once this row is uploaded: names the file had before a rename. */
  obsoleteKeys: string[];
  /** 'failed': the last attempt failed with an error that retrying soon cannot fix. */
  state: UploadState;
  attempts: number;
  lastError: string | undefined;
  nextAttemptAt: number | undefined;
  acknowledgedAt: number;
}

export type NewUpload = Pick<UploadRow, 'path' | 'key' | 'staging' | 'size' | 'metadata' | 'contentType' | 'baseEtag' | 'obsoleteKeys' | 'acknowledgedAt'> & {
  baseKey?: string | undefined;
  unchanged?: Span[] | undefined;
  /** A small snapshot's bytes, stored in the row. */
  content?: Buffer | undefined;
  /** Carried over from the row this one replaces; default: a new sequence number. */
  ackSeq?: number;
};

export interface AttemptResult {
  state: UploadState;
  attempts: number;
  lastError: string | undefined;
  nextAttemptAt: number | undefined;
}

interface Row {
  id: bigint;
  ack_seq: bigint;
  path: string;
  key: string;
  staging: string;
  size: bigint;
  inline: bigint;
  metadata: string;
  content_type: string | null;
  base_etag: string | null;
  base_key: string | null;
  unchanged: string;
  obsolete_keys: string;
  state: string;
  attempts: bigint;
  last_error: string | null;
  next_attempt_at: bigint | null;
  acknowledged_at: bigint;
}

function fromRow(row: Row): UploadRow {
  return {
    id: Number(row.id),
    ackSeq: Number(row.ack_seq),
    path: row.path,
    key: row.key,
    staging: row.staging,
    size: Number(row.size),
    inline: row.inline !== 0n,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    contentType: row.content_type ?? undefined,
    baseEtag: row.base_etag ?? undefined,
    baseKey: row.base_key ?? undefined,
    unchanged: (JSON.parse(row.unchanged) as [number, number][]).map(([start, end]) => ({ start, end })),
    obsoleteKeys: JSON.parse(row.obsolete_keys) as string[],
    state: row.state === 'failed' ? 'failed' : 'queued',
    attempts: Number(row.attempts),
    lastError: row.last_error ?? undefined,
    nextAttemptAt: row.next_attempt_at === null ? undefined : Number(row.next_attempt_at),
    acknowledgedAt: Number(row.acknowledged_at),
  };
}

function params(upload: NewUpload): Record<string, unknown> {
  return {
    path: upload.path,
    key: upload.key,
    staging: upload.staging,
    size: upload.size,
    content: upload.content ?? null,
    metadata: JSON.stringify(upload.metadata),
    content_type: upload.contentType ?? null,
    base_etag: upload.baseEtag ?? null,
    base_key: upload.baseKey ?? null,
    unchanged: JSON.stringify((upload.unchanged ?? []).map((span) => [span.start, span.end])),
    obsolete_keys: JSON.stringify(upload.obsoleteKeys),
    acknowledged_at: upload.acknowledgedAt,
  };
}

export class WritebackJournal {
  private readonly s: ReturnType<typeof statements>;

  private constructor(private readonly db: Db) {
    this.s = statements(db);
  }

  /** Opens (or creates) the journal in `dir`; refuses a journal written by a newer version. */
  static open(dir: string): WritebackJournal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const db = new Database(join(dir, JOURNAL_FILE));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = schemaVersion(db);
      if (version > SCHEMA_VERSION) {
        throw new Error(`the write-back journal in ${dir} has schema version ${version}, newer than this bucketfs knows (${SCHEMA_VERSION}); use a newer bucketfs to upload what it holds`);
      }
      migrate(db);
      return new WritebackJournal(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Adds a row; on disk when this returns. */
  insert(upload: NewUpload): UploadRow {
    return this.durably(() => {
      const id = Number(this.s.insert.run({ ...params(upload), ack_seq: upload.ackSeq ?? 0 }).lastInsertRowid);
      if (upload.ackSeq === undefined) this.s.seqFromId.run(id);
      return this.get(id)!;
    });
  }

  /** Replaces a queued row's content (a newer version of the same file supersedes it), keeping its id and sequence; on disk when this returns. */
  supersede(id: number, upload: NewUpload): UploadRow | undefined {
    this.durably(() => this.s.supersede.run({ ...params(upload), id }));
    return this.get(id);
  }

  /** Removes rows whose file was unlinked; on disk when this returns (a power loss must not bring the file back). */
  drop(ids: number[]): void {
    this.durably(() => {
      for (const id of ids) this.s.remove.run(id);
    });
  }

  recordAttempt(id: number, result: AttemptResult): void {
    this.s.attempt.run({
      id,
      state: result.state,
      attempts: result.attempts,
      last_error: result.lastError ?? null,
      next_attempt_at: result.nextAttemptAt ?? null,
    });
  }

  /** Removes the row of an upload that landed (or a superseded row at start). */
  remove(id: number): void {
    this.s.remove.run(id);
  }

  /** The bytes of an inline row. */
  content(id: number): Buffer | undefined {
    const row = this.s.content.get(id) as { content: Buffer | null } | undefined;
    return row?.content ?? undefined;
  }

  get(id: number): UploadRow | undefined {
    const row = this.s.get.get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Every row, oldest acknowledgement first. */
  all(): UploadRow[] {
    return (this.s.all.all() as Row[]).map(fromRow);
  }

  /** The newest sequence number handed out so far (0: none). */
  lastSeq(): number {
    return Number((this.s.lastSeq.get() as { seq: bigint | null }).seq ?? 0n);
  }

  /** Rows carrying an acknowledgement at or before `seq`. */
  countUpTo(seq: number): number {
    return Number((this.s.countUpTo.get(seq) as { n: bigint }).n);
  }

  /** Snapshot file names any row names (the staging files a restart must keep). */
  stagingNames(): Set<string> {
    return new Set((this.s.stagingNames.all() as { staging: string }[]).map((r) => r.staging));
  }

  addMultipart(key: string, uploadId: string, now: number): void {
    this.s.addMultipart.run(key, uploadId, now);
  }

  removeMultipart(key: string, uploadId: string): void {
    this.s.removeMultipart.run(key, uploadId);
  }

  multiparts(): { key: string; uploadId: string }[] {
    return (this.s.multiparts.all() as { key: string; upload_id: string }[]).map((r) => ({ key: r.key, uploadId: r.upload_id }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs `change` in one transaction committed with synchronous=FULL (the WAL is fsynced before it returns). */
  private durably<T>(change: () => T): T {
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(change)();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }
}

function statements(db: Db) {
  const p = (sql: string): Statement => db.prepare(sql).safeIntegers(true);
  const columns = 'path, key, staging, size, content, metadata, content_type, base_etag, base_key, unchanged, obsolete_keys, acknowledged_at';
  const values = '@path, @key, @staging, @size, @content, @metadata, @content_type, @base_etag, @base_key, @unchanged, @obsolete_keys, @acknowledged_at';
  // Rows are read without their content: a row in memory never holds file bytes.
  const row = `id, ack_seq, path, key, staging, size, content IS NOT NULL AS inline, metadata, content_type, base_etag, base_key, unchanged, obsolete_keys,
    state, attempts, last_error, next_attempt_at, acknowledged_at`;
  return {
    insert: p(`INSERT INTO uploads (ack_seq, ${columns}) VALUES (@ack_seq, ${values})`),
    seqFromId: p('UPDATE uploads SET ack_seq = id WHERE id = ?'),
    supersede: p(`UPDATE uploads SET path = @path, key = @key, staging = @staging, size = @size, content = @content, metadata = @metadata,
      content_type = @content_type, base_etag = @base_etag, base_key = @base_key, unchanged = @unchanged, obsolete_keys = @obsolete_keys, acknowledged_at = @acknowledged_at,
      state = 'queued', attempts = 0, last_error = NULL, next_attempt_at = NULL WHERE id = @id`),
    attempt: p(`UPDATE uploads SET state = @state, attempts = @attempts, last_error = @last_error,
      next_attempt_at = @next_attempt_at WHERE id = @id`),
    remove: p('DELETE FROM uploads WHERE id = ?'),
    get: p(`SELECT ${row} FROM uploads WHERE id = ?`),
    all: p(`SELECT ${row} FROM uploads ORDER BY ack_seq, id`),
    content: p('SELECT content FROM uploads WHERE id = ?'),
    lastSeq: p("SELECT seq FROM sqlite_sequence WHERE name = 'uploads'"),
    countUpTo: p('SELECT count(*) AS n FROM uploads WHERE ack_seq <= ?'),
    stagingNames: p('SELECT DISTINCT staging FROM uploads'),
    addMultipart: p('INSERT OR IGNORE INTO multipart (key, upload_id, started_at) VALUES (?, ?, ?)'),
    removeMultipart: p('DELETE FROM multipart WHERE key = ? AND upload_id = ?'),
    multiparts: p('SELECT key, upload_id FROM multipart'),
  };
}
