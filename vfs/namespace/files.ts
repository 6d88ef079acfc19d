/**
 * Open files, from the namespace's side: the checks before a handle exists
 * (EISDIR, O_EXCL, EROFS), the HEAD that revalidates every open
 * (close-to-open: a changed etag drops cached clean data), the OpenTarget
 * handed to the data path, and the bookkeeping after: writes move mtime,
 * uploads update the metadata cache (the `uploaded` hook), the last release
 * of a file that never reached the bucket forgets it. The bytes themselves
 * are the data path's (vfs/data-contract.ts).
 */
import { parentOf } from '../../cache/metadata/paths.js';
import type { Entry } from '../../cache/metadata/types.js';
import type { DataPath, OpenTarget, PendingObject, UploadedObject } from '../data-contract.js';
import { attrsFromMetadata, kindOfMode } from '../object-format.js';
import { O_ACCMODE, O_CREAT, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY, vfsError, type Attr } from '../types.js';
import { headFields, localFields, newAttrs, posixOf, toAttr, withAttrs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import type { Lookup } from './lookup.js';
import type { OpenFile, OpenFiles } from './open-files.js';
import { headOrAbsent } from './remote.js';

export const isWriteOpen = (flags: number) => (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;

export class Files {
  /** When each open file's mtime was last moved by a write (ms): one metadata update per millisecond at most. */
  private readonly touchedAt = new WeakMap<OpenFile, number>();

  constructor(
    private readonly ctx: NamespaceContext,
    private readonly lookup: Lookup,
    private readonly openFiles: OpenFiles,
    private readonly dataPath: DataPath,
  ) {}

  async open(path: string, flags: number): Promise<number> {
    if (isWriteOpen(flags)) this.checkWritable();
    const entry = await this.lookup.find(path);
    if (entry === undefined) {
      if (flags & O_CREAT) return this.create(path, this.ctx.options.fileMode, flags);
      throw vfsError('ENOENT', `no such file or directory: ${path}`);
    }
    if (flags & O_CREAT && flags & O_EXCL) throw vfsError('EEXIST', `file exists: ${path}`);
    if (entry.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    const target = await this.target(path, entry);
    const fh = await this.dataPath.open(target, flags);
    const current = this.ctx.store.get(path) ?? entry;
    const file = this.openFiles.add(fh, {
      path, ino: current.ino, key: target.key, attrs: posixOf(current), metadata: target.metadata, contentType: target.contentType,
    });
    if (flags & O_TRUNC) this.touch(file);
    return fh;
  }

  async create(path: string, mode: number, flags: number): Promise<number> {
    this.checkWritable();
    const { ctx } = this;
    ctx.keys.checkStorable(path);
    await this.lookup.getDir(parentOf(path));
    if ((await this.lookup.find(path)) !== undefined) {
      if (flags & O_EXCL) throw vfsError('EEXIST', `file exists: ${path}`);
      return this.open(path, flags & ~O_CREAT);
    }
    const key = ctx.keys.fileKey(path);
    const attrs = newAttrs('file', mode, ctx.owner, ctx.nowNs());
    const metadata = withAttrs(undefined, attrs);
    // Not in the bucket until its first flush (no placeholder object): only this mount knows it.
    const { ino } = ctx.store.upsert(path, localFields('file', attrs, { size: 0, etag: undefined, metadata, localOnly: true }, ctx.now()));
    let fh: number;
    try {
      fh = await this.dataPath.open({ path, key, exists: false, size: 0, etag: undefined, metadata }, flags | O_CREAT);
    } catch (e) {
      ctx.store.remove(path);
      throw e;
    }
    this.openFiles.add(fh, { path, ino, key, attrs, metadata, contentType: undefined });
    return fh;
  }

  /** What the data path opens: revalidated with a HEAD unless the file has unsaved data here. */
  private async target(path: string, entry: Entry): Promise<OpenTarget> {
    const { ctx } = this;
    const key = ctx.keys.fileKey(path);
    const open = this.openFiles.get(path);
    if (entry.localOnly || (open !== undefined && this.dataPath.isDirty(path))) {
      const metadata = open?.metadata ?? entry.metadata ?? {};
      return { path, key, exists: !entry.localOnly, size: entry.size, etag: entry.etag, metadata, ...optionalType(entry.contentType) };
    }
    const info = await headOrAbsent(ctx.container, key);
    if (info === undefined) {
      ctx.store.putNegative(path, ctx.now());
      throw vfsError('ENOENT', `no such file or directory (removed from the bucket): ${path}`);
    }
    if (entry.etag !== undefined && info.etag !== entry.etag) this.dataPath.invalidate(key);
    const fields = headFields(info, ctx.options, ctx.now());
    if (fields.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    if (entry.etag === info.etag) fields.symlinkTarget = entry.symlinkTarget;
    ctx.store.upsert(path, fields);
    return { path, key, exists: true, size: info.size, etag: info.etag, metadata: { ...info.metadata }, ...optionalType(info.contentType) };
  }

  async read(fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    this.handle(fh);
    return this.dataPath.read(fh, buffer, length, position);
  }

  async write(fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    const file = this.handle(fh);
    const written = await this.dataPath.write(fh, buffer, length, position);
    this.touch(file);
    return written;
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const file = this.handle(fh);
    await this.dataPath.truncate(fh, size);
    this.touch(file);
  }

  async flush(fh: number): Promise<void> {
    this.handle(fh);
    await this.dataPath.flush(fh);
  }

  async fsync(fh: number): Promise<void> {
    this.handle(fh);
    await this.dataPath.fsync(fh);
  }

  async release(fh: number): Promise<void> {
    if (this.openFiles.handle(fh) === undefined) return;
    try {
      await this.dataPath.release(fh);
    } finally {
      const removed = this.openFiles.remove(fh);
      // A new file the data path gave up on (it keeps a dirty one to retry): nothing of it remains.
      const path = removed?.file.path ?? '';
      if (removed?.last && !removed.file.unlinked && !this.dataPath.isDirty(path) && this.ctx.store.get(path)?.localOnly) {
        this.ctx.store.remove(path);
      }
    }
  }

  /** truncate(2) by path: through a handle of its own, uploaded when released. */
  async truncate(path: string, size: number): Promise<void> {
    const fh = await this.open(path, O_WRONLY | (size === 0 ? O_TRUNC : 0));
    try {
      await this.ftruncate(fh, size);
    } catch (e) {
      await this.release(fh).catch(() => undefined);
      throw e;
    }
    await this.release(fh);
  }

  /** The data path's `uploaded` hook: the object is in the bucket with these attributes. */
  uploaded(object: UploadedObject): void {
    const { ctx } = this;
    const stored = ctx.store.get(object.path);
    const file = this.openFiles.get(object.path);
    if (ctx.keys.fileKey(object.path) !== object.key || (file === undefined && (stored === undefined || stored.kind === 'dir'))) {
      ctx.log('warn', `uploaded ${object.key} after its path ${object.path} went away`, { key: object.key });
      return;
    }
    const nowNs = ctx.nowNs();
    const attrs = attrsFromMetadata(object.metadata, { ...ctx.options, kind: 'file', fallbackNs: nowNs });
    const contentType = file?.contentType ?? stored?.contentType;
    ctx.store.upsert(object.path, localFields(kindOfMode(attrs.mode), attrs, { ...object, contentType }, ctx.now()));
  }

  /**
   * The data path's `pending` hook (async write mode): a file acknowledged
   * locally shows its size and attributes, and stays known only here (local)
   * until `uploaded` follows: listings and lookups do not replace it with the
   * bucket's older version.
   */
  pending(object: PendingObject): void {
    const { ctx } = this;
    const attrs = attrsFromMetadata(object.metadata, { ...ctx.options, kind: 'file', fallbackNs: ctx.nowNs() });
    const fields = { size: object.size, etag: undefined, metadata: object.metadata, contentType: object.contentType, localOnly: true };
    ctx.store.upsert(object.path, localFields(kindOfMode(attrs.mode), attrs, fields, ctx.now()));
  }

  /** stat of an open file: its pending attributes and its current local size. */
  openAttr(path: string, entry: Entry): Attr | undefined {
    const file = this.openFiles.get(path);
    if (file === undefined) return undefined;
    return toAttr({ ...entry, ...file.attrs }, this.dataPath.openSize(path) ?? entry.size);
  }

  /** fstat of a file unlinked or replaced while open: no entry any more, only the handle's. */
  detachedAttr(fh: number): Attr {
    const file = this.handle(fh);
    const size = this.dataPath.handleSize(fh);
    return { ino: file.ino, nlink: 0, size, blocks: Math.ceil(size / 512), ...file.attrs };
  }

  /** A write moved the file's mtime (and ctime): the next upload carries it. */
  private touch(file: OpenFile): void {
    const now = this.ctx.now();
    if (file.unlinked || this.touchedAt.get(file) === now) return;
    this.touchedAt.set(file, now);
    const nowNs = this.ctx.nowNs();
    file.attrs = { ...file.attrs, mtimeNs: nowNs, ctimeNs: nowNs };
    file.metadata = withAttrs(file.metadata, file.attrs);
    this.dataPath.updateMetadata(file.path, file.metadata);
  }

  private handle(fh: number): OpenFile {
    const file = this.openFiles.handle(fh);
    if (file === undefined) throw vfsError('EBADF', `no open file with handle ${fh}`);
    return file;
  }

  private checkWritable(): void {
    if (this.ctx.options.readOnly) throw vfsError('EROFS', 'the file system is mounted read-only');
  }
}

const optionalType = (contentType: string | undefined) => (contentType === undefined ? {} : { contentType });
