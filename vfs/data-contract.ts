/**
 * The contract between the namespace side of the VFS (vfs/vfs.ts: paths,
 * attributes, directories, renames) and the data path (vfs/data/: open file
 * handles, reads through the chunk store, writes staged locally and uploaded
 * on flush/fsync). The namespace decides *what* object a handle reads and
 * writes and with which metadata; the data path moves the bytes.
 *
 * Durability rule (sync write mode): flush and fsync resolve only once the
 * object is in the bucket; a failed upload rejects (EIO for the caller) and
 * leaves the previous object untouched: never a 0-byte or partial object.
 */
import type { Metadata } from '../drivers/contract.js';
import type { DataPathStats } from './control.js';

/** What the namespace knows about the object behind a path when it is opened. */
export interface OpenTarget {
  /** Mount path, e.g. '/a/b'. */
  path: string;
  /** Object key, the remote's prefix included. */
  key: string;
  /** The object exists in the bucket (false: a new file, nothing to read). */
  exists: boolean;
  size: number;
  /** The etag the namespace validated at open (close-to-open); reads are pinned to it. */
  etag: string | undefined;
  /** Full user metadata to store with the next upload (POSIX attributes, xattrs, others kept). */
  metadata: Metadata;
  contentType?: string;
}

export interface UploadedObject {
  path: string;
  key: string;
  size: number;
  etag: string;
  metadata: Metadata;
}

/** A version of a file acknowledged locally (async write mode) and not in the bucket yet. */
export interface PendingObject {
  path: string;
  key: string;
  size: number;
  metadata: Metadata;
  contentType?: string | undefined;
}

export interface DataPathHooks {
  /** Called after every successful upload, before flush/fsync resolves. */
  uploaded(object: UploadedObject): void;
  /**
   * Async write mode: a file's content was acknowledged (journaled locally)
   * and is owed to the bucket; also called for every file replayed from the
   * journal at start. The namespace shows the file with this size and
   * metadata until `uploaded` follows.
   */
  pending?(object: PendingObject): void;
}

export interface DataPath {
  /**
   * Prepares the cache directories and, in the async write mode, replays
   * uploads acknowledged before the last stop (the `pending` hook tells the
   * namespace about each). The namespace calls it before serving.
   */
  start?(): Promise<void>;
  /**
   * Opens a handle. With O_TRUNC the file starts empty (and is dirty: the next
   * flush uploads an empty object). Several handles on one path share one
   * open file (one staging area, one dirty state).
   */
  open(target: OpenTarget, flags: number): Promise<number>;
  read(fh: number, buffer: Buffer, length: number, position: number): Promise<number>;
  /** With O_APPEND the position is the current end of file. Returns bytes written. */
  write(fh: number, buffer: Buffer, length: number, position: number): Promise<number>;
  truncate(fh: number, size: number): Promise<void>;
  /** Uploads the file if dirty; resolves once it is in the bucket (async write mode: once it is journaled locally). */
  flush(fh: number): Promise<void>;
  fsync(fh: number): Promise<void>;
  /** Closes the handle; the last handle of a file flushes first if still dirty. */
  release(fh: number): Promise<void>;
  /** Whether the open that made `fh` may keep the kernel's page cache of the file (same etag as before; FUSE keep_cache). */
  keepCache?(fh: number): boolean;

  /** The current size of an open file (local writes included), or undefined when not open. */
  openSize(path: string): number | undefined;
  /** The current size of the file open as `fh`, named or not (EBADF for an unknown handle). */
  handleSize(fh: number): number;
  /** True while the file at `path` has data not yet in the bucket. */
  isDirty(path: string): boolean;
  /** Replaces the metadata the next upload of an open file will carry; false when the file is not open. */
  updateMetadata(path: string, metadata: Metadata): boolean;
  /** An open file was renamed: its handles now upload to `target.key` under `target.path`. */
  renameOpen(fromPath: string, toPath: string, toKey: string): void;
  /**
   * The object under an open file was replaced by a server-side copy of the
   * same bytes (a rename, a metadata self-copy): reads of data not yet local
   * now go to `key` at `etag` (a copy may change the etag).
   */
  contentCopied(path: string, key: string, etag: string): void;
  /** An open file was unlinked: its handles keep their data, but nothing is uploaded for it any more. */
  unlinkOpen(path: string): void;
  /** Forget cached clean data of a key (the object changed or was deleted); returns the chunks dropped. */
  invalidate(key: string): number;

  /** Counters, cache use, pending uploads and recent errors (for `bucketfs status` and metrics). */
  stats(): DataPathStats;
  /** Uploads every file dirty now; rejects naming the files that could not be uploaded (MountControl.flushAll). */
  flushAll(progress?: (done: number, total: number) => void): Promise<void>;

  /** Flushes every dirty file, then releases everything; idempotent. */
  close(): Promise<void>;
}
