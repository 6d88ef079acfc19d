/**
 * The FUSE adapter: the only module that imports fuse-native. One thin
 * wrapper per FileSystem operation awaits the VFS, replies through the
 * fuse-native callback, maps errors with errno.ts and records latency.
 * Nothing here knows about objects or buckets, and the VFS never sees a
 * callback or a negative errno.
 *
 * fuse-native facts this file relies on (checked against its index.js and
 * fuse-native.c, version 2.4.3 with the utimens patch; its index.d.ts is off
 * in places):
 * - every reply is `cb(result, ...values)`; read/write reply `cb(bytesOrNegErrno)`;
 * - stat times are milliseconds (numbers accepted), 32-bit fields go through
 *   a Uint32Array (ino, mode, uid, gid; statfs counts);
 * - utimens(path, atimeMs, mtimeMs): the project's patch to fuse-native.c
 *   (patches/) sets flag_utime_omit_ok, so a call setting only one time
 *   (`touch -m`, tar) arrives, with the other as a number above 2^53
 *   (UTIME_OMIT: keep it); UTIME_NOW arrives as the current time;
 * - create(path, mode) carries no open flags;
 * - setxattr(path, name, value, position, flags), getxattr(path, name, position);
 * - a handler that has not replied after `timeout` ms gets ETIMEDOUT (15 s by
 *   default): set per operation below;
 * - options without a named setting (big_writes, max_write…) go in through
 *   the fsname string, which is joined into the one `-o` list.
 *
 * The daemon must never touch its own mount with synchronous fs calls: the
 * kernel request would wait for this very thread (deadlock).
 */
import { constants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import FuseModule from '@cocalc/fuse-native';
import { errnoName, errnoNumber, isExpected } from './errno.js';
import { Primer, type PrimeTarget } from './fuse-prime.js';
import { DirHandles, DirStream } from './dir-stream.js';
import { fuseMountAt } from './mount-table.js';
import { OperationStats } from './operation-stats.js';
import { msToNs } from './object-format.js';
import { O_CREAT, O_EXCL, O_RDWR, O_WRONLY, vfsError, type Attr, type FileSystem, type Listing, type StatFs } from './types.js';

/** At run time the module *is* the class (CommonJS `module.exports = Fuse`); its typings claim a default export. */
const Fuse = FuseModule as unknown as typeof FuseModule.default;

// Moved out to keep this file about the adapter; importers keep importing them from here.
export { LATENCY_BOUNDS_MS, OperationStats, type OperationCounter } from './operation-stats.js';
export { fuseMountAt, fuseMounts, type FuseMountInfo } from './mount-table.js';

type FuseOperations = NonNullable<ConstructorParameters<typeof Fuse>[1]>;
type FuseOptions = NonNullable<ConstructorParameters<typeof Fuse>[2]>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

type Reply = (result: number, ...values: unknown[]) => void;
type Handler = (...args: unknown[]) => void;

const NS_PER_MS = 1_000_000n;

/** What stat(2) receives through fuse-native: times in ms, 32-bit fields. */
function toFuseStat(attr: Attr) {
  return {
    mode: attr.mode,
    uid: attr.uid,
    gid: attr.gid,
    size: attr.size,
    nlink: attr.nlink,
    // The kernel's inode numbers must be stable; fuse-native carries 32 bits.
    ino: attr.ino >>> 0,
    blocks: attr.blocks,
    blksize: STAT_BLOCK_SIZE,
    atime: Number(attr.atimeNs / NS_PER_MS),
    mtime: Number(attr.mtimeNs / NS_PER_MS),
    ctime: Number(attr.ctimeNs / NS_PER_MS),
  };
}

type FuseStat = ReturnType<typeof toFuseStat>;

/** Preferred I/O size reported by stat: one FUSE request (max_write). */
const STAT_BLOCK_SIZE = 128 * 1024;

/** Bit 30 of an open/create reply's handle: keep the page cache (patches/@cocalc+fuse-native: FUSE_NATIVE_KEEP_CACHE). */
const KEEP_CACHE = 0x40000000;

/** fuse-native's statfs goes through a Uint32Array: clamp instead of wrapping. */
function toFuseStatfs(s: StatFs): Record<string, number> {
  const clamp = (n: number) => Math.min(Math.max(0, Math.floor(n)), 0xffff_ffff);
  return {
    bsize: clamp(s.bsize), frsize: clamp(s.frsize), blocks: clamp(s.blocks), bfree: clamp(s.bfree), bavail: clamp(s.bavail),
    files: clamp(s.files), ffree: clamp(s.ffree), favail: clamp(s.favail), fsid: 0, flag: 0, namemax: clamp(s.namemax),
  };
}

/** A utimens time in ms, or undefined for UTIME_OMIT (sent as UINT64_MAX, far above any real time). */
function utimeToNs(ms: number): bigint | undefined {
  return ms > Number.MAX_SAFE_INTEGER ? undefined : msToNs(ms);
}

/**
 * Per-operation timeouts. Metadata operations answer within a minute or the
 * caller gets ETIMEDOUT instead of hanging forever; operations that may move
 * a whole file (an upload of many GiB takes minutes) are never cut short.
 */
const METADATA_TIMEOUT_MS = 60_000;
const UNBOUNDED_OPS = ['read', 'write', 'flush', 'fsync', 'release', 'create', 'mknod', 'rename', 'truncate', 'ftruncate'] as const;

/**
 * Operations refused once the mount drains for shutdown: new opens and every
 * change, writes to open files included (the writer gets an error instead of
 * data that fs.close() might already have passed by).
 */
const CHANGING_OPS = new Set([
  'create', 'mknod', 'mkdir', 'rmdir', 'unlink', 'rename', 'symlink', 'link', 'chmod', 'chown', 'utimens',
  'truncate', 'setxattr', 'removexattr', 'write', 'ftruncate',
]);

/**
 * Operations served by file handle. libfuse (flag_nullpath_ok) names a file
 * that lost its name while open (unlinked or replaced: hard_remove) by the
 * path ''; any other operation given '' (fchmod, futimens, readdir of such a
 * file or directory) has nothing to act on.
 */
const BY_HANDLE_OPS = new Set(['fgetattr', 'read', 'write', 'ftruncate', 'flush', 'fsync', 'release', 'releasedir', 'symlink']);

/**
 * Operations that change no name and no attribute getattr answers: primed
 * answers (fuse-prime.ts) stay valid across them. Any other operation clears
 * the primed table when it starts and when it replies. flush and fsync act on
 * open files, which are never primed.
 */
const PRIME_KEEPING_OPS = new Set([
  'getattr', 'fgetattr', 'opendir', 'readdir', 'releasedir', 'readlink', 'statfs', 'access', 'getxattr', 'listxattr', 'read',
  'flush', 'fsync',
]);

/** Bounds the "logged once" memory of a long-running daemon whose backend keeps failing in new ways. */
const MAX_REMEMBERED_MESSAGES = 1000;

type State = 'serving' | 'draining' | 'closed';

/** Builds the fuse-native operation table over a FileSystem. */
class Operations {
  state: State = 'serving';
  private readonly logged = new Set<string>();
  /** Requests handed to the VFS and not yet replied to. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Hands listed attributes to the FUSE thread (set once mounted, when fuse-native has the primed table). */
  primer: Primer | undefined;
  /** Open directories and what their reads handed out. */
  readonly dirs = new DirHandles<FuseStat>();

  constructor(
    private readonly fs: FileSystem,
    readonly stats: OperationStats,
    private readonly log: Log,
    private readonly observe: ObserveOperation = () => undefined,
  ) {}

  /**
   * Resolves once every request in flight now has replied. A snapshot, not
   * "until idle": reads keep arriving while a mount drains and must not hold
   * the shutdown back, but a write accepted before drain() must land in the
   * VFS before fs.close() flushes.
   */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The fuse-native handler for one operation: gate, call, convert, reply
   * exactly once, record. `reply` turns the VFS's answer into fuse-native's
   * callback arguments; a conversion that throws becomes an error reply too.
   */
  private wrap<A extends unknown[], R>(name: string, work: (...args: A) => Promise<R>, reply: (value: R) => unknown[] = () => [0]): Handler {
    return (...args: unknown[]) => {
      const cb = args.pop() as Reply;
      const started = process.hrtime.bigint();
      const refused = this.refusal(name, args);
      // A change clears the primed answers before it starts and again before it replies: one primed meanwhile may predate it.
      const primer = PRIME_KEEPING_OPS.has(name) ? undefined : this.primer;
      primer?.clear();
      const pending = new Promise<R>((resolve, reject) => (refused === undefined ? resolve(work(...(args as A))) : reject(refused)));
      const replied = pending.then(reply).then(
        ([result, ...values]) => {
          const bytes = name === 'read' || name === 'write' ? (result as number) : 0;
          this.stats.record(name, started, false, bytes);
          this.observeSafely(name, started, undefined, bytes);
          primer?.clear();
          cb(result as number, ...values);
        },
        (error: unknown) => {
          this.stats.record(name, started, true);
          this.observeSafely(name, started, errnoName(error));
          this.report(name, args[0], error);
          primer?.clear();
          cb(-errnoNumber(error));
        },
      );
      this.inFlight.add(replied);
      void replied.finally(() => this.inFlight.delete(replied));
    };
  }

  /** A failing observer (metrics) must never cost a reply to the kernel. */
  private observeSafely(op: string, startedNs: bigint, errno: string | undefined, bytes = 0): void {
    try {
      this.observe({ op, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9, bytes, ...(errno === undefined ? {} : { errno }) });
    } catch {
      // Metrics are best effort.
    }
  }

  private refusal(name: string, args: unknown[]): Error | undefined {
    if (this.state === 'closed') return vfsError('EIO', 'the file system is shutting down');
    if (args[0] === '' && !BY_HANDLE_OPS.has(name)) return vfsError('ENOENT', `${name}: the file has no name any more`);
    if (this.state === 'serving') return undefined;
    const writeOpen = name === 'open' && ((args[1] as number) & (O_WRONLY | O_RDWR)) !== 0;
    return CHANGING_OPS.has(name) || writeOpen ? vfsError('EROFS', 'the file system is shutting down') : undefined;
  }

  /** Unexpected errors are logged once per distinct message; expected ones (ENOENT…) never. */
  private report(op: string, path: unknown, error: unknown): void {
    if (isExpected(error)) return;
    const message = error instanceof Error ? error.message : String(error);
    if (this.logged.has(message)) return;
    if (this.logged.size >= MAX_REMEMBERED_MESSAGES) this.logged.clear();
    this.logged.add(message);
    this.log('error', `${op} ${String(path)} failed: ${message}`, { op, errno: errnoNumber(error) });
  }

  table(): Record<string, Handler> {
    return { ...this.namespaceHandlers(), ...this.fileHandlers() };
  }

  /** Names, attributes, links and xattrs. */
  private namespaceHandlers(): Record<string, Handler> {
    const fs = this.fs;
    const value = (v: unknown) => [0, v];
    return {
      getattr: this.getattr(this.wrap('getattr', (path: string) => fs.getattr(path), (attr) => [0, toFuseStat(attr)])),
      opendir: this.wrap('opendir', async () => this.dirs.allocate(), value),
      readdir: Object.assign(
        this.wrap('readdir', (path: string, offset: number, fh: number) => this.readdir(path, offset, fh), (r) => [0, r.names, r.stats, r.start]),
        { withOffsets: true },
      ),
      releasedir: this.wrap('releasedir', async (_path: string, fh: number) => this.dirs.release(fh)),
      readlink: this.wrap('readlink', (path: string) => fs.readlink(path), value),
      mkdir: this.wrap('mkdir', (path: string, mode: number) => fs.mkdir(path, mode)),
      rmdir: this.wrap('rmdir', (path: string) => fs.rmdir(path)),
      unlink: this.wrap('unlink', (path: string) => fs.unlink(path)),
      rename: this.wrap('rename', (from: string, to: string) => fs.rename(from, to)),
      symlink: this.wrap('symlink', (target: string, path: string) => fs.symlink(target, path)),
      link: this.wrap('link', (existing: string, path: string) => fs.link(existing, path)),
      mknod: this.wrap('mknod', (path: string, mode: number) => this.mknod(path, mode)),
      chmod: this.wrap('chmod', (path: string, mode: number) => fs.chmod(path, mode)),
      chown: this.wrap('chown', (path: string, uid: number, gid: number) => fs.chown(path, uid, gid)),
      utimens: this.wrap('utimens', (path: string, atime: number, mtime: number) => fs.utimens(path, utimeToNs(atime), utimeToNs(mtime))),
      truncate: this.wrap('truncate', (path: string, size: number) => fs.truncate(path, size)),
      statfs: this.wrap('statfs', (path: string) => fs.statfs(path), (st) => [0, toFuseStatfs(st)]),
      access: this.wrap('access', (path: string, mode: number) => fs.access(path, mode)),
      // The value is memory of the FUSE thread, released when we reply: the VFS gets its own copy.
      setxattr: this.wrap('setxattr', (path: string, name: string, v: Buffer, _position: number, flags: number) => fs.setxattr(path, name, Buffer.from(v), flags)),
      getxattr: this.wrap('getxattr', (path: string, name: string) => fs.getxattr(path, name), value),
      listxattr: this.wrap('listxattr', (path: string) => fs.listxattr(path), value),
      removexattr: this.wrap('removexattr', (path: string, name: string) => fs.removexattr(path, name)),
    };
  }

  /** Open files: read and write reply with a byte count in place of the status. */
  private fileHandlers(): Record<string, Handler> {
    const fs = this.fs;
    // The patched fuse-native sets keep_cache for a handle with this bit (and stores the handle without it).
    const handle = (fh: number) => [0, fs.keepCache?.(fh) === true ? fh | KEEP_CACHE : fh];
    const count = (n: number) => [n];
    return {
      open: this.wrap('open', (path: string, flags: number) => fs.open(path, flags), handle),
      // fuse-native does not pass create's open flags; the kernel has already
      // ruled out O_EXCL on an existing name, and it positions O_APPEND writes.
      create: this.wrap('create', (path: string, mode: number) => fs.create(path, mode, O_CREAT | O_RDWR), handle),
      fgetattr: this.wrap('fgetattr', (path: string, fh: number) => fs.fgetattr(path, fh), (attr) => [0, toFuseStat(attr)]),
      read: this.wrap('read', (path: string, fh: number, buf: Buffer, len: number, pos: number) => fs.read(path, fh, buf, len, pos), count),
      write: this.wrap('write', (path: string, fh: number, buf: Buffer, len: number, pos: number) => fs.write(path, fh, buf, len, pos), count),
      ftruncate: this.wrap('ftruncate', (path: string, fh: number, size: number) => fs.ftruncate(path, fh, size)),
      flush: this.wrap('flush', (path: string, fh: number) => fs.flush(path, fh)),
      fsync: this.wrap('fsync', (path: string, datasync: number, fh: number) => fs.fsync(path, fh, Boolean(datasync))),
      release: this.wrap('release', (path: string, fh: number) => fs.release(path, fh)),
    };
  }

  /**
   * Entries plus '.' and '..', as getdents shows them on any local file
   * system. Both carry the directory's own attributes (only their type and
   * inode reach the caller): the parent's would cost a lookup, and possibly a
   * request to the bucket, on every listing, for a number nobody reads.
   * The names of an open directory are given out from `offset` as they are
   * listed (dir-stream.ts); a read from offset 0 lists again (rewinddir).
   */
  private async readdir(path: string, offset: number, fh: number): Promise<{ names: string[]; stats: FuseStat[]; start: number }> {
    let stream = this.dirs.stream(fh);
    if (offset === 0 || stream === undefined) {
      stream = this.streamDirectory(path);
      // A handle opendir did not give (libfuse always asks it first) gets a stream of its own each time.
      if (this.dirs.isOpen(fh)) this.dirs.restart(fh, stream);
    }
    return { ...(await stream.from(offset)), start: offset };
  }

  /**
   * Lists `path` into a new stream: '.' and '..' once the directory's own
   * attributes are in, then each page as it comes, then what the whole
   * listing adds. Pages are primed as they come (read in that same turn);
   * the whole listing only if no change went through the mount since it began.
   */
  private streamDirectory(path: string): DirStream<FuseStat> {
    const stream = new DirStream<FuseStat>();
    let held: [Listing, number][] | undefined = [];
    const add = (listing: Listing, mark: number) => {
      if (held !== undefined) {
        held.push([listing, mark]);
        return;
      }
      const names: string[] = [];
      const stats: FuseStat[] = [];
      const current: boolean[] = [];
      listing.names.forEach((name, i) => {
        if (stream.has(name)) return;
        const stat = toFuseStat(listing.attrs[i]!);
        stream.push(name, stat);
        names.push(name);
        stats.push(stat);
        current.push(listing.current?.[i] === true);
      });
      this.primer?.prime(path, listing.current === undefined ? { names } : { names, current }, stats, mark);
    };
    const startMark = this.primer?.mark ?? 0;
    const self = this.fs.getattr(path).then((attr) => {
      const stat = toFuseStat(attr);
      stream.push('.', stat);
      stream.push('..', stat);
      const pages = held ?? [];
      held = undefined;
      for (const [listing, mark] of pages) add(listing, mark);
    });
    const listed = this.fs.readdir(path, (page) => add(page, this.primer?.mark ?? 0));
    Promise.all([self, listed])
      .then(([, listing]) => add(listing, startMark))
      .then(
        () => stream.end(),
        (error: unknown) => stream.end(error),
      );
    return stream;
  }

  /**
   * getattr replied at once when the VFS's cache answers (fs.cachedAttr):
   * no promise, no wait; `ls -l` sends one per entry. Anything else (no
   * answer, a refused request, an error) goes the common way, `full`.
   */
  private getattr(full: Handler): Handler {
    const cachedAttr = this.fs.cachedAttr?.bind(this.fs);
    if (cachedAttr === undefined) return full;
    return (...args: unknown[]) => {
      const path = args[0] as string;
      if (this.state === 'closed' || path === '') return full(...args);
      const started = process.hrtime.bigint();
      let stat: ReturnType<typeof toFuseStat> | undefined;
      try {
        const attr = cachedAttr(path);
        if (attr !== undefined) stat = toFuseStat(attr);
      } catch {
        // The common way reports it.
      }
      if (stat === undefined) return full(...args);
      this.stats.record('getattr', started, false);
      this.observeSafely('getattr', started, undefined);
      (args[args.length - 1] as Reply)(0, stat);
    };
  }

  /** Regular files only (what mknod(2) with S_IFREG means); FIFOs, sockets and devices cannot be objects. */
  private async mknod(path: string, mode: number): Promise<void> {
    if ((mode & constants.S_IFMT) !== constants.S_IFREG) throw vfsError('EPERM', 'special files cannot be stored in a bucket');
    const fh = await this.fs.create(path, mode & 0o7777, O_CREAT | O_EXCL | O_WRONLY);
    try {
      await this.fs.flush(path, fh);
    } finally {
      await this.fs.release(path, fh);
    }
  }
}

/** One FUSE request answered: for the daemon's metrics. */
export interface ObservedOperation {
  op: string;
  seconds: number;
  /** Bytes read or written (read and write only; 0 otherwise). */
  bytes: number;
  /** The errno name replied (ENOENT…), absent on success. */
  errno?: string;
}

export type ObserveOperation = (observed: ObservedOperation) => void;

export interface MountOptions {
  /** Shown as the mount's source (in /proc/mounts, df): `bucketfs#<source>`. */
  source: string;
  allowOther?: boolean;
  readOnly?: boolean;
  log?: Log;
  metadataTimeoutMs?: number;
  /** Called once per reply, after the VFS answered and before the kernel gets it. */
  observe?: ObserveOperation;
}

export interface MountedFileSystem {
  readonly mountpoint: string;
  readonly stats: OperationStats;
  /** From now on new writable opens and every change get EROFS; reads and open handles go on (shutdown: before fs.close()). */
  drain(): void;
  /**
   * Resolves once every request in flight at the call has been answered
   * (after drain(): no write accepted earlier is still on its way into the
   * VFS, so fs.close() can flush everything). Never rejects.
   */
  drained(): Promise<void>;
  /** Unmounts (lazily, like `fusermount -uz`); requests still arriving get EIO. Idempotent; fine if the mount is already gone. */
  unmount(): Promise<void>;
}

/**
 * The libfuse options, injected through fsname (fuse-native has no setting
 * for most of them):
 * - big_writes,max_write=131072: without them every write arrives in 4 KiB
 *   requests (measured ~98 MB/s instead of ~0.5–0.9 GB/s); libfuse 2 caps
 *   requests at 128 KiB whatever is asked;
 * - default_permissions: the kernel checks modes, so access() only checks existence;
 * - use_ino: the VFS's inode numbers are stable (hard-link detection, find, tar);
 * - hard_remove: unlink of an open file is a real unlink (the data path keeps
 *   the open handles' data), not libfuse's rename to .fuse_hidden*, which
 *   would cost a copy and a delete in the bucket and show in `ls -a`;
 * - attr/entry/negative_timeout=1: the kernel caches what it was told for 1 s
 *   (KERNEL_TTL_MS, also the primed answers' ttl); the VFS's own TTLs decide
 *   when the bucket is asked again.
 * Commas and blanks in the source would split or end the option list.
 */
function optionString(options: MountOptions): string {
  const source = options.source.replace(/[,\s\\]/g, '_').slice(0, MAX_SOURCE_LENGTH);
  const ttl = KERNEL_TTL_MS / 1000;
  const flags = ['big_writes', 'max_write=131072', 'default_permissions', 'use_ino', 'hard_remove', `attr_timeout=${ttl}`, `entry_timeout=${ttl}`, `negative_timeout=${ttl}`];
  return [`bucketfs#${source}`, ...flags, ...(options.readOnly === true ? ['ro'] : [])].join(',');
}

/** How long the kernel caches attributes, names and absent names it was told. */
const KERNEL_TTL_MS = 1000;

/** fuse-native copies the whole option string into 1,024 bytes. */
const MAX_SOURCE_LENGTH = 512;

function timeouts(metadataMs: number): Record<string, number | false> {
  return { default: metadataMs, ...Object.fromEntries(UNBOUNDED_OPS.map((op) => [op, false])) };
}

/**
 * fuse-native's unmount runs `fusermount -uz` and, if that fails, never
 * releases its native mount, whose libuv handle then keeps the process alive
 * for good. A mount that is already gone (`bucketfs unmount`, `umount` by
 * hand) is not a failure here, so the native side is always released.
 */
const fusermountUnmount = Fuse.unmount;
Fuse.unmount = (mnt: string, cb: (err: Error | null) => void) =>
  fusermountUnmount(mnt, (err) => {
    if (err === null) return cb(null);
    fuseMountAt(mnt).then((still) => cb(still === undefined ? null : err), () => cb(err));
  });

type XattrOps = {
  getxattr(path: string, name: string, position: number, cb: (err: number, value?: Buffer) => void): void;
  listxattr(path: string, cb: (err: number, names?: string[]) => void): void;
};

/**
 * fuse-native copies an xattr value (or name list) into the caller's buffer
 * without checking that it fits, then replies with the full length: the
 * kernel refuses that reply ("fuse: writing device: Invalid argument") and
 * the caller gets EIO where it expects ERANGE — Python's os.getxattr, for
 * one, tries a 128-byte buffer first. These two handlers are fuse-native's
 * own with the size check added (size 0 asks for the length).
 */
class SizeCheckedFuse extends Fuse {
  _op_getxattr(signal: Reply, path: string, name: string, valueBuf: Buffer, position: number): void {
    (this.ops as XattrOps).getxattr(path, name, position, (err, value) => {
      if (err !== 0 || value === undefined) return signal(err === 0 ? -osConstants.errno.ENODATA : err, valueBuf.buffer);
      if (valueBuf.length > 0 && value.length > valueBuf.length) return signal(-osConstants.errno.ERANGE, valueBuf.buffer);
      value.copy(valueBuf);
      return signal(value.length, valueBuf.buffer);
    });
  }

  _op_listxattr(signal: Reply, path: string, listBuf: Buffer): void {
    (this.ops as XattrOps).listxattr(path, (err, names) => {
      if (err !== 0 || names === undefined) return signal(err === 0 ? -osConstants.errno.EIO : err, listBuf.buffer);
      const list = Buffer.from(names.map((n) => `${n}\0`).join(''));
      if (listBuf.length === 0) return signal(list.length, listBuf.buffer);
      if (list.length > listBuf.length) return signal(-osConstants.errno.ERANGE, listBuf.buffer);
      list.copy(listBuf);
      return signal(list.length, listBuf.buffer);
    });
  }
}

/** Primed lookups need the patched fuse-native (patches/) and a FileSystem that answers from its cache. */
function primerFor(fs: FileSystem, fuse: object): Primer | undefined {
  const target = fuse as Partial<PrimeTarget>;
  const cachedAttr = fs.cachedAttr?.bind(fs);
  if (cachedAttr === undefined || typeof target.prime !== 'function' || typeof target.unprime !== 'function') return undefined;
  const cachedStat = (path: string) => {
    const attr = cachedAttr(path);
    return attr === undefined ? undefined : toFuseStat(attr);
  };
  const primer = new Primer(target as PrimeTarget, cachedStat, KERNEL_TTL_MS);
  fs.watchListings?.((dir, listing) => primer.prime(dir, listing, listing.attrs.map(toFuseStat), primer.mark));
  return primer;
}

/**
 * Mounts `fs` on `mountpoint` (an existing directory) and resolves once the
 * kernel has sent INIT, i.e. the mount serves. Calls fs.init() first.
 * The caller checks the mountpoint beforehand (mount-time failures from
 * libfuse are terse: "fuse failed").
 */
export async function mountFileSystem(fs: FileSystem, mountpoint: string, options: MountOptions): Promise<MountedFileSystem> {
  const log: Log = options.log ?? (() => undefined);
  const operations = new Operations(fs, new OperationStats(), log, options.observe);
  await fs.init();
  const fuseOptions = {
    fsname: optionString(options),
    subtype: 'bucketfs',
    // A crash or kill -9 unmounts too: libfuse leaves a fusermount watcher behind.
    autoUnmount: true,
    // A stale mount (a daemon that died without auto_unmount) is cleared before mounting.
    force: true,
    mkdir: false,
    allowOther: options.allowOther === true,
    timeout: timeouts(options.metadataTimeoutMs ?? METADATA_TIMEOUT_MS),
  };
  const fuse = new SizeCheckedFuse(mountpoint, operations.table() as FuseOperations, fuseOptions as unknown as FuseOptions);
  operations.primer = primerFor(fs, fuse);
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  // The patched fuse-native refuses other xattr names on the FUSE thread (patches/, "xattr namespace").
  const xattrs = fuse as { xattrNamespace?: (prefix: string) => void };
  if (fs.xattrNamespace !== undefined) xattrs.xattrNamespace?.(fs.xattrNamespace);
  let unmounting: Promise<void> | undefined;
  return {
    mountpoint,
    stats: operations.stats,
    drain: () => {
      if (operations.state === 'serving') operations.state = 'draining';
    },
    drained: () => operations.drained(),
    unmount: () => {
      operations.state = 'closed';
      operations.primer?.clear();
      operations.dirs.clear();
      unmounting ??= new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve())));
      return unmounting;
    },
  };
}
