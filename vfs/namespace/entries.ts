/**
 * Creating and removing names: mkdir, rmdir, unlink, symlink (and readlink).
 * Each runs under the locks vfs.ts takes (the parent shared, the path
 * exclusive) and updates the metadata cache as soon as the bucket answers,
 * so this mount sees its own changes at once.
 *
 * In S3 a directory without a marker exists only through its children:
 * removing its last entry would make it vanish. So when a directory without
 * a known marker may have lost its last entry, a marker is written for it
 * (s3fs does the same); a spare marker costs nothing.
 */
import { ROOT, parentOf } from '../../cache/metadata/paths.js';
import type { Entry } from '../../cache/metadata/types.js';
import type { DataPath } from '../data-contract.js';
import { DIRECTORY_CONTENT_TYPE } from '../object-format.js';
import { vfsError } from '../types.js';
import { localFields, newAttrs, posixOf, withAttrs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import type { Lookup } from './lookup.js';
import type { OpenFiles } from './open-files.js';
import { hasRemoteChildren, putMarker } from './remote.js';

export class Entries {
  constructor(
    private readonly ctx: NamespaceContext,
    private readonly lookup: Lookup,
    private readonly openFiles: OpenFiles,
    private readonly dataPath: DataPath,
  ) {}

  /** Checks that `path` can be created: its parent is a directory and nothing is there yet. */
  async checkCreatable(path: string, asDirectory = false): Promise<void> {
    this.ctx.keys.checkStorable(path, asDirectory);
    await this.lookup.getDir(parentOf(path));
    if ((await this.lookup.find(path)) !== undefined) throw vfsError('EEXIST', `file exists: ${path}`);
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.checkCreatable(path, true);
    const { ctx } = this;
    const attrs = newAttrs('dir', mode, ctx.owner, ctx.nowNs());
    const metadata = withAttrs(undefined, attrs);
    const written = await putMarker(ctx.container, ctx.keys.dirKey(path), metadata);
    const now = ctx.now();
    ctx.store.upsert(path, localFields('dir', attrs, { size: 0, etag: written.etag, metadata, contentType: DIRECTORY_CONTENT_TYPE }, now));
    // A directory made just now is known to be empty: lookups inside it need no request.
    ctx.store.setListed(path, now);
  }

  async rmdir(path: string): Promise<void> {
    if (path === ROOT) throw vfsError('EBUSY', 'cannot remove the mount root');
    await this.lookup.getDir(parentOf(path));
    const entry = await this.lookup.get(path);
    if (entry.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: ${path}`);
    await this.checkEmpty(path);
    const { ctx } = this;
    // The marker, and s3fs's legacy marker in case that is what made the directory: one request.
    const result = await ctx.container.deleteMany([ctx.keys.dirKey(path), ctx.keys.folderKey(path)]);
    if (result.errors.length > 0) throw result.errors[0]!.error;
    ctx.store.putNegative(path, ctx.now());
    await this.keepVisible(parentOf(path));
  }

  /** ENOTEMPTY when the directory has a child here (a file not uploaded yet) or in the bucket. */
  async checkEmpty(path: string): Promise<void> {
    const local = this.ctx.store.hasChildren(path, 'local') || this.openFiles.under(path).some((f) => f.path !== path);
    if (local || (await hasRemoteChildren(this.ctx.container, this.ctx.keys.dirKey(path)))) {
      throw vfsError('ENOTEMPTY', `directory not empty: ${path}`);
    }
  }

  async unlink(path: string): Promise<void> {
    await this.lookup.getDir(parentOf(path));
    const entry = await this.lookup.get(path);
    if (entry.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    const { ctx } = this;
    const key = ctx.keys.fileKey(path);
    // Closed but not uploaded yet (async write mode): the data path drops the upload; an older version may be in the bucket.
    const pending = this.openFiles.get(path) === undefined && this.dataPath.isDirty(path);
    if (this.openFiles.detach(path) !== undefined || pending) this.dataPath.unlinkOpen(path);
    if (!entry.localOnly || pending) await ctx.container.deleteObject(key);
    this.dataPath.invalidate(key);
    ctx.store.putNegative(path, ctx.now());
    await this.keepVisible(parentOf(path));
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.checkCreatable(path);
    const { ctx } = this;
    const attrs = newAttrs('symlink', 0o777, ctx.owner, ctx.nowNs());
    const metadata = withAttrs(undefined, attrs);
    const body = Buffer.from(target, 'utf8');
    const written = await ctx.container.put(ctx.keys.fileKey(path), body, { metadata });
    const fields = localFields('symlink', attrs, { size: body.length, etag: written.etag, metadata }, ctx.now());
    ctx.store.upsert(path, { ...fields, symlinkTarget: target });
  }

  async readlink(path: string): Promise<string> {
    const entry = await this.lookup.get(path);
    if (entry.kind !== 'symlink') throw vfsError('EINVAL', `not a symbolic link: ${path}`);
    if (entry.symlinkTarget !== undefined) return entry.symlinkTarget;
    const body = await this.ctx.container.getRange(this.ctx.keys.fileKey(path), { start: 0, end: entry.size });
    const target = body.toString('utf8');
    this.ctx.store.update(path, { symlinkTarget: target });
    return target;
  }

  /**
   * Keeps directory `dir` visible after one of its entries went away (callers
   * looked `dir` up before removing the entry: afterwards an implicit
   * directory may already be gone from the bucket): unless
   * it has a marker, or a fresh listing shows other entries in the bucket, a
   * marker is written carrying its attributes.
   */
  async keepVisible(dir: string): Promise<void> {
    if (dir === ROOT) return;
    const { store } = this.ctx;
    const entry: Entry | undefined = store.get(dir);
    if (entry === undefined || entry.kind !== 'dir' || entry.marker) return;
    if (this.ctx.isListed(entry) && store.hasChildren(dir, 'uploaded')) return;
    const metadata = withAttrs(entry.metadata, posixOf(entry));
    const written = await putMarker(this.ctx.container, this.ctx.keys.dirKey(dir), metadata);
    store.update(dir, {
      marker: true, etag: written.etag, lastModifiedMs: undefined, source: 'local', metadata, contentType: DIRECTORY_CONTENT_TYPE,
    });
  }
}
