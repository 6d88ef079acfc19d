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
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];
  /** Buffers returned, kept for reuse (at most `limit` bytes of them). */
  private free: Buffer[] = [];

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
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
    const at = this.free.findIndex((b) => b.length >= bytes);
    const buffer = at >= 0 ? (this.free.splice(at, 1)[0] as Buffer) : Buffer.allocUnsafeSlow(bytes);
    try {
      return await task(buffer.subarray(0, bytes));
    } finally {
      this.keep(buffer);
      this.give(bytes);
    }
  }

  private keep(buffer: Buffer): void {
    this.free.push(buffer);
    let kept = this.free.reduce((n, b) => n + b.length, 0);
    // Oldest first out when over the limit (sizes change rarely: one part size per mount).
    while (kept > this.limit && this.free.length > 0) kept -= (this.free.shift() as Buffer).length;
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
