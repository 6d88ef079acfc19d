/**
 * The directory-rename journal: the full list of keys to move, written before
 * the first copy, and how far each key got (copied, deleted). A crash at any
 * point leaves enough to finish the rename at the next mount. A key that is
 * done (copied and deleted) is removed from the journal.
 *
 * Durability: the cache runs with synchronous=NORMAL (a commit survives a
 * process crash, not a power cut). The journal becomes authoritative only
 * when it is sealed ('ready'), and that one commit runs with synchronous=FULL,
 * which fsyncs the WAL and with it every earlier item row. Item progress
 * stays NORMAL: each step is idempotent (copying again or deleting a key
 * already gone is harmless), so a lost progress mark only repeats work.
 * A journal still 'collecting' at startup never moved anything: it is dropped.
 */
import type { Database, Statement } from 'better-sqlite3';
import { ITEM_COPIED, type ItemState, type JournalItem, type RenameJournal } from './types.js';

interface JournalRow {
  id: number;
  state: string;
  from_path: string;
  to_path: string;
  from_key: string;
  to_key: string;
  started_at: number;
}

const journalFromRow = (row: JournalRow): RenameJournal => ({
  id: row.id,
  state: row.state as RenameJournal['state'],
  fromPath: row.from_path,
  toPath: row.to_path,
  fromKey: row.from_key,
  toKey: row.to_key,
  startedAt: row.started_at,
});

export class RenameJournalStore {
  private readonly insertJournal: Statement;
  private readonly insertItem: Statement;
  private readonly setState: Statement;
  private readonly itemsByState: Statement;
  private readonly markItem: Statement;
  private readonly deleteJournal: Statement;
  private readonly deleteItem: Statement;
  private readonly deleteItems: Statement;
  private readonly countItems: Statement;
  private readonly byState: Statement;

  constructor(private readonly db: Database) {
    this.insertJournal = db.prepare(`INSERT INTO journals (state, from_path, to_path, from_key, to_key, started_at)
      VALUES ('collecting', ?, ?, ?, ?, ?)`);
    this.insertItem = db.prepare('INSERT OR IGNORE INTO journal_items (journal_id, key, size) VALUES (?, ?, ?)');
    this.setState = db.prepare('UPDATE journals SET state = ? WHERE id = ?');
    this.itemsByState = db.prepare(`SELECT key, size FROM journal_items
      WHERE journal_id = ? AND state = ? AND key > ? ORDER BY key LIMIT ?`);
    this.markItem = db.prepare('UPDATE journal_items SET state = ? WHERE journal_id = ? AND key = ?');
    this.deleteJournal = db.prepare('DELETE FROM journals WHERE id = ?');
    this.deleteItem = db.prepare('DELETE FROM journal_items WHERE journal_id = ? AND key = ?');
    this.deleteItems = db.prepare('DELETE FROM journal_items WHERE journal_id = ?');
    this.countItems = db.prepare('SELECT count(*) AS n FROM journal_items WHERE journal_id = ?');
    this.byState = db.prepare('SELECT * FROM journals WHERE state = ? ORDER BY id');
  }

  /** Opens a journal in the 'collecting' state; items follow, then seal(). */
  begin(from: { path: string; key: string }, to: { path: string; key: string }, now: number): RenameJournal {
    const id = Number(this.insertJournal.run(from.path, to.path, from.key, to.key, now).lastInsertRowid);
    return { id, state: 'collecting', fromPath: from.path, toPath: to.path, fromKey: from.key, toKey: to.key, startedAt: now };
  }

  /** Adds a batch of keys (one transaction; callers pass a listing page at a time). */
  addItems(id: number, items: readonly JournalItem[]): void {
    this.db.transaction(() => {
      for (const item of items) this.insertItem.run(id, item.key, item.size);
    })();
  }

  /** Makes the journal authoritative, durably (see the module comment). */
  seal(id: number): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.setState.run('ready', id);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** Up to `limit` items in `state`, in key order, after `afterKey`. */
  items(id: number, state: ItemState, limit: number, afterKey = ''): JournalItem[] {
    return (this.itemsByState.all(id, state, afterKey, limit) as { key: string; size: number }[]).map((r) => ({ key: r.key, size: r.size }));
  }

  markCopied(id: number, keys: readonly string[]): void {
    this.mark(id, keys, ITEM_COPIED);
  }

  /** A moved key is forgotten: the journal shrinks as the rename progresses, and finishing it is cheap. */
  markDone(id: number, keys: readonly string[]): void {
    this.db.transaction(() => {
      for (const key of keys) this.deleteItem.run(id, key);
    })();
  }

  private mark(id: number, keys: readonly string[], state: ItemState): void {
    this.db.transaction(() => {
      for (const key of keys) this.markItem.run(state, id, key);
    })();
  }

  /** Items not done yet. */
  remaining(id: number): number {
    return (this.countItems.get(id) as { n: number }).n;
  }

  /** Sealed journals, oldest first: renames to finish before serving. */
  pending(): RenameJournal[] {
    return (this.byState.all('ready') as JournalRow[]).map(journalFromRow);
  }

  /** Drops journals that were never sealed (nothing was moved for them). */
  dropUnsealed(): number {
    const rows = this.byState.all('collecting') as JournalRow[];
    for (const row of rows) this.finish(row.id);
    return rows.length;
  }

  /** Removes a journal and whatever items it still lists. */
  finish(id: number): void {
    this.db.transaction(() => {
      this.deleteItems.run(id);
      this.deleteJournal.run(id);
    })();
  }
}
