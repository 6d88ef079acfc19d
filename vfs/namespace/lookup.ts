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
 *
 * Many names looked up in a directory never listed (`stat` of each of a
 * thousand paths) would cost a HEAD each: once a few lookups in one
 * directory have gone to the bucket within --dir-ttl, the directory is
 * listed instead (up to 10 pages; a bigger one keeps per-name HEADs) and
 * later lookups of the names it shows are answered from that listing, with
 * its attributes, as `ls -l` shows them (a name it does not show is still
 * asked for: see listing.ts). With --exact-attrs no such listing is made,
 * and an entry whose attributes came only from a listing is HEADed when
 * looked up.
 */
import type { ObjectInfo } from '../../drivers/contract.js';
import { ROOT, isWithin, nameOf, parentOf } from '../../cache/metadata/paths.js';
import { sameVersion } from '../../cache/metadata/merge.js';
import type { Entry, EntryFields } from '../../cache/metadata/types.js';
import { vfsError } from '../types.js';
import { headFields, implicitDirFields } from './attrs.js';
import type { NamespaceContext } from './context.js';
import { isValidName } from './keys.js';
import type { Lister } from './listing.js';
import { headOrAbsent, probeDirectory } from './remote.js';

/** Lookups in one directory that go to the bucket (within --dir-ttl) before the next one lists the directory instead. */
export const MISSES_BEFORE_LISTING = 4;
/** Directories whose misses are counted at once; beyond, the counts start over. */
const MAX_TRACKED_DIRS = 1024;

interface DirMisses {
  count: number;
  since: number;
  /** A listing was made (or tried) for this directory in this window. */
  listed: boolean;
}

export class Lookup {
  private readonly inflight = new Map<string, Promise<Entry | undefined>>();
  private readonly misses = new Map<string, DirMisses>();

  constructor(
    private readonly ctx: NamespaceContext,
    private readonly lister: Lister,
    /** Told the children of a directory this class had listed (FileSystem.watchListings). */
    private readonly onListed: (dir: string, children: Entry[]) => void = () => undefined,
  ) {}

  /** The entry at `path`, or undefined when nothing is there. */
  async find(path: string): Promise<Entry | undefined> {
    const { store } = this.ctx;
    const entry = store.get(path);
    if (path === ROOT) return entry ?? this.ensureRoot();
    if (entry !== undefined && this.isCurrent(entry)) return entry;
    // No object can show under a name the listings skip: no request for it.
    if (!isValidName(nameOf(path))) return undefined;
    if (entry === undefined && this.knownAbsent(path)) return undefined;
    let pending = this.inflight.get(path);
    if (pending === undefined) {
      pending = this.lookUp(path, entry).finally(() => this.inflight.delete(path));
      this.inflight.set(path, pending);
    }
    return pending;
  }

  /** The entry at `path` when the cache answers for it now (what find() would return without waiting); else undefined. */
  cached(path: string): Entry | undefined {
    const entry = this.ctx.store.get(path);
    if (entry === undefined || path === ROOT) return entry;
    return this.isCurrent(entry) ? entry : undefined;
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

  /** Forgets the lookups counted in `path` and the directories below it (the cache of that tree was dropped). */
  forget(path: string): void {
    for (const dir of [...this.misses.keys()]) if (isWithin(dir, path)) this.misses.delete(dir);
  }

  /** Attributes that answer a lookup: fresh, and with --exact-attrs not only from a listing. */
  isCurrent(entry: Entry): boolean {
    return this.ctx.isFresh(entry) && !(this.ctx.options.exactAttrs && entry.source === 'list');
  }

  /** A lookup the cache could not answer: from a listing of the parent when one is due or running, else from the bucket. */
  private async lookUp(path: string, stale: Entry | undefined): Promise<Entry | undefined> {
    if (await this.listedForLookups(parentOf(path))) {
      const entry = this.ctx.store.get(path);
      if (entry === undefined ? this.knownAbsent(path) : this.isCurrent(entry)) return entry;
    }
    return this.resolve(path, stale);
  }

  /** True when `dir` was just listed for lookups (or a listing of it was running): the cache may answer now. */
  private async listedForLookups(dir: string): Promise<boolean> {
    const running = this.lister.running(dir);
    if (running !== undefined) {
      await running.catch(() => undefined);
      return true;
    }
    if (!this.listingDue(dir)) return false;
    try {
      const children = await this.lister.refresh(dir, 'lookups');
      if (children !== undefined) this.onListed(dir, children);
    } catch (e) {
      // Only a shortcut: the lookup asks for its own name instead.
      this.ctx.log('warn', `listing ${dir} for lookups failed`, { error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    return true;
  }

  /** Counts a lookup in `dir` that would go to the bucket; true when this one should list `dir` instead. */
  private listingDue(dir: string): boolean {
    if (this.ctx.options.exactAttrs) return false;
    const now = this.ctx.now();
    let misses = this.misses.get(dir);
    if (misses === undefined || now - misses.since >= this.ctx.options.dirTtlMs) {
      if (this.misses.size >= MAX_TRACKED_DIRS) this.misses.clear();
      misses = { count: 0, since: now, listed: false };
      this.misses.set(dir, misses);
    }
    if (misses.listed) return false;
    if (misses.count < MISSES_BEFORE_LISTING) {
      misses.count++;
      return false;
    }
    misses.listed = true;
    return true;
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
