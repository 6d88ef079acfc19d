/**
 * What a running mount tells and offers its operator, apart from POSIX: the
 * contract between the file system (vfs/) and the daemon's control socket,
 * status/flush/invalidate commands and metrics (daemon/). The daemon reads
 * these; it never reaches into the data path or the metadata cache itself.
 */
import type { ChunkStats } from '../cache/chunks.js';

/** Durability of close/fsync: `sync` returns once the object is in the bucket; `async` once data and a journal row are fsynced locally. */
export type WriteMode = 'sync' | 'async';

/** Data-path tuning a mount is started with (all optional; the data path has defaults). */
export interface DataTuning {
  writeMode?: WriteMode;
  /** Bound on the disk cache (clean chunks plus dirty data), bytes. */
  cacheBytes?: number;
  /** Bound on the daemon's data buffers in memory, bytes. */
  memoryLimitBytes?: number;
}

/** A file with data acknowledged to a writer but not yet in the bucket. */
export interface PendingUpload {
  path: string;
  key: string;
  /** Bytes the upload has to send (the file's size, or the changed parts). */
  bytes: number;
  /** Upload attempts made so far (0: queued). */
  attempts: number;
  /** When the data was first acknowledged (ms since the epoch). */
  since: number;
  /** The last attempt's error, for `bucketfs status`. */
  lastError?: string;
  /** When the next attempt starts (ms since the epoch), while backing off. */
  nextAttemptAt?: number;
}

/** One error worth telling the operator (failed upload, unreadable chunk…), newest last. */
export interface RecentError {
  at: number;
  path?: string;
  message: string;
}

/** A snapshot of the data path, cheap enough to take on every status call or metrics scrape. */
export interface DataPathStats {
  writeMode: WriteMode;
  /** The chunk store's own counters (cache/chunks), as the operator sees them. */
  cache: Pick<ChunkStats, 'bytes' | 'limitBytes' | 'dirtyBytes' | 'chunks' | 'hits' | 'misses' | 'evictions'>;
  memory: { bufferedBytes: number; limitBytes: number };
  /** Bytes fetched from and sent to the bucket by the data path since the mount started. */
  bytesDownloaded: number;
  bytesUploaded: number;
  uploads: {
    pending: PendingUpload[];
    inFlight: number;
    completed: number;
    failed: number;
    retries: number;
  };
  openFiles: number;
  errors: RecentError[];
}

export interface InvalidateResult {
  /** Cached metadata entries dropped. */
  entries: number;
  /** Cached clean chunks dropped. */
  chunks: number;
}

/** Implemented by the file system (vfs/vfs.ts); used by the daemon. */
export interface MountControl {
  stats(): DataPathStats;
  /**
   * A barrier: resolves once every write acknowledged before the call is in
   * the bucket; rejects naming the files that could not be uploaded.
   * `progress` is called as files complete.
   */
  flushAll(progress?: (done: number, total: number) => void): Promise<void>;
  /** Forgets cached metadata and clean data of `path` (a file, or a directory and everything below it). */
  invalidate(path: string): Promise<InvalidateResult>;
}
