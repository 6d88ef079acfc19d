/**
 * Attribute and metadata changes: chmod, chown, utimens and the stored part
 * of xattrs all come down to "replace the object's user metadata". For a
 * file open with unsaved data, the next upload carries the new metadata (no
 * request now). Otherwise a file or symlink is copied onto itself with the
 * replaced metadata (S3 has no other way), and a directory gets its marker
 * rewritten (an implicit directory gets its first marker).
 *
 * The metadata replaced must be complete (xattrs and other tools' entries
 * kept), so it is read first when the cache does not hold it fresh.
 */
import type { Metadata } from '../../drivers/contract.js';
import { ROOT } from '../../cache/metadata/paths.js';
import type { Entry } from '../../cache/metadata/types.js';
import type { DataPath } from '../data-contract.js';
import { DIRECTORY_CONTENT_TYPE, typeBits, type PosixAttrs } from '../object-format.js';
import { vfsError } from '../types.js';
import { localFields, posixOf, withAttrs } from './attrs.js';
import type { NamespaceContext } from './context.js';
import type { Lookup } from './lookup.js';
import type { OpenFiles } from './open-files.js';
import { copyObject, putMarker } from './remote.js';

/** chown's "leave unchanged" (-1 as uid_t/gid_t). */
const UNCHANGED_ID = 0xffffffff;
const unchanged = (id: number) => id === -1 || id === UNCHANGED_ID;

export interface CurrentState {
  entry: Entry;
  attrs: PosixAttrs;
  metadata: Metadata;
}

export class Setattr {
  constructor(
    private readonly ctx: NamespaceContext,
    private readonly lookup: Lookup,
    private readonly openFiles: OpenFiles,
    private readonly dataPath: DataPath,
  ) {}

  chmod(path: string, mode: number): Promise<void> {
    return this.changeAttrs(path, (a, kind) => ({ ...a, mode: typeBits(kind) | (mode & 0o7777) }));
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.changeAttrs(path, (a) => ({ ...a, uid: unchanged(uid) ? a.uid : uid, gid: unchanged(gid) ? a.gid : gid }));
  }

  utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): Promise<void> {
    return this.changeAttrs(path, (a) => ({ ...a, atimeNs: atimeNs ?? a.atimeNs, mtimeNs: mtimeNs ?? a.mtimeNs }));
  }

  /** Applies `change` to the attributes (ctime becomes now, as for any inode change). */
  private async changeAttrs(path: string, change: (attrs: PosixAttrs, kind: Entry['kind']) => PosixAttrs): Promise<void> {
    const state = await this.current(path);
    const attrs = { ...change(state.attrs, state.entry.kind), ctimeNs: this.ctx.nowNs() };
    await this.apply(path, state.entry, attrs, withAttrs(state.metadata, attrs));
  }

  /** The entry with its current attributes and complete metadata (an open file's pending ones first). */
  async current(path: string): Promise<CurrentState> {
    if (path === ROOT) throw vfsError('EPERM', 'the attributes of the mount root come from the mount options');
    const open = this.openFiles.get(path);
    let entry = await this.lookup.get(path);
    if (open !== undefined) return { entry, attrs: open.attrs, metadata: open.metadata };
    if (entry.localOnly) return { entry, attrs: posixOf(entry), metadata: entry.metadata ?? {} };
    if (entry.metadata === undefined || !this.ctx.isFresh(entry)) entry = await this.exact(path, entry);
    return { entry, attrs: posixOf(entry), metadata: entry.metadata ?? {} };
  }

  /** Reads the object's metadata again (one HEAD); a fresh implicit directory has none to read. */
  private async exact(path: string, entry: Entry): Promise<Entry> {
    if (entry.kind === 'dir' && !entry.marker && this.ctx.isFresh(entry)) return entry;
    const refreshed = await this.lookup.refresh(path);
    if (refreshed === undefined) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    return refreshed;
  }

  /** Stores `attrs` and `metadata` for `path`: through the data path, a marker, or a self-copy. */
  async apply(path: string, entry: Entry, attrs: PosixAttrs, metadata: Metadata): Promise<void> {
    const { ctx } = this;
    const open = this.openFiles.get(path);
    if (open !== undefined) {
      open.attrs = attrs;
      open.metadata = metadata;
      if (this.dataPath.updateMetadata(path, metadata) || entry.localOnly) {
        ctx.store.update(path, { ...localFields(entry.kind, attrs, { ...entry, metadata }, ctx.now()), lastModifiedMs: entry.lastModifiedMs });
        return;
      }
    }
    if (entry.kind === 'dir') {
      const written = await putMarker(ctx.container, ctx.keys.dirKey(path), metadata);
      const fields = localFields('dir', attrs, { size: 0, etag: written.etag, metadata, contentType: DIRECTORY_CONTENT_TYPE }, ctx.now());
      ctx.store.upsert(path, fields);
      return;
    }
    const key = ctx.keys.fileKey(path);
    const written = await copyObject(ctx.container, { key, size: entry.size }, key, { metadata, contentType: entry.contentType });
    if (open !== undefined) this.dataPath.contentCopied(path, key, written.etag);
    const fields = localFields(entry.kind, attrs, { size: entry.size, etag: written.etag, metadata, contentType: entry.contentType }, ctx.now());
    ctx.store.upsert(path, { ...fields, symlinkTarget: entry.symlinkTarget });
  }
}
