/**
 * When an open may keep the kernel's page cache of a file (FUSE keep_cache)
 * instead of having it dropped: close-to-open, like NFS. Pages the kernel
 * holds for a path came from the version seen at an earlier open (reads and
 * this mount's own writes go through them); an open that revalidated the
 * same etag, with nothing local pending, may keep them. A changed etag, an
 * O_TRUNC open or a file with local changes drops them.
 */
import { LRUCache } from 'lru-cache';
import type { OpenTarget } from '../data-contract.js';
import { O_TRUNC } from '../types.js';

/** Paths remembered (a path forgotten only costs one open without the page cache). */
const PATHS = 10_000;

export class PageCachePolicy {
  /** Path → the etag the kernel's pages of it may hold. */
  private readonly seen = new LRUCache<string, string>({ max: PATHS });
  private readonly keep = new Set<number>();

  /** Notes the open of handle `fh`; `dirty`: the open file has local changes not in the bucket. */
  opened(fh: number, target: OpenTarget, flags: number, dirty: boolean): void {
    const etag = target.exists && (flags & O_TRUNC) === 0 && !dirty ? target.etag : undefined;
    if (etag !== undefined && etag !== '' && this.seen.get(target.path) === etag) this.keep.add(fh);
    if (etag === undefined || etag === '') this.seen.delete(target.path);
    else this.seen.set(target.path, etag);
  }

  /** Whether the open of `fh` may keep the kernel's cached pages. */
  keepCache(fh: number): boolean {
    return this.keep.has(fh);
  }

  released(fh: number): void {
    this.keep.delete(fh);
  }
}
