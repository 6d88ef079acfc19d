/**
 * The children of the last few directories listed, held in memory. `ls -l`
 * lstat's every entry it has just listed, and each of those lookups crosses
 * FUSE into the one JS thread: answered from here, it costs no SQLite
 * statement and no row decoding. A mirror of database rows, never a source:
 * the store (store.ts) drops from it whatever a write touches, so it cannot
 * disagree with the database. Freshness is still judged by the caller from
 * each entry's validatedAt, as for rows read from SQLite.
 */
import { isWithin, nameOf, parentOf } from './paths.js';
import type { Entry } from './types.js';

/** Directories remembered at once (the most recently listed). */
const MAX_DIRS = 16;
/** Entries remembered at once, across directories (about 1 KiB each). */
const MAX_ENTRIES = 200_000;

interface DirMemo {
  generation: number;
  children: Map<string, Entry>;
}

export class ListingMemo {
  private readonly dirs = new Map<string, DirMemo>();
  private size = 0;

  get(path: string): Entry | undefined {
    return this.dirs.get(parentOf(path))?.children.get(nameOf(path));
  }

  /** Remembers a child shown by listing `generation` of `dir` (a newer listing starts the directory afresh). */
  put(dir: string, generation: number, entry: Entry): void {
    let memo = this.dirs.get(dir);
    if (memo === undefined || memo.generation !== generation) {
      this.dropDir(dir);
      memo = { generation, children: new Map() };
      this.dirs.set(dir, memo);
      this.evict(dir);
    }
    const name = nameOf(entry.path);
    if (!memo.children.has(name)) this.size++;
    memo.children.set(name, entry);
    if (this.size > MAX_ENTRIES) this.evict(dir);
  }

  /** Forgets `path` (not what lies below it). */
  drop(path: string): void {
    if (this.dirs.get(parentOf(path))?.children.delete(nameOf(path))) this.size--;
  }

  /** Forgets `path` and everything below it. */
  dropTree(path: string): void {
    this.drop(path);
    for (const dir of [...this.dirs.keys()]) if (isWithin(dir, path)) this.dropDir(dir);
  }

  clear(): void {
    this.dirs.clear();
    this.size = 0;
  }

  private dropDir(dir: string): void {
    const memo = this.dirs.get(dir);
    if (memo === undefined) return;
    this.size -= memo.children.size;
    this.dirs.delete(dir);
  }

  /** Oldest directories first, never `keep` (the one being filled). */
  private evict(keep: string): void {
    for (const dir of this.dirs.keys()) {
      if (this.dirs.size <= MAX_DIRS && this.size <= MAX_ENTRIES) return;
      if (dir !== keep) this.dropDir(dir);
    }
  }
}
