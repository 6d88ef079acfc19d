/**
 * The data path: file handles over open files (open-file.ts), one open file
 * per mount path shared by all its handles (refcounted), reads through the
 * chunk store with a growing readahead window per handle (readahead.ts), writes into
 * staging files, uploads on flush/fsync/last release (upload.ts).
 *
 * Concurrency: the handle and file tables change only synchronously (no
 * `await` between a lookup and the change), so two opens of one path always
 * share one OpenFile. Everything else is the per-file mutex of open-file.ts;
 * this module holds no lock of its own.
 *
 * A file whose last handle is released while its upload fails stays in the
 * table, dirty (refs 0): a later open joins it and close() tries again.
 */
import type { Metadata } from '../../drivers/contract.js';
import type { ChunkStore, LogFn } from '../../cache/chunks.js';
import type { StagingArea } from '../../cache/staging.js';
import type { DataPathStats, PendingUpload, WriteMode } from '../control.js';
import type { DataPath, OpenTarget } from '../data-contract.js';
import { O_ACCMODE, O_APPEND, O_RDONLY, O_TRUNC, vfsError } from '../types.js';
import { OpenFile, type FileContext } from './open-file.js';
import { PageCachePolicy } from './page-cache.js';
import { Readahead } from './readahead.js';
import { flushFile } from './upload.js';
import type { Writeback } from './writeback.js';
import { replayJournal } from './writeback-replay.js';

interface Handle {
  file: OpenFile;
  flags: number;
  /** Detects sequential reads of this handle and plans the chunks to fetch ahead. */
  readahead: Readahead;
}

export class FileDataPath implements DataPath {
  private readonly handles = new Map<number, Handle>();
  private readonly files = new Map<string, OpenFile>();
  /** Which opens may keep the kernel's page cache (keep_cache). */
  private readonly pageCache = new PageCachePolicy();
  private nextHandle = 1;
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: FileContext,
    private readonly log: LogFn,
    private readonly writeMode: WriteMode = 'sync',
    /** Async write mode: the journal and background upload queue (writeback.ts). */
    private readonly writeback?: Writeback,
  ) {
    // Files whose last background upload landed may be forgotten; open files keep their staging files.
    if (writeback !== undefined) {
      writeback.onSettled = (file) => this.forgetIfIdle(file);
    }
  }

  /** A snapshot for `bucketfs status` and metrics. */
  stats(): DataPathStats {
    const { counters, budget } = this.ctx;
    const cache = this.chunks.stats();
    const pending: PendingUpload[] = this.writeback?.pending() ?? [];
    for (const file of this.writeback === undefined ? this.files.values() : []) {
      // In sync mode a writer holds its data until close succeeds; what is left dirty by nobody is pending.
      if (!file.dirty || file.refs > 0) continue;
      const { path, key, size: bytes, dirtySince: since, lastError } = file;
      pending.push({ path, key, bytes, attempts: 1, since, ...(lastError !== undefined && { lastError }) });
    }
    return {
      writeMode: this.writeMode,
      cache: {
        bytes: cache.bytes,
        limitBytes: cache.limitBytes,
        dirtyBytes: counters.dirtyBytes,
        chunks: cache.chunks,
        hits: cache.hits,
        misses: cache.misses,
        evictions: cache.evictions,
      },
      memory: { bufferedBytes: budget.inUse + cache.memoryBytes, limitBytes: this.ctx.tuning.memoryLimitBytes },
      bytesDownloaded: cache.bytesFetched,
      bytesUploaded: counters.bytesUploaded,
      uploads: { pending, inFlight: counters.inFlight, completed: counters.completed, failed: counters.failed, retries: this.writeback?.retries ?? 0 },
      openFiles: this.files.size,
      errors: counters.errors,
    };
  }

  /**
   * A barrier: uploads every file dirty now (open or left by a failed close);
   * rejects naming the files that could not be uploaded.
   */
  async flushAll(progress?: (done: number, total: number) => void): Promise<void> {
    const files = [...this.files.values()].filter((file) => file.dirty);
    let done = 0;
    progress?.(0, files.length);
    const results = await Promise.allSettled(files.map(async (file) => {
      await flushFile(file);
      progress?.(++done, files.length);
    }));
    const failed = files.filter((_, i) => results[i]?.status === 'rejected');
    await Promise.all(files.map((file) => this.forgetIfIdle(file)));
    // Async write mode: the files above are acknowledged now; wait until everything acknowledged is in the bucket.
    if (failed.length === 0 && this.writeback !== undefined) return this.writeback.flushAll(progress);
    if (failed.length > 0) {
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      throw new AggregateError(errors, `${failed.length} file(s) could not be uploaded: ${failed.map((f) => f.path).join(', ')}`);
    }
  }

  private get chunks(): ChunkStore {
    return this.ctx.chunks;
  }
  private get staging(): StagingArea {
    return this.ctx.staging;
  }

  /** Prepares the cache directories once (leftover staging files of an earlier run are deleted). */
  start(): Promise<void> {
    this.started ??= (async () => {
      // Async write mode: snapshots the journal still owes the bucket survive the restart.
      const leftovers = await this.staging.open(this.writeback?.journal.stagingNames());
      if (leftovers.length > 0) {
        this.log('warn', 'deleted staging files left by an earlier run (never acknowledged)', { count: leftovers.length });
      }
      await this.chunks.open();
      if (this.writeback !== undefined) await this.replay(this.writeback);
    })();
    return this.started;
  }

  async open(target: OpenTarget, flags: number): Promise<number> {
    if (this.closing) throw vfsError('EIO', `${target.path}: the file system is shutting down`);
    await this.start();
    const truncate = (flags & O_TRUNC) !== 0;
    let file = this.files.get(target.path);
    const joined = file !== undefined;
    if (file === undefined) {
      file = new OpenFile(this.ctx, target, truncate);
      this.files.set(target.path, file);
    }
    file.refs++;
    const fh = this.nextHandle++;
    this.handles.set(fh, { file, flags, readahead: new Readahead(this.chunks.chunkSize, this.chunks.maxReadahead) });
    try {
      if (joined && truncate) await file.truncate(0, true);
      else if (joined && !file.dirty) await file.rebase(target);
    } catch (error) {
      await this.release(fh).catch(() => undefined);
      throw error;
    }
    this.pageCache.opened(fh, target, flags, file.dirty);
    return fh;
  }

  /** Whether the open that made `fh` revalidated the version the kernel's page cache holds (FUSE keep_cache). */
  keepCache(fh: number): boolean {
    return this.pageCache.keepCache(fh);
  }

  async read(fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    const handle = this.handle(fh);
    const ahead = handle.readahead.plan(position, length, handle.file.size);
    if (ahead.length > 0) handle.file.readahead(ahead);
    return handle.file.read(buffer, length, position);
  }

  async write(fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    const handle = this.handle(fh);
    if ((handle.flags & O_ACCMODE) === O_RDONLY) throw vfsError('EBADF', `${handle.file.path}: not open for writing`);
    return handle.file.write(buffer.subarray(0, length), position, (handle.flags & O_APPEND) !== 0);
  }

  truncate(fh: number, size: number): Promise<void> {
    return this.handle(fh).file.truncate(size);
  }

  flush(fh: number): Promise<void> {
    return flushFile(this.handle(fh).file);
  }

  fsync(fh: number): Promise<void> {
    return flushFile(this.handle(fh).file);
  }

  async release(fh: number): Promise<void> {
    const handle = this.handle(fh);
    this.handles.delete(fh);
    this.pageCache.released(fh);
    const file = handle.file;
    file.refs--;
    if (file.refs > 0) return;
    try {
      await flushFile(file);
    } catch (error) {
      this.log('error', 'upload failed at the last close; the file stays dirty until it is opened again or the mount stops', {
        path: file.path,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      await this.forgetIfIdle(file);
    }
  }

  openSize(path: string): number | undefined {
    return this.files.get(path)?.size;
  }

  handleSize(fh: number): number {
    return this.handle(fh).file.size;
  }

  isDirty(path: string): boolean {
    return this.files.get(path)?.dirty ?? false;
  }

  updateMetadata(path: string, metadata: Metadata): boolean {
    const file = this.files.get(path);
    if (file === undefined) return false;
    file.metadata = { ...metadata };
    // A clean file keeps the new metadata for its next upload, but the bucket needs a self-copy now.
    if (!file.dirty) return false;
    // Async write mode: a closed file waiting for its upload gets the new metadata journaled now (an open one at its next flush).
    if (file.refs === 0 && this.ctx.writeback?.restate(file)) return true;
    file.touch();
    return true;
  }

  renameOpen(fromPath: string, toPath: string, toKey: string): void {
    const file = this.files.get(fromPath);
    if (file === undefined || fromPath === toPath) return;
    this.detach(toPath);
    this.files.delete(fromPath);
    this.files.set(toPath, file);
    file.path = toPath;
    file.key = toKey;
    if (file.base !== undefined) file.base = { ...file.base, key: toKey };
    // Async write mode: a pending upload is journaled under the new name at once.
    if (file.dirty && !this.ctx.writeback?.restate(file)) file.touch();
  }

  contentCopied(path: string, key: string, etag: string): void {
    const file = this.files.get(path);
    if (file?.base === undefined) return;
    // Same bytes under a new identity: only the pin of later reads changes.
    file.base = { ...file.base, key, etag };
  }

  /**
   * The file at `path` was unlinked: its handles keep reading local data,
   * and it is never uploaded again (no resurrection).
   */
  unlinkOpen(path: string): void {
    this.detach(path);
  }

  invalidate(key: string): number {
    const dropped = this.chunks.invalidate(key);
    if (dropped > 0) this.log('debug', 'dropped cached chunks', { key, chunks: dropped });
    return dropped;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.started) await this.started.catch(() => undefined);
    const files = [...new Set([...this.files.values(), ...[...this.handles.values()].map((h) => h.file)])];
    const results = await Promise.allSettled(files.map((file) => flushFile(file)));
    const failed = files.filter((_, i) => results[i]?.status === 'rejected');
    // Async write mode: wait for the background uploads; what cannot be uploaded now stays journaled for the next mount.
    const owed = (await this.writeback?.close()) ?? [];
    if (owed.length > 0) {
      this.log('error', 'uploads acknowledged to applications could not reach the bucket before the stop; they stay in the journal and resume at the next mount of this cache directory', { paths: owed });
    }
    await Promise.all(files.filter((file) => !file.dirty).map((file) => file.dispose()));
    this.handles.clear();
    this.files.clear();
    await this.chunks.close();
    if (failed.length > 0) {
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      this.log('error', 'files could not be uploaded at shutdown; their staging files are left until the next start', {
        paths: failed.map((file) => file.path),
      });
      throw new AggregateError(errors, `${failed.length} file(s) could not be uploaded: ${failed.map((f) => f.path).join(', ')}`);
    }
    if (owed.length > 0) throw vfsError('EIO', `${owed.length} acknowledged file(s) stay pending in the write-back journal until the next mount: ${owed.join(', ')}`);
  }

  /** Async write mode: uploads acknowledged before the last stop become dirty files again and resume (writeback-replay.ts). */
  private async replay(writeback: Writeback): Promise<void> {
    const { target } = this.ctx;
    await replayJournal({
      writeback,
      ctx: this.ctx,
      register: (file) => this.files.set(file.path, file),
      abortMultipart: (key, uploadId) => target.backend.abortMultipart(target.bucket, key, uploadId),
      listMultipart: async (prefix) => (await target.backend.listMultipartUploads(target.bucket, { prefix })),
    });
  }

  private handle(fh: number): Handle {
    const handle = this.handles.get(fh);
    if (handle === undefined) throw vfsError('EBADF', `no open file handle ${fh}`);
    return handle;
  }

  private detach(path: string): void {
    const file = this.files.get(path);
    if (file === undefined) return;
    file.detach();
    this.ctx.writeback?.drop(file);
    this.files.delete(path);
    void this.forgetIfIdle(file);
  }

  /** Drops a file nobody holds and nothing needs: clean, or detached. */
  private async forgetIfIdle(file: OpenFile): Promise<void> {
    if (file.refs > 0 || file.dirty) return;
    if (this.files.get(file.path) === file) this.files.delete(file.path);
    await file.mutex.run(() => file.dispose());
  }
}
