/**
 * The file system the FUSE adapter serves: POSIX operations over one bucket
 * prefix, with the metadata cache (cache/metadata) for names and attributes
 * and the data path (vfs/data) for file contents. This file wires the parts
 * of vfs/namespace/ together and takes the locks; the parts do the work.
 *
 * Concurrency. Node runs one callback at a time, but every `await` lets
 * another FUSE operation in. Per-path reader/writer locks (namespace/locks.ts)
 * keep conflicting multi-step operations apart:
 * - creating or removing a name (mkdir, create, symlink, unlink, rmdir) holds
 *   its parent shared and the path exclusive: names in one directory change
 *   in parallel, while a rename or rmdir of the directory itself waits;
 * - rename holds both parents shared and both paths exclusive, and for a
 *   directory also every open file below it, so no upload runs under an old
 *   key while the tree moves;
 * - attribute and xattr changes and truncate hold the path exclusive (they
 *   read, modify and rewrite the whole metadata);
 * - open holds the path shared (its HEAD must not race an unlink or rename);
 *   flush, fsync and release hold the file's current path shared, so a
 *   rename or unlink waits for an upload in progress, not the reverse;
 * - lookups, getattr, readdir, readlink, getxattr, read and write take no
 *   lock: the cache answers them, and concurrent misses share one request.
 * Lock order: an operation asks for all its paths at once and PathLocks takes
 * them in byte order of the paths, so no two operations wait on each other.
 * Deeper operations inside a directory being renamed are not excluded: a
 * directory rename is not atomic (docs/SEMANTICS.md).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Container } from '../drivers/storage.js';
import { MetadataStore, type LogFn } from '../cache/metadata/store.js';
import { ROOT, nameOf, parentOf } from '../cache/metadata/paths.js';
import type { Entry } from '../cache/metadata/types.js';
import type { DataPathStats, DataTuning, InvalidateResult, MountControl } from './control.js';
import type { DataPath, DataPathHooks } from './data-contract.js';
import { createDataPath } from './data/index.js';
import { vfsError, type Attr, type FileSystem, type Listing, type StatFs } from './types.js';
import { toAttr } from './namespace/attrs.js';
import { NamespaceContext, type NamespaceOptions } from './namespace/context.js';
import { Entries } from './namespace/entries.js';
import { Files } from './namespace/files.js';
import { Lister } from './namespace/listing.js';
import { exclusive, PathLocks, shared, type LockRequest } from './namespace/locks.js';
import { Lookup } from './namespace/lookup.js';
import { OpenFiles } from './namespace/open-files.js';
import { Renamer } from './namespace/rename.js';
import { Setattr } from './namespace/setattr.js';
import { XATTR_NAMESPACE, Xattrs } from './namespace/xattrs.js';

export interface VfsOptions extends NamespaceOptions, DataTuning {
  container: Container;
  /** Key prefix of the mount inside the bucket: '' or ending in '/'. */
  prefix: string;
  /** Local cache directory (metadata.db, the data path's chunks and staging). */
  cacheDir: string;
  /** The data path; made with createDataPath when omitted. */
  dataPath?: DataPath;
  /** Names the remote in the cache (a cache made for another remote is wiped); default: backend, bucket and prefix. */
  remote?: string;
  log?: LogFn;
  /** The clock (ms), for tests. */
  now?: () => number;
}

/** readdir reads the cache this many children at a time, yielding in between. */
const READDIR_PAGE = 1000;
/** statfs: "plenty". fuse-native passes these through a Uint32Array, so they stay below 2^32. */
const STATFS_PLENTY = 0xffffffff;
const NAME_MAX = 255;

interface Parts {
  ctx: NamespaceContext;
  lookup: Lookup;
  lister: Lister;
  entries: Entries;
  files: Files;
  setattr: Setattr;
  xattrs: Xattrs;
  renamer: Renamer;
  dataPath: DataPath;
}

export async function createFileSystem(options: VfsOptions): Promise<Vfs> {
  const vfs = new Vfs(options);
  await vfs.init();
  return vfs;
}

export class Vfs implements FileSystem, MountControl {
  private readonly locks = new PathLocks();
  private readonly openFiles = new OpenFiles();
  private parts: Parts | undefined;
  private listingListener: ((dir: string, listing: Listing) => void) | undefined;
  private initializing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: VfsOptions) {}

  /** Opens the cache, finishes interrupted directory renames, then serves. Idempotent. */
  init(): Promise<void> {
    this.initializing ??= this.start();
    return this.initializing;
  }

  private async start(): Promise<void> {
    const { options } = this;
    const log: LogFn = options.log ?? (() => undefined);
    const container = options.container;
    const remote = options.remote ?? `${container.driver.backend.label}/${container.name}/${options.prefix}`;
    const store = MetadataStore.open({ dir: options.cacheDir, remote, log });
    const ctx = new NamespaceContext(container, options.prefix, store, options, log, options.now ?? Date.now);
    const hooks: DataPathHooks = {
      uploaded: (object) => this.p.files.uploaded(object),
      pending: (object) => this.p.files.pending(object),
    };
    const dataPath = options.dataPath ?? createDataPath({
      container, cacheDir: options.cacheDir, hooks, log,
      ...(options.writeMode !== undefined && { writeMode: options.writeMode }),
      ...(options.cacheBytes !== undefined && { cacheBytes: options.cacheBytes }),
      ...(options.memoryLimitBytes !== undefined && { memoryLimitBytes: options.memoryLimitBytes }),
    });
    const lister = new Lister(ctx);
    const lookup = new Lookup(ctx, lister, (dir, children) => this.listingListener?.(dir, this.listingOf(children)));
    const setattr = new Setattr(ctx, lookup, this.openFiles, dataPath);
    const entries = new Entries(ctx, lookup, this.openFiles, dataPath);
    this.parts = {
      ctx, lookup, entries, setattr, dataPath, lister,
      files: new Files(ctx, lookup, this.openFiles, dataPath),
      xattrs: new Xattrs(ctx, setattr),
      renamer: new Renamer(ctx, lookup, entries, setattr, this.openFiles, dataPath),
    };
    // Files created but never uploaded did not survive the previous run.
    store.dropLocalOnly();
    lookup.resetRoot();
    // Async write mode: uploads acknowledged before the last stop are pending files again (vfs/data/writeback-replay.ts).
    await dataPath.start?.();
    const resumed = await this.parts.renamer.resumePending();
    if (resumed > 0) log('info', `finished ${resumed} interrupted directory rename(s)`);
  }

  private get p(): Parts {
    if (this.parts === undefined) throw vfsError('EIO', 'the file system is not initialised (call init())');
    return this.parts;
  }

  /** The metadata cache (for the daemon's invalidate and status commands, and tests). */
  get store(): MetadataStore {
    return this.p.ctx.store;
  }

  /** Flushes every dirty file, then closes the data path and the cache. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.parts === undefined) return;
      try {
        await this.parts.dataPath.close();
      } finally {
        this.parts.ctx.store.close();
      }
    })();
    return this.closing;
  }

  // ---- Reading the namespace (no locks) ----

  async getattr(path: string): Promise<Attr> {
    const { lookup, files, ctx } = this.p;
    if (this.openFiles.get(path) !== undefined) {
      const entry = ctx.store.get(path) ?? (await lookup.get(path));
      return files.openAttr(path, entry) ?? toAttr(entry);
    }
    return toAttr(await lookup.get(path));
  }

  watchListings(listener: (dir: string, listing: Listing) => void): void {
    this.listingListener = listener;
  }

  /** What getattr would answer without waiting, if the cache can (an open file's size lives in the data path: the common way). */
  cachedAttr(path: string): Attr | undefined {
    if (this.openFiles.get(path) !== undefined) return undefined;
    const entry = this.p.lookup.cached(path);
    return entry === undefined ? undefined : toAttr(entry);
  }

  async readdir(path: string, onPage?: (page: Listing) => void): Promise<Listing> {
    const { lookup, lister, ctx } = this.p;
    const dir = await lookup.getDir(path);
    if (!ctx.isListed(dir)) {
      // The listing's own entries answer: nothing is read back from the cache.
      const children = await lister.refresh(path, 'readdir', onPage && ((page) => onPage(this.listingOf(page))));
      if (children !== undefined) return this.listingOf(children);
    }
    const listing: Listing = { names: [], attrs: [], current: [] };
    let after: string | undefined;
    for (;;) {
      const page = ctx.store.childrenPage(path, after, READDIR_PAGE);
      this.listingOf(page, listing);
      if (page.length < READDIR_PAGE) break;
      after = listing.names[listing.names.length - 1];
      await yieldToEventLoop();
    }
    return listing;
  }

  /** `children` as readdir shows them, added to `listing`. */
  private listingOf(children: readonly Entry[], listing: Listing = { names: [], attrs: [], current: [] }): Listing {
    const { lookup, files } = this.p;
    for (const child of children) {
      listing.names.push(nameOf(child.path));
      const open = files.openAttr(child.path, child);
      listing.attrs.push(open ?? toAttr(child));
      // What cachedAttr would answer: never an open file's attributes (they live in the data path).
      listing.current?.push(open === undefined && lookup.isCurrent(child));
    }
    return listing;
  }

  readlink(path: string): Promise<string> {
    return this.p.entries.readlink(path);
  }

  async access(path: string, _mode: number): Promise<void> {
    // Permissions are the kernel's (default_permissions): only existence is checked here.
    await this.p.lookup.get(path);
  }

  async statfs(_path: string): Promise<StatFs> {
    const n = STATFS_PLENTY;
    return { bsize: 4096, frsize: 4096, blocks: n, bfree: n, bavail: n, files: n, ffree: n, favail: n, namemax: NAME_MAX };
  }

  readonly xattrNamespace = XATTR_NAMESPACE;

  getxattr(path: string, name: string): Promise<Buffer> {
    return this.p.xattrs.get(path, name);
  }

  listxattr(path: string): Promise<string[]> {
    return this.p.xattrs.list(path);
  }

  /** MountControl: the data path's counters, cache use, pending uploads and recent errors. */
  stats(): DataPathStats {
    return this.p.dataPath.stats();
  }

  /** MountControl: a barrier — resolves once every write acknowledged so far is in the bucket. */
  flushAll(progress?: (done: number, total: number) => void): Promise<void> {
    return this.p.dataPath.flushAll(progress);
  }

  /**
   * MountControl: forgets the cached metadata of `path` (a file, or a
   * directory and everything below it) and its listing state, and the clean
   * cached data of the files concerned; the next access asks the bucket.
   * Files not uploaded yet are kept.
   */
  async invalidate(path: string): Promise<InvalidateResult> {
    const { ctx, lookup, dataPath } = this.p;
    const forgotten = ctx.store.forget(path);
    lookup.forget(path);
    const keys = new Set(forgotten.files.map((file) => ctx.keys.fileKey(file)));
    if (path !== ROOT) keys.add(ctx.keys.fileKey(path));
    for (const file of this.openFiles.under(path)) keys.add(file.key);
    let chunks = 0;
    for (const key of keys) chunks += dataPath.invalidate(key);
    ctx.log('info', `invalidated ${path}: ${forgotten.entries} cached entries, ${chunks} cached chunks`);
    return { entries: forgotten.entries, chunks };
  }

  // ---- Changing the namespace ----

  mkdir(path: string, mode: number): Promise<void> {
    return this.mutate(nameChange(path), () => this.p.entries.mkdir(path, mode));
  }

  rmdir(path: string): Promise<void> {
    return this.mutate(nameChange(path), () => this.p.entries.rmdir(path));
  }

  unlink(path: string): Promise<void> {
    return this.mutate(nameChange(path), () => this.p.entries.unlink(path));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.mutate(nameChange(path), () => this.p.entries.symlink(target, path));
  }

  async rename(from: string, to: string): Promise<void> {
    Renamer.checkPaths(from, to);
    const below = this.openFiles.under(from).map((file) => exclusive(file.path));
    return this.mutate([...nameChange(from), ...nameChange(to), ...below], () => this.p.renamer.rename(from, to));
  }

  async link(_existing: string, _path: string): Promise<void> {
    throw vfsError('EPERM', 'hard links are not supported');
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.setattr.chmod(path, mode));
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.setattr.chown(path, uid, gid));
  }

  utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.setattr.utimens(path, atimeNs, mtimeNs));
  }

  truncate(path: string, size: number): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.files.truncate(path, size));
  }

  setxattr(path: string, name: string, value: Buffer, flags: number): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.xattrs.set(path, name, value, flags));
  }

  removexattr(path: string, name: string): Promise<void> {
    return this.mutate([exclusive(path)], () => this.p.xattrs.remove(path, name));
  }

  // ---- Open files ----

  open(path: string, flags: number): Promise<number> {
    return this.locks.with([shared(path)], () => this.p.files.open(path, flags));
  }

  create(path: string, mode: number, flags: number): Promise<number> {
    return this.locks.with(nameChange(path), () => this.p.files.create(path, mode, flags));
  }

  keepCache(fh: number): boolean {
    return this.p.dataPath.keepCache?.(fh) ?? false;
  }

  /** A handle whose file lost its name answers from the open file; otherwise as stat of its current path. */
  fgetattr(path: string, fh: number): Promise<Attr> {
    const file = this.openFiles.handle(fh);
    if (file?.unlinked === true) return Promise.resolve(this.p.files.detachedAttr(fh));
    if (file === undefined && path === '') return Promise.reject(vfsError('EBADF', `no open file with handle ${fh}`));
    return this.getattr(file?.path ?? path);
  }

  read(_path: string, fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    return this.p.files.read(fh, buffer, length, position);
  }

  write(_path: string, fh: number, buffer: Buffer, length: number, position: number): Promise<number> {
    return this.p.files.write(fh, buffer, length, position);
  }

  ftruncate(_path: string, fh: number, size: number): Promise<void> {
    return this.p.files.ftruncate(fh, size);
  }

  flush(path: string, fh: number): Promise<void> {
    return this.locks.with([shared(this.pathOf(fh, path))], () => this.p.files.flush(fh));
  }

  fsync(path: string, fh: number, _datasync: boolean): Promise<void> {
    return this.locks.with([shared(this.pathOf(fh, path))], () => this.p.files.fsync(fh));
  }

  release(path: string, fh: number): Promise<void> {
    return this.locks.with([shared(this.pathOf(fh, path))], () => this.p.files.release(fh));
  }

  /** The path a handle's file has now (it may have been renamed since the kernel named it). */
  private pathOf(fh: number, given: string): string {
    return this.openFiles.handle(fh)?.path ?? given;
  }

  private mutate<T>(locks: LockRequest[], work: () => Promise<T>): Promise<T> {
    if (this.p.ctx.options.readOnly) return Promise.reject(vfsError('EROFS', 'the file system is mounted read-only'));
    return this.locks.with(locks, work);
  }
}

/** Locks for adding or removing the name `path`: its directory shared, the name exclusive. */
function nameChange(path: string): LockRequest[] {
  return path === ROOT ? [exclusive(path)] : [shared(parentOf(path)), exclusive(path)];
}

