/**
 * Per-path async reader/writer locks. Node runs one thing at a time, but
 * every `await` lets another operation in; these locks keep a multi-step
 * operation on one path (check, request, cache update) from interleaving
 * with a conflicting one. An operation names every path it needs at once
 * and acquire() takes them in one global order (byte order of the paths),
 * so two operations can never wait for each other. Queues are FIFO, so a
 * waiting writer is not starved by a stream of readers.
 */

export type LockMode = 'shared' | 'exclusive';

export interface LockRequest {
  path: string;
  mode: LockMode;
}

interface Waiter {
  mode: LockMode;
  grant: () => void;
}

interface PathLock {
  readers: number;
  writer: boolean;
  queue: Waiter[];
}

export class PathLocks {
  private readonly locks = new Map<string, PathLock>();

  /**
   * Takes every requested lock (a path asked for twice gets the stronger
   * mode) and resolves with the function that releases them all.
   */
  async acquire(requests: readonly LockRequest[]): Promise<() => void> {
    const wanted = new Map<string, LockMode>();
    for (const { path, mode } of requests) {
      if (mode === 'exclusive' || !wanted.has(path)) wanted.set(path, mode);
    }
    const ordered = [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const held: [string, LockMode][] = [];
    for (const [path, mode] of ordered) {
      await this.lockOne(path, mode);
      held.push([path, mode]);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const [path, mode] of held.reverse()) this.unlockOne(path, mode);
    };
  }

  /** Runs `work` holding the requested locks. */
  async with<T>(requests: readonly LockRequest[], work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(requests);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Paths with a lock held or awaited (for tests: empty when idle). */
  get busyPaths(): string[] {
    return [...this.locks.keys()];
  }

  private lockOne(path: string, mode: LockMode): Promise<void> {
    let lock = this.locks.get(path);
    if (lock === undefined) {
      lock = { readers: 0, writer: false, queue: [] };
      this.locks.set(path, lock);
    }
    if (lock.queue.length === 0 && canGrant(lock, mode)) {
      take(lock, mode);
      return Promise.resolve();
    }
    const target = lock;
    return new Promise((resolve) => target.queue.push({ mode, grant: resolve }));
  }

  private unlockOne(path: string, mode: LockMode): void {
    const lock = this.locks.get(path);
    if (lock === undefined) return;
    if (mode === 'exclusive') lock.writer = false;
    else lock.readers--;
    while (lock.queue.length > 0 && canGrant(lock, lock.queue[0]!.mode)) {
      const next = lock.queue.shift()!;
      take(lock, next.mode);
      next.grant();
    }
    if (!lock.writer && lock.readers === 0 && lock.queue.length === 0) this.locks.delete(path);
  }
}

function canGrant(lock: PathLock, mode: LockMode): boolean {
  return mode === 'shared' ? !lock.writer : !lock.writer && lock.readers === 0;
}

function take(lock: PathLock, mode: LockMode): void {
  if (mode === 'shared') lock.readers++;
  else lock.writer = true;
}

export const shared = (path: string): LockRequest => ({ path, mode: 'shared' });
export const exclusive = (path: string): LockRequest => ({ path, mode: 'exclusive' });
