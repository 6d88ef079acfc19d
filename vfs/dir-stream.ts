/**
 * Open directories: what readdir has handed out of each, so that libfuse can
 * ask from any offset (the offset mode of the patched fuse-native's readdir)
 * and a big directory is given out while it is still being listed: `ls`,
 * `find` or `rsync` work on the first pages' names while the daemon lists
 * the rest. Offsets are indexes into a handle's names, in the order they
 * came ('.' and '..' first); a name comes once (the whole listing, added at
 * the end, brings only the names no page gave).
 */

/** The most names handed to libfuse in one batch: about what 128 KiB of dirents holds. */
const MAX_BATCH = 4096;
/** A first batch, and the least one: libfuse takes what fits in the kernel's buffer and asks again from there. */
const MIN_BATCH = 256;

export class DirStream<S> {
  private readonly names: string[] = [];
  private readonly stats: S[] = [];
  private readonly seen = new Set<string>();
  private ended = false;
  private error: unknown;
  private waiting: (() => void)[] = [];
  /** Where the last batch started and how long it was: libfuse's next offset tells how much of it fit. */
  private last = { start: -1, length: 0 };
  private batch = MIN_BATCH;

  /** True when `name` was handed out already (or is waiting to be). */
  has(name: string): boolean {
    return this.seen.has(name);
  }

  /** Adds `name`, unless it came already: false then. */
  push(name: string, stat: S): boolean {
    if (this.ended || this.seen.has(name)) return false;
    this.seen.add(name);
    this.names.push(name);
    this.stats.push(stat);
    this.wake();
    return true;
  }

  /** No more names: readers past the last one get the end of the directory, or `error`. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.wake();
  }

  /**
   * The names from `offset` on, as many as libfuse is likely to take: waits
   * until there is at least one, or the directory ended (then none: the
   * end, or the listing's error when it failed before reaching `offset`).
   */
  async from(offset: number): Promise<{ names: string[]; stats: S[] }> {
    while (offset >= this.names.length && !this.ended) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (offset >= this.names.length && this.error !== undefined) throw this.error;
    this.sizeBatch(offset);
    const end = Math.min(this.names.length, offset + this.batch);
    this.last = { start: offset, length: end - offset };
    return { names: this.names.slice(offset, end), stats: this.stats.slice(offset, end) };
  }

  /**
   * What libfuse took last time, and more when it took the whole batch:
   * few names converted for nothing, few round trips.
   */
  private sizeBatch(offset: number): void {
    const taken = offset - this.last.start;
    if (this.last.start < 0 || taken <= 0 || taken > this.last.length) return;
    const wanted = taken === this.last.length ? taken * 2 : taken + (taken >> 3);
    this.batch = Math.min(MAX_BATCH, Math.max(MIN_BATCH, wanted));
  }

  private wake(): void {
    if (this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/** Open directory handles (opendir to releasedir), each with the stream its reads started. */
export class DirHandles<S> {
  private readonly open = new Map<number, DirStream<S> | undefined>();
  private next = 1;

  /** A new handle, non-zero (0 is libfuse's "none"). */
  allocate(): number {
    for (;;) {
      const fh = this.next;
      this.next = this.next >= 0x3fffffff ? 1 : this.next + 1;
      if (!this.open.has(fh)) {
        this.open.set(fh, undefined);
        return fh;
      }
    }
  }

  isOpen(fh: number): boolean {
    return this.open.has(fh);
  }

  stream(fh: number): DirStream<S> | undefined {
    return this.open.get(fh);
  }

  /** Replaces `fh`'s stream (a read from offset 0 lists the directory again, as rewinddir asks). */
  restart(fh: number, stream: DirStream<S>): void {
    this.open.get(fh)?.end();
    this.open.set(fh, stream);
  }

  release(fh: number): void {
    this.open.get(fh)?.end();
    this.open.delete(fh);
  }

  clear(): void {
    for (const fh of [...this.open.keys()]) this.release(fh);
  }
}
