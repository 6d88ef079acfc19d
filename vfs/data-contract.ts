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

export interface DataPathHooks {
  /** Called after every successful upload, before flush/fsync resolves. */
  uploaded(object: UploadedObject): void;
}

export interface DataPath {
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
  /** Uploads the file if dirty; resolves once it is in the bucket. */
  flush(fh: number): Promise<void>;
  fsync(fh: number): Promise<void>;
  /** Closes the handle; the last handle of a file flushes first if still dirty. */
  release(fh: number): Promise<void>;

  /** The current size of an open file (local writes included), or undefined when not open. */
  openSize(path: string): number | undefined;
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
  /** Forget cached clean data of a key (the object changed or was deleted). */
  invalidate(key: string): void;

  /** Flushes every dirty file, then releases everything; idempotent. */
  close(): Promise<void>;
}
