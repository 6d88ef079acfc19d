/**
 * In-process serialization of writes per key. The local backend honours
 * conditional writes (If-Match, If-None-Match) and append positions by doing
 * check-then-write under the key's lock; other processes writing the same
 * tree are not coordinated (a file system offers no compare-and-swap on
 * content), which the backend's documentation states.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` once every earlier task of `id` has settled. */
  async run<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(id, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      // The last waiter cleans up, so the map holds only keys with work in flight.
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }

  /** Number of keys with work queued or running (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
