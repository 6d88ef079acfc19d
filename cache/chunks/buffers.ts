/**
 * The chunk store's memory: at most `max` chunk-sized buffers, allocated on
 * first need and reused while the store is busy. Every chunk the store
 * fetches from the bucket lands in one of them, so the bytes of chunks in
 * memory (fetches in flight, the memory LRU, the disk write backlog) never
 * pass `max` buffers.
 *
 * Why fixed and reused: a long sequential read allocated one 8 MiB buffer per
 * chunk; dropped, they waited for the garbage collector and the daemon's
 * memory grew by hundreds of MiB during a 1 GiB read (and a multipart upload
 * assembling parts from a 256 MiB object peaked 250 MiB above its budget).
 *
 * Once no buffer has been taken for IDLE_BUFFERS_MS, the spare ones go: a mount that
 * stopped reading should not hold its chunk buffers (up to the whole chunk
 * share of --memory-limit) while it writes, as the upload budget gives back
 * its part buffers (vfs/data/budget.ts). The next fetch allocates again. The
 * chunks in the memory LRU stay (a quarter of the share at most): reads of
 * cached chunks use them without taking a buffer, so an idle pool says
 * nothing about whether they are still read.
 *
 * A buffer comes back through `recycle` once nothing refers to it: the store
 * recycles a chunk when it has left the memory LRU and its file is written,
 * or when its fetch failed; a reader copies out of a chunk before its next
 * `await`. A `take` with every buffer out first asks `reclaim` to evict a
 * chunk from the memory LRU, then waits for a recycle: fetches in flight and
 * disk writes always end, so a waiter is never stuck for good.
 */
import { IdleTrim } from './collect.js';

export class BufferPool {
  private spare: Buffer[] = [];
  /** The whole allocations this pool made (a chunk may be a view of one: the last chunk of an object is shorter). */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private allocated = 0;
  private readonly waiting: ((buffer: Buffer) => void)[] = [];
  /** After IDLE_BUFFERS_MS without a take, the spare buffers go. */
  private readonly trim = new IdleTrim(() => {
    if (this.spare.length === 0) return false;
    this.allocated -= this.spare.length;
    this.spare = [];
    return true;
  });

  /**
   * `size`: bytes per buffer; `max`: buffers at most; `reclaim()`: frees a
   * chunk held only for caching (false when there is none); `beforeGrow()`:
   * runs before each allocation.
   */
  constructor(
    readonly size: number,
    readonly max: number,
    private readonly reclaim: () => boolean = () => false,
    private readonly beforeGrow: () => void = () => undefined,
  ) {}

  /** Bytes of buffers allocated (in use or spare). */
  get bytes(): number {
    return this.allocated * this.size;
  }

  /** A buffer of `length` ≤ size bytes (uninitialised), waiting while all `max` are in use. */
  async take(length: number): Promise<Buffer> {
    this.trim.touch();
    for (;;) {
      const buffer = this.spare.pop() ?? this.allocate();
      if (buffer !== undefined) return buffer.subarray(0, length);
      if (this.reclaim()) continue;
      const handed = await new Promise<Buffer>((resolve) => this.waiting.push(resolve));
      return handed.subarray(0, length);
    }
  }

  /** Takes back a buffer (or a view of one) nothing refers to any more; ignored unless it came from this pool. */
  recycle(buffer: Buffer): void {
    const whole = buffer.buffer;
    if (!this.owned.has(whole) || this.spare.some((b) => b.buffer === whole)) return;
    const back = Buffer.from(whole, 0, this.size);
    const next = this.waiting.shift();
    if (next !== undefined) next(back);
    else this.spare.push(back);
  }

  /** Stops the idle timer (the store is closing). */
  close(): void {
    this.trim.cancel();
  }

  private allocate(): Buffer | undefined {
    if (this.allocated >= this.max) return undefined;
    this.beforeGrow();
    this.allocated++;
    // Shared memory, so a chunk can go to the chunk writer thread without a copy (file-writer.ts).
    const buffer = Buffer.from(new SharedArrayBuffer(this.size));
    this.owned.add(buffer.buffer);
    return buffer;
  }
}
