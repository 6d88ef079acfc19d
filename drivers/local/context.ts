/**
 * State shared by the local backend's operations: the root (resolved once),
 * one BucketLayout per bucket, the per-key write locks, and the directories
 * this process has just created for a write that has not landed yet.
 *
 * Concurrency: Node runs one operation step at a time, but every await lets
 * others in. Writes to one key run one at a time under `withKeyLock`. An
 * entry leaves directory D only under the lock of D's marker key (`D/`), and
 * D itself is pruned under its parent's marker lock as well; whether an
 * empty D is a user's directory (to keep as a marker) is decided under D's
 * lock too. Locks are always taken deeper before shallower (a key before its
 * directory's marker, a directory before its parent), so never in a cycle.
 */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fsFailure, hasCode } from './failures.js';
import { checkBucketName, keyPath } from './keys.js';
import type { KeyPath } from './keys.js';
import { BucketLayout } from './layout.js';
import type { DirHold } from './layout.js';
import { KeyedLock } from './locks.js';

export class LocalContext {
  private readonly locks = new KeyedLock();
  private readonly fresh = new Map<string, number>();
  private readonly layouts = new Map<string, BucketLayout>();
  private resolvedRoot: string | undefined;

  constructor(
    readonly root: string,
    readonly maxKeyBytes: number,
  ) {}

  /** The root with links resolved; a missing root stays as given (nothing in it exists). */
  async realRoot(): Promise<string> {
    if (this.resolvedRoot !== undefined) return this.resolvedRoot;
    const absolute = resolve(this.root);
    try {
      this.resolvedRoot = await realpath(absolute);
      return this.resolvedRoot;
    } catch (e) {
      if (hasCode(e, 'ENOENT', 'ENOTDIR')) return absolute;
      throw fsFailure(e, `local root ${absolute}`);
    }
  }

  /** The layout of `bucket` after checking its name (the bucket may not exist). */
  async layout(bucket: string): Promise<BucketLayout> {
    checkBucketName(bucket);
    const root = await this.realRoot();
    const known = this.layouts.get(bucket);
    if (known !== undefined && known.root === root) return known;
    const layout = new BucketLayout(root, bucket);
    this.layouts.set(bucket, layout);
    return layout;
  }

  keyPath(layout: BucketLayout, key: string): KeyPath {
    return keyPath(layout.root, layout.bucket, key, this.maxKeyBytes);
  }

  /** Runs `task` while no other write to `bucket/key` runs in this process. */
  withKeyLock<T>(bucket: string, key: string, task: () => Promise<T>): Promise<T> {
    // Bucket names hold no NUL, so the lock ids of two (bucket, key) pairs never collide.
    return this.locks.run(`key\0${bucket}\0${key}`, task);
  }

  /** Runs `task` while no other completion or abort of the upload runs in this process. */
  withUploadLock<T>(uploadId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(`upload\0${uploadId}`, task);
  }

  /**
   * Starts a hold on directories created for a write in flight, released
   * when the write has landed: they are empty for a moment, and must be
   * neither pruned as empty nor taken for a user's empty directory (an
   * implicit marker) meanwhile.
   */
  holdFresh(): DirHold {
    return hold(this.fresh);
  }

  /** Held by a write in flight: not to be pruned nor adopted. */
  isFresh(dir: string): boolean {
    return this.fresh.has(dir);
  }
}

/** A counted hold on directories in `counts`. */
function hold(counts: Map<string, number>): DirHold {
  const held: string[] = [];
  let made = 0;
  return {
    add: (dir) => {
      held.push(dir);
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
    },
    made: () => {
      made++;
    },
    get madeCount() {
      return made;
    },
    release: () => {
      for (const dir of held.splice(0)) {
        const count = (counts.get(dir) ?? 1) - 1;
        if (count <= 0) counts.delete(dir);
        else counts.set(dir, count);
      }
    },
  };
}
