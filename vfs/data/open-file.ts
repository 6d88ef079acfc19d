/**
 * One open file: the state every handle on one path shares — the object
 * version it was opened on (`base`), its staging file, its size, its dirty
 * flag — and the byte operations on it. Uploads are in upload.ts.
 *
 * Where the bytes of offset x (x < size) come from:
 *   - the staging file, when it holds x (`staging.local`) or when x ≥ baseLimit
 *     (bytes past the base's visible end are written ones or holes: zeros);
 *   - otherwise the base object, through the chunk store, pinned to its etag.
 * `baseLimit` only shrinks (a truncate below it hides the base's tail for
 * good: growing again must show zeros, not the old bytes).
 *
 * Concurrency (every `await` lets other work in):
 *   - `mutex` serialises every change: write, truncate, rebase and a whole
 *     upload. Writes that arrive during an upload wait for it (no snapshot
 *     copy of the staging file is made), so the bytes uploaded are exactly
 *     the bytes acknowledged before the upload started.
 *   - Reads take no lock: they plan from a synchronous snapshot of the state
 *     and may see a concurrent write partly, as on a local disk. If our own
 *     upload replaces the base under a read (its GET then fails with ESTALE),
 *     the read plans again.
 *   - Lock order: no code holds two file mutexes, and the chunk store takes
 *     none, so none can be violated.
 *   - Sync mutators (metadata, rename, detach) bump `version`; an upload
 *     that started on an older version leaves the file dirty.
 */
import type { Metadata } from '../../drivers/contract.js';
import type { ChunkSource, ChunkStore, LogFn } from '../../cache/chunks.js';
import type { StagingArea, StagingFile } from '../../cache/staging.js';
import type { DataPathHooks, OpenTarget } from '../data-contract.js';
import { VfsError, vfsError } from '../types.js';
import { Mutex } from './mutex.js';

/** What an open file needs from the data path around it. */
export interface FileContext {
  chunks: ChunkStore;
  staging: StagingArea;
  hooks: DataPathHooks;
  log: LogFn;
  /** Uploads a local file as the object `key` (one PUT or multipart); resolves with its etag. */
  upload(source: string, key: string, options: { metadata: Metadata; contentType?: string }): Promise<{ etag: string }>;
  /** Deletes an object (an upload that landed under a name the file no longer has). */
  remove(key: string): Promise<void>;
  /** Chunks fetched at once while filling a staging file before an upload. */
  fillConcurrency: number;
}

export const isStale = (error: unknown): boolean => error instanceof VfsError && error.errno === 'ESTALE';

export class OpenFile {
  path: string;
  key: string;
  metadata: Metadata;
  contentType: string | undefined;
  /** The object version non-local bytes come from; undefined for a new or emptied file. */
  base: ChunkSource | undefined;
  baseLimit: number;
  size: number;
  staging: StagingFile | undefined;
  dirty: boolean;
  /** Bumped by every change an upload must carry. */
  version = 0;
  /** Bumped whenever `base` is replaced, so a read can tell its plan is outdated. */
  generation = 0;
  /** Handles open on this file. */
  refs = 0;
  /** Unlinked or replaced while open: its handles keep their local data, nothing is uploaded. */
  detached = false;
  readonly mutex = new Mutex();

  constructor(readonly ctx: FileContext, target: OpenTarget, truncate: boolean) {
    this.path = target.path;
    this.key = target.key;
    this.metadata = { ...target.metadata };
    this.contentType = target.contentType;
    const keepsBase = target.exists && !truncate;
    this.base = keepsBase ? { key: target.key, etag: target.etag ?? '', size: target.size } : undefined;
    this.size = keepsBase ? target.size : 0;
    this.baseLimit = this.size;
    this.staging = undefined;
    // A new file is uploaded at its first flush even if nothing is written; so is an emptied one.
    this.dirty = !keepsBase;
  }

  /** Marks a change that the next upload must carry. */
  touch(): void {
    this.dirty = !this.detached;
    this.version++;
  }

  async ensureStaging(): Promise<StagingFile> {
    this.staging ??= await this.ctx.staging.create();
    return this.staging;
  }

  /** Reads up to `length` bytes at `position`; returns the count (short only at end of file). */
  async read(into: Buffer, length: number, position: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      try {
        return await this.readOnce(into, length, position);
      } catch (error) {
        if (!isStale(error) || generation === this.generation || attempt >= 2) throw error;
      }
    }
  }

  private async readOnce(into: Buffer, length: number, position: number): Promise<number> {
    const { staging, base } = this;
    const end = Math.min(position + length, this.size);
    if (position >= end) return 0;
    const baseEnd = base === undefined ? position : Math.min(end, this.baseLimit);
    const fromBase = position >= baseEnd ? [] : staging ? staging.local.gaps(position, baseEnd) : [{ start: position, end: baseEnd }];
    if (staging) await staging.read(into, 0, end - position, position);
    else if (fromBase.length === 0 || baseEnd < end) into.fill(0, 0, end - position);
    if (base !== undefined) {
      await Promise.all(fromBase.map((gap) => this.ctx.chunks.read(base, gap.start, gap.end, into, gap.start - position)));
    }
    return end - position;
  }

  /** Starts fetching chunk `index` of the base unless it is local or beyond the base's visible end. */
  readahead(index: number): void {
    const base = this.base;
    const start = index * this.ctx.chunks.chunkSize;
    if (base === undefined || start >= this.baseLimit) return;
    const end = Math.min(start + this.ctx.chunks.chunkSize, this.baseLimit);
    if (this.staging?.local.covers(start, end)) return;
    this.ctx.chunks.prefetch(base, index);
  }

  /** Writes all of `data` at `position` (at the end with `append`); returns the byte count. */
  write(data: Buffer, position: number, append: boolean): Promise<number> {
    // Writing nothing changes nothing, not even the size (POSIX).
    if (data.length === 0) return Promise.resolve(0);
    return this.mutex.run(async () => {
      const staging = await this.stagingForWrite();
      const at = append ? this.size : position;
      try {
        await staging.write(data, at);
      } catch (error) {
        // Drop any partly written tail past the end, so a later hole reads as zeros.
        if (at + data.length > this.size) await staging.truncate(this.size).catch(() => undefined);
        throw this.localFailure(error, 'write');
      }
      this.size = Math.max(this.size, at + data.length);
      this.touch();
      return data.length;
    });
  }

  /** Sets the size: growing adds zeros, shrinking drops the tail. `force`: dirty even at the same size (O_TRUNC). */
  truncate(size: number, force = false): Promise<void> {
    return this.mutex.run(async () => {
      if (size === this.size && !force) return;
      const staging = await this.stagingForWrite();
      try {
        await staging.truncate(size);
      } catch (error) {
        throw this.localFailure(error, 'truncate');
      }
      this.baseLimit = Math.min(this.baseLimit, size);
      this.size = size;
      this.touch();
    });
  }

  /** A clean file reopened after the object changed in the bucket: later reads show the new version. */
  rebase(target: OpenTarget): Promise<void> {
    return this.mutex.run(async () => {
      if (this.dirty || !target.exists || target.etag === this.base?.etag) return;
      const old = this.staging;
      this.staging = undefined;
      this.base = { key: target.key, etag: target.etag ?? '', size: target.size };
      this.size = this.baseLimit = target.size;
      this.metadata = { ...target.metadata };
      this.generation++;
      await old?.remove();
    });
  }

  /** Stops uploads for good (the name was unlinked or replaced). */
  detach(): void {
    this.detached = true;
    this.dirty = false;
    this.version++;
  }

  /** Closes and deletes the staging file. */
  async dispose(): Promise<void> {
    const staging = this.staging;
    this.staging = undefined;
    await staging?.remove();
  }

  private async stagingForWrite(): Promise<StagingFile> {
    try {
      return await this.ensureStaging();
    } catch (error) {
      throw this.localFailure(error, 'stage');
    }
  }

  /** A failure of the cache disk: ENOSPC stays ENOSPC (errno.ts), anything else is EIO, both naming the file. */
  localFailure(error: unknown, what: string): unknown {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (error instanceof VfsError) return error;
    if (code === 'ENOSPC' || code === 'EDQUOT') return vfsError('ENOSPC', `${this.path}: cannot ${what}: the cache disk is full`, error);
    return vfsError('EIO', `${this.path}: cannot ${what} in the cache: ${String(error)}`, error);
  }
}
