import { collectNow, collectSoon, IdleTrim } from '../../cache/chunks/collect.js';

/**
 * A byte budget shared by everyone who needs memory for an upload (a part
 * being sent, a part being assembled): `take` waits until the bytes are free,
 * so the buffers in flight never exceed `--memory-limit`. A request larger
 * than the whole budget is granted alone (once everything else is released),
 * never refused: a part must be sendable whatever the limit.
 *
 * `withBuffer` also lends the buffer itself and keeps it for the next part:
 * part buffers are large (32 MiB) and a freed Buffer's memory returns only at
 * the next garbage collection, so allocating one per part let the process
 * grow past the budget (measured, 1 GiB written through the mount with four
 * 32 MiB parts in flight: 279 MiB peak RSS; with reused buffers 257 MiB).
 * Kept buffers go once the budget has been idle for a second (`trim`).
 * `borrow`/`giveBack` lend kept buffers to a caller that reserved with `with`
 * (uploads of whole files: file-upload.ts).
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];
  /** Buffers returned, kept for reuse (at most `limit` bytes of them). */
  private free: Buffer[] = [];
  /**
   * Once the budget has been idle for IDLE_BUFFERS_MS, the kept buffers go: a
   * mount that stopped writing should not hold its part buffers (up to the
   * whole upload share) while it reads. The next upload allocates them again.
   */
  private readonly trim = new IdleTrim(() => {
    if (this.used !== 0 || this.free.length === 0) return false;
    this.free = [];
    return true;
  });
  /** Allocations made here: only these are taken back. */
  private readonly owned = new WeakSet<ArrayBufferLike>();

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Bytes of buffers kept for reuse (not lent). */
  get kept(): number {
    return this.free.reduce((n, b) => n + b.length, 0);
  }

  /** Resolves once `bytes` are reserved; the caller must `give` them back. */
  take(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ bytes, grant: resolve }));
  }

  give(bytes: number): void {
    this.used -= bytes;
    if (this.used === 0) this.trim.touch();
    // First come, first served: a big request is not starved by small ones.
    while (this.waiting.length > 0 && this.fits((this.waiting[0] as { bytes: number }).bytes)) {
      const next = this.waiting.shift() as { bytes: number; grant: () => void };
      this.used += next.bytes;
      next.grant();
    }
  }

  /** Runs `task` with `bytes` reserved. */
  async with<T>(bytes: number, task: () => Promise<T>): Promise<T> {
    await this.take(bytes);
    try {
      return await task();
    } finally {
      this.give(bytes);
    }
  }

  /** Runs `task` with a buffer of exactly `bytes` (contents undefined) taken from the budget. */
  async withBuffer<T>(bytes: number, task: (buffer: Buffer) => Promise<T>): Promise<T> {
    await this.take(bytes);
    const buffer = this.borrow(bytes);
    try {
      return await task(buffer);
    } finally {
      this.giveBack(buffer);
      this.give(bytes);
    }
  }

  /**
   * A buffer of exactly `bytes` (contents undefined) for a caller that already
   * holds a reservation covering it (`with`): a kept one when one is large
   * enough. Hand it back with `giveBack` once nothing refers to it.
   */
  borrow(bytes: number): Buffer {
    const at = this.free.findIndex((b) => b.length >= bytes);
    if (at >= 0) return (this.free.splice(at, 1)[0] as Buffer).subarray(0, bytes);
    // None fits (fill pieces are a chunk, parts larger): kept buffers beside the new one stay within the limit, with
    // what is lent (at most the bytes reserved). Without this, 64 MiB of kept 8 MiB pieces stayed beside 64 MiB of
    // new 32 MiB parts: an async upload of a 256 MiB file changed at random peaked 64 MiB over its share.
    if (this.shed(this.limit - this.used)) collectNow();
    const buffer = Buffer.allocUnsafeSlow(bytes);
    this.owned.add(buffer.buffer);
    return buffer;
  }

  /** Takes back a buffer from `borrow` for reuse (anything else is ignored). */
  giveBack(buffer: Buffer): void {
    // A view from `borrow` shares its whole allocation: keep that, not the view.
    if (this.owned.has(buffer.buffer)) this.keep(Buffer.from(buffer.buffer));
  }

  /** Drops every kept buffer now (their memory goes before another consumer allocates its own). */
  dropKept(): void {
    if (this.shed(0)) collectNow();
  }

  private keep(buffer: Buffer): void {
    if (this.free.some((b) => b.buffer === buffer.buffer)) return; // given back twice: lent once more would be shared
    this.free.push(buffer);
    if (this.shed(this.limit)) collectSoon();
  }

  /**
   * Drops kept buffers, oldest first, until they hold at most `room` bytes;
   * true if it dropped any. The caller then collects, so their memory goes
   * now, not at some later collection (synchronously before an allocation
   * that takes their place) — after this returns: a collection run from
   * here found the last buffer dropped still held by this frame, and kept it.
   */
  private shed(room: number): boolean {
    let kept = this.kept;
    if (kept === 0 || kept <= room) return false;
    while (kept > room && this.free.length > 0) kept -= (this.free.shift() as Buffer).length;
    return true;
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }
}

/** Wakes everyone waiting for "something changed" (dirty bytes dropped, an upload ended). */
export class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
