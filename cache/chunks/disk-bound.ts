/**
 * The cache disk's bound: clean chunk files in LRU order plus dirty bytes
 * that writers reserve, together never above `maxBytes`. Clean chunks are
 * evicted to make room for either; when dirty bytes alone would pass the
 * bound, a writer's reservation waits for a release (an upload finishing)
 * rather than the bound breaking. A reservation made while nothing else is
 * reserved always goes through, so one writer larger than the bound is never
 * stuck.
 */
import { LRUCache } from 'lru-cache';

export class DiskBound {
  /** Clean chunks evicted to stay within the bound. */
  evictions = 0;
  private readonly lru: LRUCache<string, number>;
  private dirty = 0;
  private waiters: (() => void)[] = [];

  /** `dropped(id)` runs for every clean chunk evicted or deleted: its file must go. */
  constructor(readonly maxBytes: number, dropped: (id: string) => void) {
    this.lru = new LRUCache<string, number>({
      maxSize: maxBytes,
      sizeCalculation: (bytes) => Math.max(1, bytes),
      dispose: (_bytes, id, reason) => {
        if (reason === 'evict') this.evictions++;
        if (reason === 'evict' || reason === 'delete') dropped(id);
      },
    });
  }

  /** Clean chunk bytes plus reserved dirty bytes. */
  get bytes(): number {
    return this.lru.calculatedSize + this.dirty;
  }

  get dirtyBytes(): number {
    return this.dirty;
  }

  /** Clean chunks accounted for. */
  get chunks(): number {
    return this.lru.size;
  }

  has(id: string): boolean {
    return this.lru.has(id);
  }

  /** Whether chunk `id` is accounted for; marks it as just used. */
  touch(id: string): boolean {
    return this.lru.get(id) !== undefined;
  }

  delete(id: string): void {
    this.lru.delete(id);
  }

  keys(): IterableIterator<string> {
    return this.lru.keys();
  }

  /** Accounts for a clean chunk file of `bytes`, evicting older ones; false when it cannot fit beside the dirty bytes. */
  admit(id: string, bytes: number): boolean {
    if (bytes + this.dirty > this.maxBytes) return false;
    this.shrink(bytes);
    this.lru.set(id, bytes);
    return this.lru.has(id);
  }

  /** Reserves `bytes` of dirty data: evicts clean chunks to make room, waits while dirty data alone would pass the bound. */
  async reserveDirty(bytes: number): Promise<void> {
    while (this.dirty > 0 && this.dirty + bytes > this.maxBytes) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.dirty += bytes;
    this.shrink(0);
  }

  /**
   * Accounts for `bytes` of local data at once, without waiting (data already
   * on the cache disk, or whose writer waited for room before): evicts clean
   * chunks to make room.
   */
  holdDirty(bytes: number): void {
    this.dirty += bytes;
    this.shrink(0);
  }

  /** Returns reserved dirty bytes; wakes waiting writers. */
  releaseDirty(bytes: number): void {
    this.dirty = Math.max(0, this.dirty - bytes);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Evicts clean chunks until `incoming` more bytes fit beside the dirty reservation. */
  private shrink(incoming: number): void {
    while (this.lru.size > 0 && this.lru.calculatedSize + incoming + this.dirty > this.maxBytes) this.lru.pop();
  }
}
