/**
 * The metadata cache: what the mount knows about paths (entries with stable
 * inode numbers and attributes, negative entries, directory listing state)
 * and the directory-rename journal, in SQLite (`<cacheDir>/metadata.db`,
 * WAL). It survives restarts, so a remount starts warm.
 *
 * Every FUSE operation shares the one JS thread, so each call here is one
 * short synchronous step: prepared statements, at most one listing page
 * (1,000 children) per transaction. The children of the last few listings
 * are also held in memory (memo.ts), so the lookups that follow a listing
 * read no row; every write here drops what it touches from that memo. It never does I/O other than SQLite and
 * never decides policy (TTLs, what a listing means): the VFS does.
 *
 * The store belongs to one remote: opening a cache directory made for another
 * remote (or a damaged or newer-schema database) wipes it and starts empty.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { RenameJournalStore } from './journal.js';
import { mergeListed } from './merge.js';
import { ListingMemo } from './memo.js';
import { ROOT, compareNames, joinPath, nameOf, parentOf, subtreeRange } from './paths.js';
import { ENTRY_COLUMNS, UPSERT_COLUMNS, entryFromRow, entryOf, fieldsOf, rowValues, type EntryRow } from './rows.js';
import { SCHEMA_VERSION, migrate, schemaVersion } from './schema.js';
import type { Entry, EntryFields, ListedChild } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface MetadataStoreOptions {
  /** The cache directory; the database is `<dir>/metadata.db`. */
  dir: string;
  /** The remote this cache belongs to (display URL and prefix); a different one wipes the store. */
  remote: string;
  log?: LogFn;
}

export const DATABASE_FILE = 'metadata.db';

/** Opens (or creates) the database file and migrates it; throws if it is unusable. */
function openDatabase(file: string): Db {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // A commit survives a process crash; only the rename journal's seal pays for an fsync (journal.ts).
    db.pragma('synchronous = NORMAL');
    if (schemaVersion(db) > SCHEMA_VERSION) throw new Error(`schema version ${schemaVersion(db)} is newer than ${SCHEMA_VERSION}`);
    migrate(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

/** What a complete listing changed beyond its pages: children dropped, and children kept though unseen. */
export interface ListingEnd {
  /** Paths no longer in the bucket (dropped with their subtrees). */
  gone: string[];
  /** Children the listing did not show but that stay: files not uploaded yet, entries confirmed after the listing began. */
  kept: Entry[];
}

export class MetadataStore {
  readonly journal: RenameJournalStore;
  private readonly memo = new ListingMemo();
  private nextIno: number;
  private generation: number;
  private readonly s: ReturnType<typeof prepareStatements>;

  private constructor(private readonly db: Db) {
    this.s = prepareStatements(db);
    this.journal = new RenameJournalStore(db);
    const max = db.prepare('SELECT max(ino) AS ino, max(seen_gen) AS gen FROM entries').get() as { ino: number | null; gen: number | null };
    // Inode 1 is the root's (FUSE_ROOT_ID); others count up from 2 and are never reused.
    this.nextIno = Math.max(2, (max.ino ?? 0) + 1);
    this.generation = max.gen ?? 0;
  }

  /** Opens the store of `options.dir`, wiping it when it belongs to another remote or cannot be read. */
  static open(options: MetadataStoreOptions): MetadataStore {
    mkdirSync(options.dir, { recursive: true });
    const file = join(options.dir, DATABASE_FILE);
    let db: Db;
    try {
      db = openDatabase(file);
      const stored = db.prepare("SELECT value FROM meta WHERE name = 'remote'").pluck().get() as string | undefined;
      if (stored !== undefined && stored !== options.remote) {
        db.close();
        options.log?.('warn', `metadata cache ${file} belonged to ${stored}: wiped for ${options.remote}`);
        removeDatabase(file);
        db = openDatabase(file);
      }
    } catch (e) {
      options.log?.('warn', `metadata cache ${file} unusable (${e instanceof Error ? e.message : String(e)}): wiped`);
      removeDatabase(file);
      db = openDatabase(file);
    }
    db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('remote', ?)").run(options.remote);
    return new MetadataStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get(path: string): Entry | undefined {
    const remembered = this.memo.get(path);
    if (remembered !== undefined) return remembered;
    const row = this.s.get.get(path) as EntryRow | undefined;
    return row === undefined ? undefined : entryFromRow(row);
  }

  /** Writes `fields` for `path`, keeping its inode number and listing state; clears a negative entry. */
  upsert(path: string, fields: EntryFields): Entry {
    const existing = this.s.inoOf.get(path) as { ino: bigint } | undefined;
    const ino = existing === undefined ? this.allocateIno(path) : Number(existing.ino);
    this.memo.drop(path);
    this.s.upsert.run(rowValues({ path, parent: parentOf(path), name: nameOf(path), ino, seenGen: 0 }, fields));
    this.s.deleteNegative.run(path);
    return this.get(path)!;
  }

  /** Changes some fields of an existing entry; undefined when there is none. */
  update(path: string, patch: Partial<EntryFields>): Entry | undefined {
    const entry = this.get(path);
    if (entry === undefined) return undefined;
    return this.upsert(path, { ...fieldsOf(entry), ...patch });
  }

  private allocateIno(path: string): number {
    return path === ROOT ? 1 : this.nextIno++;
  }

  remove(path: string): void {
    this.memo.drop(path);
    this.s.delete.run(path);
  }

  /** Removes `path` and everything below it (entries and negative entries). */
  removeTree(path: string): void {
    const { low, high } = subtreeRange(path);
    this.memo.dropTree(path);
    this.db.transaction(() => {
      this.s.delete.run(path);
      this.s.deleteRange.run(low, high);
      this.s.deleteNegativeRange.run(low, high);
    })();
  }

  /** Children of `dir` in byte order of their names, `limit` at a time after `afterName`. */
  childrenPage(dir: string, afterName: string | undefined, limit: number): Entry[] {
    const rows = (afterName === undefined ? this.s.childrenFirst.all(dir, limit) : this.s.childrenAfter.all(dir, afterName, limit)) as EntryRow[];
    return rows.map(entryFromRow);
  }

  /** All children of `dir`, sorted (for small directories and tests; readdir pages through childrenPage). */
  children(dir: string): Entry[] {
    return (this.s.childrenAll.all(dir) as EntryRow[]).map(entryFromRow);
  }

  /** True when `dir` has a child in the store: any, one in the bucket ('uploaded'), or one not uploaded yet ('local'). */
  hasChildren(dir: string, which: 'any' | 'uploaded' | 'local' = 'any'): boolean {
    const statement = which === 'any' ? this.s.anyChild : this.s.anyChildLocal;
    return statement.get(dir, ...(which === 'any' ? [] : [which === 'local' ? 1 : 0])) !== undefined;
  }

  // ---- Listings ----

  /** A new listing generation: children a listing shows are stamped with it. */
  beginListing(): number {
    return ++this.generation;
  }

  /**
   * Merges one listing page of `dir`'s children (one transaction: one read
   * of the rows the page covers, one upsert per child) and returns the
   * entries as stored, so the caller need not read them back.
   */
  applyListingPage(dir: string, generation: number, children: readonly ListedChild[]): Entry[] {
    if (children.length === 0) return [];
    let low = children[0]!.name;
    let high = low;
    for (const { name } of children) {
      if (compareNames(name, low) < 0) low = name;
      else if (compareNames(name, high) > 0) high = name;
    }
    try {
      return this.db.transaction(() => {
        const stored = new Map<string, Entry>();
        for (const row of this.s.childrenRange.all(dir, low, high) as EntryRow[]) stored.set(nameOf(row.path), entryFromRow(row));
        const negatives = new Set(this.s.negativesRange.pluck().all(joinPath(dir, low), joinPath(dir, high)) as string[]);
        return children.map((child) => this.applyListed(dir, generation, child, stored.get(child.name), negatives));
      })();
    } catch (e) {
      // Rolled back: the memo must not keep what the database does not.
      this.memo.dropTree(dir);
      throw e;
    }
  }

  private applyListed(dir: string, generation: number, child: ListedChild, stored: Entry | undefined, negatives: Set<string>): Entry {
    const path = joinPath(dir, child.name);
    const fields = mergeListed(stored === undefined ? undefined : fieldsOf(stored), child.fields);
    const replaced = stored?.kind === 'dir' && fields.kind !== 'dir';
    if (replaced) this.removeTree(path);
    const ino = stored?.ino ?? this.allocateIno(path);
    this.s.upsert.run(rowValues({ path, parent: dir, name: child.name, ino, seenGen: generation }, fields));
    if (negatives.has(path)) this.s.deleteNegative.run(path);
    const entry = entryOf(fields, path, ino, replaced ? undefined : stored?.listedAt);
    this.memo.put(dir, generation, entry);
    return entry;
  }

  /**
   * Ends a complete listing of `dir` that started at `startedAt`: children it
   * did not show are dropped with their subtrees, except local files not
   * uploaded yet and entries confirmed after the listing began (a concurrent
   * mkdir or upload the listing could not see). With `record`, the directory
   * is marked listed at `startedAt` (its absent names are then known absent).
   */
  finishListing(dir: string, generation: number, startedAt: number, record = true): ListingEnd {
    return this.db.transaction(() => {
      const end: ListingEnd = { gone: [], kept: [] };
      for (const row of this.s.unseenChildren.all(dir, generation) as EntryRow[]) {
        const entry = entryFromRow(row);
        if (entry.localOnly || entry.validatedAt >= startedAt) {
          end.kept.push(entry);
          continue;
        }
        const { low, high } = subtreeRange(entry.path);
        this.memo.dropTree(entry.path);
        this.s.delete.run(entry.path);
        this.s.deleteRange.run(low, high);
        end.gone.push(entry.path);
      }
      if (record) this.setListed(dir, startedAt);
      return end;
    })();
  }

  /** Sets (or clears, with undefined) when `dir` was last completely listed. */
  setListed(dir: string, at: number | undefined): void {
    this.memo.drop(dir);
    this.s.setListed.run(at ?? null, dir);
  }

  // ---- Negative entries ----

  /** When `path` was last found absent, or undefined. */
  getNegative(path: string): number | undefined {
    return (this.s.getNegative.pluck().get(path) as number | undefined) ?? undefined;
  }

  /** Records `path` as absent (its entry and subtree are removed). */
  putNegative(path: string, now: number): void {
    this.db.transaction(() => {
      this.removeTree(path);
      this.s.putNegative.run(path, now);
    })();
  }

  // ---- Moves and invalidation ----

  /**
   * Moves `from` and its subtree to `to` in one transaction, keeping inode
   * numbers; whatever was at `to` is replaced, and `from` becomes absent.
   * The moved objects are copies this mount made: their Last-Modified is
   * forgotten, so the next listing adopts the copy's date when the etag
   * matches, and cached exact attributes are kept (see merge.ts).
   */
  renameTree(from: string, to: string, now: number): void {
    if (from === ROOT || to === ROOT || to.startsWith(`${from}/`) || from.startsWith(`${to}/`)) {
      throw new Error(`cannot move ${from} to ${to}: one contains the other`);
    }
    this.memo.dropTree(from);
    this.db.transaction(() => {
      this.removeTree(to);
      this.s.deleteNegative.run(to);
      const { low, high } = subtreeRange(from);
      this.s.moveTop.run({ to, parent: parentOf(to), name: nameOf(to), from });
      // substr() counts characters (code points) of TEXT, not UTF-16 units.
      this.s.moveBelow.run({ to, cut: Array.from(from).length + 1, low, high });
      this.s.putNegative.run(from, now);
    })();
  }

  /** Forgets that `path` (and, with `tree`, everything below it) was validated or listed. */
  invalidate(path: string, options: { tree?: boolean } = {}): void {
    if (options.tree) this.memo.dropTree(path);
    else this.memo.drop(path);
    this.db.transaction(() => {
      this.s.invalidate.run(path);
      this.s.deleteNegative.run(path);
      if (options.tree) {
        const { low, high } = subtreeRange(path);
        this.s.invalidateRange.run(low, high);
        this.s.deleteNegativeRange.run(low, high);
      }
    })();
  }

  /**
   * Drops what the cache knows of `path` and everything below it (entries,
   * negative entries, listing state; its parent's listing too, which would
   * otherwise call the path absent). Files not uploaded yet stay, and so
   * does the root's entry. Returns the number of entries dropped and the
   * paths of the files and symlinks among them.
   */
  forget(path: string): { entries: number; files: string[] } {
    const { low, high } = subtreeRange(path);
    this.memo.dropTree(path);
    return this.db.transaction(() => {
      const files = this.s.forgettableFiles.pluck().all(path, low, high) as string[];
      const entries = this.s.forget.run(path, low, high).changes;
      this.s.deleteNegative.run(path);
      this.s.deleteNegativeRange.run(low, high);
      this.setListed(path === ROOT ? ROOT : parentOf(path), undefined);
      this.s.invalidateRange.run(low, high);
      return { entries, files };
    })();
  }

  /** Drops entries of files that were never uploaded (their data did not survive the previous run). */
  dropLocalOnly(): number {
    this.memo.clear();
    return this.s.dropLocalOnly.run().changes;
  }
}

function prepareStatements(db: Db) {
  const p = (sql: string): Statement => db.prepare(sql);
  const reader = (sql: string): Statement => db.prepare(sql).safeIntegers(true);
  return {
    get: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE path = ?`),
    inoOf: reader('SELECT ino FROM entries WHERE path = ?'),
    upsert: p(`INSERT INTO entries (${UPSERT_COLUMNS}) VALUES (${UPSERT_COLUMNS.split(',').map(() => '?').join(', ')})
      ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, size = excluded.size, mode = excluded.mode, uid = excluded.uid,
        gid = excluded.gid, mtime_ns = excluded.mtime_ns, atime_ns = excluded.atime_ns, ctime_ns = excluded.ctime_ns,
        etag = excluded.etag, last_modified = excluded.last_modified, source = excluded.source, marker = excluded.marker,
        symlink_target = excluded.symlink_target, metadata = excluded.metadata, content_type = excluded.content_type,
        local_only = excluded.local_only, validated_at = excluded.validated_at,
        seen_gen = CASE WHEN excluded.seen_gen = 0 THEN seen_gen ELSE excluded.seen_gen END`),
    delete: p('DELETE FROM entries WHERE path = ?'),
    deleteRange: p('DELETE FROM entries WHERE path >= ? AND path < ?'),
    childrenFirst: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE parent = ? AND path != '/' ORDER BY name LIMIT ?`),
    childrenAfter: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE parent = ? AND path != '/' AND name > ? ORDER BY name LIMIT ?`),
    childrenAll: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE parent = ? AND path != '/' ORDER BY name`),
    anyChild: p("SELECT 1 FROM entries WHERE parent = ? AND path != '/' LIMIT 1"),
    anyChildLocal: p("SELECT 1 FROM entries WHERE parent = ? AND path != '/' AND local_only = ? LIMIT 1"),
    childrenRange: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE parent = ? AND path != '/' AND name >= ? AND name <= ?`),
    negativesRange: p('SELECT path FROM negatives WHERE path >= ? AND path <= ?'),
    unseenChildren: reader(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE parent = ? AND path != '/' AND seen_gen != ?`),
    setListed: p('UPDATE entries SET listed_at = ? WHERE path = ?'),
    getNegative: p('SELECT validated_at FROM negatives WHERE path = ?'),
    putNegative: p('INSERT OR REPLACE INTO negatives (path, validated_at) VALUES (?, ?)'),
    deleteNegative: p('DELETE FROM negatives WHERE path = ?'),
    deleteNegativeRange: p('DELETE FROM negatives WHERE path >= ? AND path < ?'),
    moveTop: p('UPDATE entries SET path = @to, parent = @parent, name = @name, last_modified = NULL WHERE path = @from'),
    moveBelow: p(`UPDATE entries SET path = @to || substr(path, @cut), parent = @to || substr(parent, @cut), last_modified = NULL
      WHERE path >= @low AND path < @high`),
    invalidate: p('UPDATE entries SET validated_at = 0, listed_at = NULL WHERE path = ?'),
    invalidateRange: p('UPDATE entries SET validated_at = 0, listed_at = NULL WHERE path >= ? AND path < ?'),
    forgettableFiles: p(`SELECT path FROM entries WHERE (path = ? OR (path >= ? AND path < ?)) AND path != '/' AND local_only = 0
      AND kind != 'dir'`),
    forget: p("DELETE FROM entries WHERE (path = ? OR (path >= ? AND path < ?)) AND path != '/' AND local_only = 0"),
    dropLocalOnly: p('DELETE FROM entries WHERE local_only = 1'),
  };
}
