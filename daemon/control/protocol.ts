/**
 * The control socket's protocol: HTTP/1.1 over the mount's Unix socket, so
 * `curl --unix-socket SOCK http://bucketfs/metrics` works as well as the
 * bucketfs commands. JSON in, JSON out; flush streams one JSON line per
 * progress event (application/x-ndjson) and ends with its outcome.
 *
 *   GET  /status       StatusDocument
 *   GET  /metrics      Prometheus text exposition
 *   GET  /stats        DataPathStats plus FUSE operation counters
 *   POST /flush        FlushEvent lines, the last one { event: 'done' | 'failed' }
 *   POST /invalidate   { path } → InvalidateResult
 *   POST /check        CheckOptions → CheckReport
 * Errors: a non-2xx status with { error: message }.
 */
import type { InvalidateResult, PendingUpload, RecentError, WriteMode } from '../../vfs/control.js';

export interface RequestCounts {
  total: number;
  failed: number;
  retries: number;
  /** Per object-store operation: attempts and failed attempts. */
  byOperation: Record<string, { count: number; failed: number }>;
}

export interface StatusDocument {
  mountpoint: string;
  remote: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  cacheDir: string;
  readOnly: boolean;
  writeMode: WriteMode;
  cache: { bytes: number; limitBytes: number; dirtyBytes: number; chunks: number; hits: number; misses: number; evictions: number };
  memory: { bufferedBytes: number; limitBytes: number; rssBytes: number; heapUsedBytes: number };
  uploads: { pending: PendingUpload[]; inFlight: number; completed: number; failed: number; retries: number };
  bytesDownloaded: number;
  bytesUploaded: number;
  openFiles: number;
  errors: RecentError[];
  requests: RequestCounts;
  fuse: { operations: number; errors: number };
  /** Where Prometheus can scrape this mount over TCP, when --metrics-address was given. */
  metricsAddress?: string;
}

export type FlushEvent =
  | { event: 'progress'; done: number; total: number }
  | { event: 'done'; files: number; seconds: number }
  | { event: 'failed'; error: string };

export interface InvalidateRequest {
  path: string;
}

export type InvalidateResponse = InvalidateResult & { path: string };

export interface CheckOptions {
  /** Abort the orphaned multipart uploads found. */
  abortOrphans?: boolean;
  /** Multipart uploads younger than this are someone's upload in progress, not orphans. */
  minAgeSeconds?: number;
}

export interface HostileKey {
  key: string;
  reason: string;
}

export interface OrphanUpload {
  key: string;
  uploadId: string;
  initiated?: string;
  aborted?: boolean;
}

export interface CacheDisagreement {
  path: string;
  key: string;
  problem: string;
  cached: { size: number; etag: string | undefined };
  bucket?: { size: number; etag: string };
}

export interface CheckReport {
  remote: string;
  keysScanned: number;
  hostileKeys: HostileKey[];
  orphanUploads: OrphanUpload[];
  /** Only when checked through a running mount (its own metadata cache). */
  cache?: { entriesChecked: number; disagreements: CacheDisagreement[] };
  /** True when nothing was found. */
  clean: boolean;
}
