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
import { RangeSet, type StagingArea, type StagingFile } from '../../cache/staging.js';
import type { DataPathHooks, OpenTarget } from '../data-contract.js';
import { VfsError, vfsError } from '../types.js';
import type { ByteBudget, Signal } from './budget.js';
import type { MultipartSession, ObjectFields, PartTarget } from './multipart.js';
import { Mutex } from './mutex.js';
import type { DataCounters } from './stats.js';

/** Sizes and counts the write path works with (index.ts sets them from the mount's options). */
export interface WriteTuning {
  /** Files of at least this size go multipart (and stream parts while written). */
  multipartThreshold: number;
  partSize: number;
  /** Parts in flight per file. */
  partConcurrency: number;
  /** Server-side part copies in flight per file. */
  copyConcurrency: number;
  /** Largest single UploadPartCopy. */
  maxCopyPart: number;
  /** Bound on dirty bytes (the cache bound). */
  cacheBytes: number;
  /** The mount's whole memory bound (reported by stats). */
  memoryLimitBytes: number;
}

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
  /** Where multipart sessions live. */
  target: PartTarget;
  tuning: WriteTuning;
  counters: DataCounters;
  /** Memory for parts in flight and assembly buffers. */
  budget: ByteBudget;
  /** Notified when dirty bytes drop or an upload ends (writers waiting for room). */
  room: Signal;
  /** Around every write (stream.ts): wait for room under the cache bound; send the parts it finished. */
  writes: {
    before(file: OpenFile, bytes: number): Promise<void>;
    after(file: OpenFile, start: number, end: number): Promise<void>;
  };
  /** Async write mode: the journal and background upload queue (writeback.ts); undefined in sync mode. */
  writeback?: WritebackPort;
}

/** What open files and uploads ask of the async write mode's queue (writeback.ts implements it). */
export interface WritebackPort {
  /** Journals the file's current content (under its mutex); the upload follows in the background. */
  acknowledge(file: OpenFile): Promise<void>;
  /** Before a change of the bytes from offset `from` on: a staging file a journaled snapshot still needs is copied first, unless the change is past the bytes it froze. */
  beforeWrite(file: OpenFile, from: number): Promise<void>;
  /** A pending file was renamed or got new metadata: journaled at once; false when nothing is pending. */
  restate(file: OpenFile): boolean;
  /** The file was unlinked: its pending uploads are dropped. */
  drop(file: OpenFile): void;
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
  /** Offsets whose bytes differ from the base (written, or zeros from a truncate) since the last upload. */
  readonly changed = new RangeSet();
  /** The multipart upload in progress (parts streamed while the file is written), if any. */
  session: MultipartSession | undefined;
  /** This file's share of `counters.dirtyBytes`. */
  dirtyBytes = 0;
  /** Dirty bytes reserved in the chunk store for this file (a write reserves before it lands). */
  private reserved = 0;
  /** When the file last became dirty (ms since the epoch), and why its last upload failed. */
  dirtySince = Date.now();
  lastError: string | undefined;
  /** Set when a streamed upload could not start: the next flush uploads, and streaming may start again after it. */
  noStream = false;
  /** True while flush uploads the file (under the mutex). */
  uploading = false;
  /** Change sequence per block of the session's part grid; a block never changed is 0. */
  private readonly blockSeqs = new Map<number, number>();
  /** Aborts of dropped sessions still running (dispose waits for them). */
  private aborting: Promise<void> = Promise.resolve();
  private seq = 0;
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
    if (!this.dirty) this.dirtySince = Date.now();
    this.dirty = !this.detached;
    this.version++;
  }

  /** The metadata and content type an upload of the file carries now. */
  fields(): ObjectFields {
    return { metadata: { ...this.metadata }, contentType: this.contentType };
  }

  /** The part size of the block grid: the session's, or the configured one. */
  get gridSize(): number {
    return this.session?.partSize ?? this.ctx.tuning.partSize;
  }

  seqOf(block: number): number {
    return this.blockSeqs.get(block) ?? 0;
  }

  /** Records that [start, end) no longer holds the base's bytes. */
  private markChanged(start: number, end: number): void {
    if (end <= start) return;
    this.changed.add(start, end);
    const grid = this.gridSize;
    const seq = ++this.seq;
    for (let block = Math.floor(start / grid); block * grid < end; block++) this.blockSeqs.set(block, seq);
  }

  /** After an upload: the bucket holds every byte, nothing differs from the new base. */
  uploadedAll(): void {
    this.noStream = false;
    this.changed.clear();
    this.blockSeqs.clear();
    this.recount();
  }

  /** Recomputes this file's dirty bytes (changed bytes not yet sent as parts) into the shared counter. */
  recount(): void {
    let bytes = this.detached ? 0 : this.changed.bytes;
    const session = this.session;
    if (session !== undefined && bytes > 0) {
      for (const [block, part] of session.sent) {
        if (part.seq === this.seqOf(block)) bytes -= part.length;
      }
    }
    bytes = Math.max(0, bytes);
    const { counters, room, chunks } = this.ctx;
    counters.dirtyBytes += bytes - this.dirtyBytes;
    this.dirtyBytes = bytes;
    // The chunk store holds one disk bound for clean chunks and local bytes: it evicts clean chunks to make room.
    // Local bytes are what the staging file holds on disk (parts already sent included), or the dirty bytes if more.
    const held = Math.max(bytes, this.stagedBytes);
    const dropped = held < this.reserved;
    if (held > this.reserved) chunks.holdDirty(held - this.reserved);
    else if (dropped) chunks.releaseDirty(this.reserved - held);
    this.reserved = held;
    if (dropped) room.notify();
  }

  /** Bytes the staging file holds on the cache disk (holes take none). */
  get stagedBytes(): number {
    return this.staging?.local.bytes ?? 0;
  }

  /**
   * Under cache pressure (stream.ts): drops the staging file of a clean file.
   * Every byte is in the object it was last uploaded as (its base), so later
   * reads go through the chunk store. Runs under the file's mutex.
   */
  async dropStaging(): Promise<void> {
    const staging = this.staging;
    if (staging === undefined || this.dirty || this.base === undefined || this.baseLimit < this.size || this.ctx.writeback !== undefined) return;
    this.staging = undefined;
    this.generation++;
    this.recount();
    await staging.remove();
  }

  /** Forgets the multipart upload in progress and aborts it in the background. */
  dropSession(): Promise<void> {
    const session = this.session;
    if (session === undefined) return this.aborting;
    this.session = undefined;
    this.recount();
    const aborted = session.abort().catch((error: unknown) => {
      this.ctx.log('warn', 'could not abort a multipart upload', { key: session.key, uploadId: session.uploadId, error: String(error) });
    });
    this.aborting = Promise.all([this.aborting, aborted]).then(() => undefined);
    return this.aborting;
  }

  async ensureStaging(): Promise<StagingFile> {
    this.staging ??= await this.ctx.staging.create();
    return this.staging;
  }

  /** Reads up to `length` bytes at `position`; returns the count (short only at end of file). */
  read(into: Buffer, length: number, position: number): Promise<number> {
    return this.replanned(() => this.readOnce(into, length, position));
  }

  /** Runs `task` again (twice at most) when it failed because the base or the staging file was replaced under it (an upload, a drop under cache pressure). */
  private async replanned(task: () => Promise<number>): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      try {
        return await task();
      } catch (error) {
        if (generation === this.generation || attempt >= 2) throw error;
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

  /**
   * Like `read`, for an upload assembling a part of `length` bytes in `into`:
   * when the local bytes are scattered (random writes), the base's bytes of
   * the whole span come first, straight into `into` (chunks.ts `readDirect`:
   * one GET per uncached run, no chunk buffers), then the local bytes over
   * them — rather than one chunk-store read per gap between local bytes.
   */
  readWhole(into: Buffer, length: number, position: number): Promise<number> {
    return this.replanned(() => this.readWholeOnce(into, length, position));
  }

  private async readWholeOnce(into: Buffer, length: number, position: number): Promise<number> {
    const { staging, base } = this;
    const end = Math.min(position + length, this.size);
    const baseEnd = base === undefined ? position : Math.min(end, this.baseLimit);
    const gaps = staging === undefined || position >= baseEnd ? [] : staging.local.gaps(position, baseEnd);
    const first = gaps[0];
    const last = gaps[gaps.length - 1];
    if (base === undefined || staging === undefined || first === undefined || last === undefined || gaps.length < 2) return this.readOnce(into, length, position);
    await this.ctx.chunks.readDirect(base, first.start, last.end, into, first.start - position);
    // Everything outside the gaps is the staging file's: written bytes, and zeros past the base's end.
    const reads: Promise<void>[] = [];
    let at = position;
    for (const gap of [...gaps, { start: end, end }]) {
      if (gap.start > at) reads.push(staging.read(into, at - position, gap.start - at, at));
      at = gap.end;
    }
    await Promise.all(reads);
    return end - position;
  }

  /** Starts fetching chunks of the base in the background, except those local or beyond the base's visible end. */
  readahead(indexes: number[]): void {
    const base = this.base;
    const size = this.ctx.chunks.chunkSize;
    if (base === undefined) return;
    const wanted = indexes.filter((index) => {
      const start = index * size;
      return start < this.baseLimit && !this.staging?.local.covers(start, Math.min(start + size, this.baseLimit));
    });
    this.ctx.chunks.prefetch(base, wanted);
  }

  /** Writes all of `data` at `position` (at the end with `append`); returns the byte count. */
  write(data: Buffer, position: number, append: boolean): Promise<number> {
    // Writing nothing changes nothing, not even the size (POSIX).
    if (data.length === 0) return Promise.resolve(0);
    return this.mutex.run(async () => {
      await this.ctx.writes.before(this, data.length);
      await this.ctx.chunks.reserveDirty(data.length);
      this.reserved += data.length;
      try {
        return await this.writeReserved(data, position, append);
      } finally {
        this.recount();
      }
    });
  }

  private async writeReserved(data: Buffer, position: number, append: boolean): Promise<number> {
    const at = append ? this.size : position;
    const staging = await this.stagingForWrite(Math.min(at, this.size));
    try {
      await staging.write(data, at);
    } catch (error) {
      // Drop any partly written tail past the end, so a later hole reads as zeros.
      if (at + data.length > this.size) await staging.truncate(this.size).catch(() => undefined);
      throw this.localFailure(error, 'write');
    }
    if (at > this.size) this.markChanged(this.size, at); // the hole reads as zeros now
    this.size = Math.max(this.size, at + data.length);
    this.markChanged(at, at + data.length);
    this.touch();
    this.recount();
    await this.ctx.writes.after(this, at, at + data.length);
    return data.length;
  }

  /** Sets the size: growing adds zeros, shrinking drops the tail. `force`: dirty even at the same size (O_TRUNC). */
  truncate(size: number, force = false): Promise<void> {
    return this.mutex.run(async () => {
      if (size === this.size && !force) return;
      const staging = await this.stagingForWrite(Math.min(size, this.size));
      try {
        await staging.truncate(size);
      } catch (error) {
        throw this.localFailure(error, 'truncate');
      }
      const old = this.size;
      this.baseLimit = Math.min(this.baseLimit, size);
      this.size = size;
      if (size < old) {
        this.changed.truncate(size);
        // The block holding the new end changed length: mark it so a sent part of it is not reused.
        this.markChanged(size, size + 1);
        this.changed.truncate(size);
      } else {
        this.markChanged(old, size);
      }
      if (size === 0) await this.dropSession();
      this.touch();
      this.recount();
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
      this.recount(); // the old staging file's bytes no longer count against the cache bound
      await old?.remove();
    });
  }

  /** Stops uploads for good (the name was unlinked or replaced). */
  detach(): void {
    this.detached = true;
    this.dirty = false;
    this.version++;
    // An upload running now finishes with its session; upload.ts deletes what it stored.
    if (!this.uploading) void this.dropSession();
    this.recount();
  }

  /** Closes and deletes the staging file. */
  async dispose(): Promise<void> {
    await this.dropSession();
    this.changed.clear();
    const staging = this.staging;
    this.staging = undefined;
    this.recount(); // after the staging file is gone: its bytes no longer count against the cache bound
    await staging?.remove();
  }

  /** The staging file for a change of the bytes from offset `from` on. */
  private async stagingForWrite(from: number): Promise<StagingFile> {
    try {
      // Async write mode: a staging file an acknowledged upload still reads is copied first (appends past it share it).
      await this.ctx.writeback?.beforeWrite(this, from);
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
