/**
 * Lookup: what is at a path. Answers from the metadata cache while it is
 * fresh (attributes within --attr-ttl, "absent" within --negative-ttl, or a
 * name missing from a parent listing within --dir-ttl); otherwise asks the
 * bucket: HEAD of the file key, and on 404 one LIST of `name/` (max-keys 1)
 * to find a directory (plus a HEAD of its marker for exact attributes, unless
 * the cache already holds that marker version). s3fs's legacy
 * `name_$folder$` directories are recognised by listings only, so that an
 * absent name costs two requests, not three. Concurrent lookups of one path
 * share one set of requests.
 */
import type { ObjectInfo } from '../../drivers/contract.js';
import { ROOT, nameOf, parentOf } from '../../cache/metadata/paths.js';
import { sameVersion } from '../../cache/metadata/merge.js';
import type { Entry, EntryFields } from '../../cache/metadata/types.js';
import { vfsError } from '../types.js';
import { headFields, implicitDirFields } from './attrs.js';
import type { NamespaceContext } from './context.js';
import { isValidName } from './keys.js';
import { headOrAbsent, probeDirectory } from './remote.js';

export class Lookup {
  private readonly inflight = new Map<string, Promise<Entry | undefined>>();

  constructor(private readonly ctx: NamespaceContext) {}

  /** The entry at `path`, or undefined when nothing is there. */
  async find(path: string): Promise<Entry | undefined> {
    const { store } = this.ctx;
    const entry = store.get(path);
    if (path === ROOT) return entry ?? this.ensureRoot();
    if (entry !== undefined && this.ctx.isFresh(entry)) return entry;
    // No object can show under a name the listings skip: no request for it.
    if (!isValidName(nameOf(path))) return undefined;
    if (entry === undefined && this.knownAbsent(path)) return undefined;
    let pending = this.inflight.get(path);
    if (pending === undefined) {
      pending = this.resolve(path, entry).finally(() => this.inflight.delete(path));
      this.inflight.set(path, pending);
    }
    return pending;
  }

  /** The entry at `path`; ENOENT when there is none. */
  async get(path: string): Promise<Entry> {
    const entry = await this.find(path);
    if (entry === undefined) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    return entry;
  }

  /** The directory at `path`: ENOENT or ENOTDIR otherwise. */
  async getDir(path: string): Promise<Entry> {
    const entry = await this.get(path);
    if (entry.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: ${path}`);
    return entry;
  }

  /** Asks the bucket again, whatever the cache says. */
  refresh(path: string): Promise<Entry | undefined> {
    if (path === ROOT) return Promise.resolve(this.ensureRoot());
    return this.resolve(path, this.ctx.store.get(path));
  }

  ensureRoot(): Entry {
    return this.ctx.store.get(ROOT) ?? this.resetRoot();
  }

  /** The root's attributes come from the mount options, which may differ from the last mount's. */
  resetRoot(): Entry {
    const { store, options } = this.ctx;
    const time = store.get(ROOT)?.mtimeNs ?? this.ctx.nowNs();
    return store.upsert(ROOT, implicitDirFields(options, this.ctx.now(), time));
  }

  /** A fresh negative entry, or a fresh complete listing of the parent without this name. */
  private knownAbsent(path: string): boolean {
    const { store } = this.ctx;
    if (this.ctx.isNegativeFresh(store.getNegative(path))) return true;
    return this.ctx.isListed(store.get(parentOf(path)));
  }

  private async resolve(path: string, stale: Entry | undefined): Promise<Entry | undefined> {
    // A known directory is checked as one first: its marker HEAD (or LIST) usually settles it.
    if (stale?.kind === 'dir') {
      const dir = await this.resolveDirectory(path, stale);
      return dir ?? this.resolveFile(path, stale, false);
    }
    return this.resolveFile(path, stale, true);
  }

  private async resolveFile(path: string, stale: Entry | undefined, thenDirectory: boolean): Promise<Entry | undefined> {
    const { store, keys, container } = this.ctx;
    const info = await headOrAbsent(container, keys.fileKey(path));
    if (info !== undefined) return store.upsert(path, this.fromHead(info, stale));
    if (thenDirectory) {
      const dir = await this.resolveDirectory(path, stale);
      if (dir !== undefined) return dir;
    }
    store.putNegative(path, this.ctx.now());
    return undefined;
  }

  private async resolveDirectory(path: string, stale: Entry | undefined): Promise<Entry | undefined> {
    const { store, keys, container } = this.ctx;
    const dirKey = keys.dirKey(path);
    if (stale?.kind === 'dir' && stale.marker) {
      const marker = await headOrAbsent(container, dirKey);
      if (marker !== undefined) return store.upsert(path, this.fromHead(marker, stale));
    }
    const probe = await probeDirectory(container, dirKey);
    if (!probe.exists) return undefined;
    if (probe.marker !== undefined) {
      const info = await this.markerInfo(probe.marker, stale);
      if (info !== undefined) return store.upsert(path, this.fromHead(info, stale));
    }
    const now = this.ctx.now();
    const fields: EntryFields = stale?.kind === 'dir' && stale.source === 'implicit'
      ? { ...stale, validatedAt: now }
      : implicitDirFields(this.ctx.options, now, this.ctx.nowNs());
    return store.upsert(path, fields);
  }

  /** The marker's HEAD, unless the cache holds this very version with its metadata (then the cached entry is reused). */
  private async markerInfo(listed: ObjectInfo, stale: Entry | undefined): Promise<ObjectInfo | undefined> {
    if (stale?.metadata !== undefined && stale.kind === 'dir') {
      const seen = { ...stale, etag: listed.etag, lastModifiedMs: listed.lastModified.getTime() };
      if (sameVersion(stale, seen)) return { ...listed, metadata: stale.metadata, ...(stale.contentType !== undefined && { contentType: stale.contentType }) };
    }
    return headOrAbsent(this.ctx.container, listed.key);
  }

  /** HEAD fields, keeping a cached symlink target of the same object version. */
  private fromHead(info: ObjectInfo, stale: Entry | undefined): EntryFields {
    const fields = headFields(info, this.ctx.options, this.ctx.now());
    if (stale?.symlinkTarget !== undefined && stale.etag === info.etag) fields.symlinkTarget = stale.symlinkTarget;
    return fields;
  }
}
