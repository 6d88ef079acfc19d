/**
 * The data path: file handles over open files (open-file.ts), one open file
 * per mount path shared by all its handles (refcounted), reads through the
 * chunk store with a one-chunk readahead for sequential handles, writes into
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
import type { DataPath, OpenTarget } from '../data-contract.js';
import { O_ACCMODE, O_APPEND, O_RDONLY, O_TRUNC, vfsError } from '../types.js';
import { OpenFile, type FileContext } from './open-file.js';
import { flushFile } from './upload.js';

interface Handle {
  file: OpenFile;
  flags: number;
  /** Where a sequential reader reads next: a read starting here triggers readahead. */
  nextRead: number;
}

export class FileDataPath implements DataPath {
  private readonly handles = new Map<number, Handle>();
  private readonly files = new Map<string, OpenFile>();
  private nextHandle = 1;
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly ctx: FileContext, private readonly log: LogFn) {}

  private get chunks(): ChunkStore {
    return this.ctx.chunks;
  }
  private get staging(): StagingArea {
    return this.ctx.staging;
  }

  /** Prepares the cache directories once (leftover staging files of an earlier run are deleted). */
  start(): Promise<void> {
    this.started ??= (async () => {
      const leftovers = await this.staging.open();
      if (leftovers.length > 0) {
        this.log('warn', 'deleted staging files left by an earlier run (never acknowledged)', { count: leftovers.length });
      }
      await this.chunks.open();
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
    this.handles.set(fh, { file, flags, nextRead: 0 });
    try {
      if (joined && truncate) await file.truncate(0, true);
      else if (joined && !file.dirty) await file.rebase(target);
    } catch (error) {
      await this.release(fh).catch(() => undefined);
      throw error;
    }
    return fh;
  }

  async read(fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    const handle = this.handle(fh);
    const end = position + length;
    if (position === handle.nextRead) {
      // Sequential: fetch the chunk after this read's last byte in the background.
      handle.file.readahead(Math.floor(Math.max(end - 1, 0) / this.chunks.chunkSize) + 1);
    }
    handle.nextRead = end;
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

  isDirty(path: string): boolean {
    return this.files.get(path)?.dirty ?? false;
  }

  updateMetadata(path: string, metadata: Metadata): boolean {
    const file = this.files.get(path);
    if (file === undefined) return false;
    file.metadata = { ...metadata };
    // A clean file keeps the new metadata for its next upload, but the bucket needs a self-copy now.
    if (!file.dirty) return false;
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
    if (file.dirty) file.touch();
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

  invalidate(key: string): void {
    const dropped = this.chunks.invalidate(key);
    if (dropped > 0) this.log('debug', 'dropped cached chunks', { key, chunks: dropped });
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
