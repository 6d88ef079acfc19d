/**
 * A few spare chunk buffers for reuse. A long sequential read allocates one
 * 8 MiB buffer per chunk; dropped, they waited for the garbage collector
 * and the daemon's memory grew by hundreds of MiB during a 1 GiB read.
 * Only buffers this pool allocated are taken back (a fetcher's buffer may
 * share memory with its source), and only once nothing refers to them: the
 * store recycles a chunk when it has left the memory LRU and its file is
 * written; a reader copies out of a chunk before its next `await`.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];
  private readonly owned = new WeakSet<Buffer>();

  constructor(private readonly size: number, private readonly keep: number) {}

  /** A buffer of `length` bytes (uninitialised): a spare one when `length` is the pool's size. */
  allocate(length: number): Buffer {
    const spare = length === this.size ? this.spare.pop() : undefined;
    if (spare !== undefined) return spare;
    const buffer = Buffer.allocUnsafe(length);
    this.owned.add(buffer);
    return buffer;
  }

  /** Takes back a buffer nothing refers to any more (ignored unless it came from this pool). */
  recycle(buffer: Buffer): void {
    if (buffer.length !== this.size || !this.owned.has(buffer) || this.spare.length >= this.keep || this.spare.includes(buffer)) return;
    this.spare.push(buffer);
  }
}
