/**
 * The file-system contract between the FUSE adapter and the VFS: the
 * operations the kernel asks for, in plain async form. Paths are absolute
 * inside the mount ('/', '/a/b'). The VFS throws VfsError (with an errno
 * name) or StorageError (mapped by errno.ts); it never sees fuse-native.
 */

/** What stat(2) shows. Times in nanoseconds since the epoch. */
export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** The errno names the VFS may raise itself; errno.ts maps them to numbers. */
export type ErrnoName =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTEMPTY'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EINVAL'
  | 'EACCES'
  | 'EPERM'
  | 'EIO'
  | 'ENOSPC'
  | 'ENOTSUP'
  | 'ENAMETOOLONG'
  | 'EXDEV'
  | 'EBADF'
  | 'ENODATA'
  | 'ERANGE'
  | 'E2BIG'
  | 'EROFS'
  | 'ESTALE'
  | 'ETIMEDOUT'
  | 'EAGAIN'
  | 'EFBIG'
  | 'EMLINK'
  | 'ELOOP'
  | 'EBUSY';

/**
 * Answers the kernel asks for all the time (a name that does not exist, an
 * attribute that is not set): their errors carry no stack trace, which would
 * cost more than the rest of the lookup.
 */
const EVERYDAY: ReadonlySet<ErrnoName> = new Set(['ENOENT', 'ENODATA']);

export class VfsError extends Error {
  readonly errno: ErrnoName;

  constructor(errno: ErrnoName, message: string, options: { cause?: unknown } = {}) {
    const limit = Error.stackTraceLimit;
    if (EVERYDAY.has(errno)) Error.stackTraceLimit = 0;
    try {
      super(message, options.cause === undefined ? undefined : { cause: options.cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.errno = errno;
    this.name = 'VfsError';
  }

  get code(): ErrnoName {
    return this.errno;
  }
}

export const vfsError = (errno: ErrnoName, message: string, cause?: unknown) =>
  new VfsError(errno, message, cause === undefined ? {} : { cause });

/** open(2) flags the VFS looks at (Linux values). */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;

/** setxattr flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** What readdir answers. */
export interface Listing {
  /** The names, without '.' and '..'. */
  names: string[];
  /** Their attributes, as getattr would answer. */
  attrs: Attr[];
  /**
   * current[i]: attrs[i] is also what cachedAttr answers for that name right
   * now, so its lookups may be answered with it without asking again.
   * Without it, the adapter asks cachedAttr for each name.
   */
  current?: boolean[];
}

/** The operations the FUSE adapter forwards. Every method may throw VfsError or StorageError. */
export interface FileSystem {
  init(): Promise<void>;
  getattr(path: string): Promise<Attr>;
  /**
   * getattr answered at once from memory when the cache can (no request, no
   * wait); undefined sends the caller to getattr. `ls -l` lstat's every
   * entry it listed: each such lookup crosses FUSE into the one JS thread.
   */
  cachedAttr?(path: string): Attr | undefined;
  /**
   * Calls `listener` whenever a directory was listed outside readdir (many
   * lookups in one directory list it: lookup.ts), with the names listed: the
   * adapter may then prime the kernel side with their attributes.
   */
  watchListings?(listener: (dir: string, listing: Listing) => void): void;
  /**
   * Names (without '.' and '..') and their attributes, in one go. With
   * `onPage`, a directory being listed from the bucket is also handed out
   * page by page as it comes, before the promise resolves; the resolved
   * Listing still has every name (and may add some, or show a name given
   * earlier with newer attributes).
   */
  readdir(path: string, onPage?: (page: Listing) => void): Promise<Listing>;
  readlink(path: string): Promise<string>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  /** Sets the times given; undefined leaves that time as it is (UTIME_OMIT: `touch -m`, tar). */
  utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): Promise<void>;
  truncate(path: string, size: number): Promise<void>;
  statfs(path: string): Promise<StatFs>;
  access(path: string, mode: number): Promise<void>;

  /** Returns a file handle number. */
  open(path: string, flags: number): Promise<number>;
  create(path: string, mode: number, flags: number): Promise<number>;
  /** Whether the kernel may keep its page cache of the file opened as `fh` (FUSE keep_cache). */
  keepCache?(fh: number): boolean;
  /** fstat: `path` is '' when the file has no name any more (unlinked or replaced while open). */
  fgetattr(path: string, fh: number): Promise<Attr>;
  read(path: string, fh: number, buffer: Buffer, length: number, position: number): Promise<number>;
  write(path: string, fh: number, buffer: Buffer, length: number, position: number): Promise<number>;
  ftruncate(path: string, fh: number, size: number): Promise<void>;
  /** Called at every close(2) of a descriptor: uploads dirty data (sync write mode). */
  flush(path: string, fh: number): Promise<void>;
  fsync(path: string, fh: number, datasync: boolean): Promise<void>;
  release(path: string, fh: number): Promise<void>;

  setxattr(path: string, name: string, value: Buffer, flags: number): Promise<void>;
  /**
   * The prefix every extended attribute name this file system serves starts
   * with (e.g. 'user.'): getxattr of any other name fails with ENOTSUP, and
   * the adapter may answer it so without calling getxattr. The kernel asks
   * for security.capability before every write(2).
   */
  readonly xattrNamespace?: string;
  getxattr(path: string, name: string): Promise<Buffer>;
  listxattr(path: string): Promise<string[]>;
  removexattr(path: string, name: string): Promise<void>;

  /** Flushes every dirty file and releases resources; idempotent. */
  close(): Promise<void>;
}
