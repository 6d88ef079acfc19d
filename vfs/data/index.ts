/**
 * The data path's entry point: `createDataPath` wires the chunk store
 * (cache/chunks.ts: reads, pinned to the etag validated at open), the staging
 * area (cache/staging.ts: local writes) and uploads through the storage
 * library (drivers/transfer.ts) into a `DataPath` (vfs/data-contract.ts).
 */
import type { Container } from '../../drivers/storage.js';
import { isStorageError } from '../../drivers/errors.js';
import { MiB } from '../../drivers/base-backend.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD } from '../../drivers/transfer.js';
import { ChunkStore, DEFAULT_CACHE_BYTES, DEFAULT_CHUNK_SIZE, DEFAULT_MEMORY_BYTES, type ChunkFetcher, type ChunkSource, type ChunkStreamFetcher, type LogFn } from '../../cache/chunks.js';
import type { ByteRange } from '../../drivers/range.js';
import { StagingArea } from '../../cache/staging.js';
import type { WriteMode } from '../control.js';
import type { DataPathHooks } from '../data-contract.js';
import { vfsError } from '../types.js';
import { ByteBudget, Signal } from './budget.js';
import { FileDataPath } from './data-path.js';
import { uploadFile } from './file-upload.js';
import type { MultipartHooks } from './multipart.js';
import type { FileContext, WriteTuning } from './open-file.js';
import { DataCounters } from './stats.js';
import type { WritebackTuning } from './writeback-policy.js';
import { createWriteback } from './writeback-setup.js';
import { streamParts, waitForRoom } from './stream.js';

export { FileDataPath } from './data-path.js';
export { DEFAULT_CACHE_BYTES, DEFAULT_CHUNK_SIZE, type LogFn, type LogLevel } from '../../cache/chunks.js';
export type { MultipartHooks } from './multipart.js';

/**
 * 32 MiB parts, 4 in flight: measured on loopback Ceph RGW with a 1 GiB file
 * (drivers/transfer.ts uploadObject, four runs on a busy machine): 32 MiB × 4
 * took 3.0–5.0 s, 16 MiB × 4 3.4–9.3 s, 16 MiB × 8 5.1–6.6 s, 8 MiB × 4
 * 11.2 s, against 4.0–11.0 s for one raw PutObject stream. RGW's cost per part
 * (it writes and indexes each part) dominates below 32 MiB; 4 parts of 32 MiB
 * are 128 MiB of buffers (2 are the default: DEFAULT_UPLOAD_MEMORY_BYTES).
 * Files below one part are one PUT.
 */
export const DEFAULT_WRITE_PART_SIZE = 32 * MiB;
/**
 * Upload buffers (parts in flight, assembly) when the mount gives no
 * --memory-limit: two 32 MiB parts, half of a default limit of 128 MiB (the
 * chunk store's DEFAULT_MEMORY_BYTES is the other half). Measured through the
 * mount (peak RSS; the idle daemon is ~92 MiB): three parts and 64 MiB of
 * chunk buffers peaked at 250–274 MiB in the randwrite bench (256 MiB
 * assembled from the object: the garbage of the GET streams, ~60 MiB, waits
 * for the collector), two parts at 217–230 MiB; a 1 GiB sequential write
 * peaks at ~177 MiB with two, ~210 with three.
 */
export const DEFAULT_UPLOAD_MEMORY_BYTES = 64 * MiB;
/** Server-side part copies in flight per file: they cost the daemon no memory, only a request each. */
const COPY_CONCURRENCY = 8;
/** Largest UploadPartCopy: well under S3's 5 GiB, so one copy request stays a few seconds on a slow server. */
const MAX_COPY_PART = 1024 * MiB;

export interface DataPathOptions {
  container: Container;
  /** The mount's cache directory: chunks in `chunks/`, staging files in `staging/`. */
  cacheDir: string;
  hooks: DataPathHooks;
  log?: LogFn;
  /** Bytes per chunk (default DEFAULT_CHUNK_SIZE). */
  chunkSize?: number;
  /** Bound on clean chunk bytes on disk (default DEFAULT_CACHE_BYTES). */
  cacheBytes?: number;
  /** Bound on the data path's buffers; the chunk store takes half (default: DEFAULT_MEMORY_BYTES for the store). */
  memoryLimitBytes?: number;
  /** Parts in flight per multipart upload (default: as many as half the memory limit holds, 2 to 8). */
  uploadConcurrency?: number;
  /** Durability of close/fsync (only `sync` is implemented by this module). */
  writeMode?: WriteMode;
  /** Files of at least this size are uploaded multipart (default 16 MiB). */
  multipartThreshold?: number;
  /** Part size of multipart uploads (default DEFAULT_WRITE_PART_SIZE). */
  partSize?: number;
  /** Told of every multipart upload id when it starts and ends (a journal aborts leftovers after a crash). */
  multipartHooks?: MultipartHooks;
  /** Async write mode: background upload concurrency and retry backoff (writeback.ts). */
  writeback?: WritebackTuning;
}

/**
 * Reads a chunk (or, as a stream, a run of chunks) of exactly the version
 * opened. A PreconditionFailed (the etag moved on) or NotFound (the object
 * went away) means the caller's view is stale: ESTALE, never bytes of another
 * version.
 */
function chunkFetchers(container: Container): { fetch: ChunkFetcher; stream: ChunkStreamFetcher } {
  const pinned = <T>(get: (source: ChunkSource, range: ByteRange, options: { ifMatch?: string }) => Promise<T>) =>
    async (source: ChunkSource, range: ByteRange): Promise<T> => {
      try {
        return await get(source, range, source.etag === '' ? {} : { ifMatch: source.etag });
      } catch (error) {
        if (isStorageError(error, 'PreconditionFailed') || isStorageError(error, 'NotFound')) {
          throw vfsError('ESTALE', `${source.key} changed or went away in the bucket since it was opened (etag ${source.etag})`, error);
        }
        throw error;
      }
    };
  return {
    fetch: pinned((source, range, options) => container.getRange(source.key, range, options)),
    stream: pinned((source, range, options) => container.openObject(source.key, range, options)),
  };
}

/** Part size, parts in flight and the cache bound, from the mount's options. */
function writeTuning(options: DataPathOptions, minPartSize: number): { tuning: WriteTuning; uploadMemory: number } {
  const partSize = Math.max(minPartSize, options.partSize ?? DEFAULT_WRITE_PART_SIZE);
  const uploadMemory = options.memoryLimitBytes === undefined ? DEFAULT_UPLOAD_MEMORY_BYTES : Math.floor(options.memoryLimitBytes / 2);
  const fits = Math.floor(uploadMemory / partSize);
  const tuning: WriteTuning = {
    multipartThreshold: Math.max(partSize, options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD),
    partSize,
    partConcurrency: options.uploadConcurrency ?? Math.min(8, Math.max(2, fits)),
    copyConcurrency: COPY_CONCURRENCY,
    maxCopyPart: Math.max(partSize, MAX_COPY_PART),
    cacheBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
    memoryLimitBytes: options.memoryLimitBytes ?? DEFAULT_MEMORY_BYTES + DEFAULT_UPLOAD_MEMORY_BYTES,
  };
  return { tuning, uploadMemory };
}

export function createDataPath(options: DataPathOptions): FileDataPath {
  const { container } = options;
  const backend = container.driver.backend;
  const log: LogFn = options.log ?? (() => undefined);
  const { tuning, uploadMemory } = writeTuning(options, backend.limits.minPartSize);
  const concurrency = options.uploadConcurrency ?? DEFAULT_CONCURRENCY;
  const counters = new DataCounters();
  const budget = new ByteBudget(uploadMemory);
  const context: FileContext = {
    chunks: new ChunkStore({
      cacheDir: options.cacheDir,
      ...chunkFetchers(container),
      chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
      maxBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
      memoryBytes: options.memoryLimitBytes === undefined ? DEFAULT_MEMORY_BYTES : Math.floor(options.memoryLimitBytes / 2),
      // The two shares of the memory limit: part buffers kept idle for reuse go before the chunk pool grows.
      beforeGrow: () => budget.dropKept(),
      log,
    }),
    staging: new StagingArea(options.cacheDir),
    hooks: options.hooks,
    log,
    // Within the memory budget, in buffers it lends (file-upload.ts).
    upload: (source, key, upload) => uploadFile(backend, container.name, key, source, {
      ...upload,
      concurrency: tuning.partConcurrency,
      multipartThreshold: tuning.multipartThreshold,
      partSize: tuning.partSize,
    }, budget, true),
    remove: (key) => container.deleteObject(key),
    fillConcurrency: concurrency,
    target: { backend, bucket: container.name, hooks: options.multipartHooks ?? {} },
    tuning,
    counters,
    budget,
    room: new Signal(),
    writes: { before: waitForRoom, after: streamParts },
  };
  // Async write mode: the crash-safe journal in the cache directory and the background upload queue.
  const writeback = options.writeMode === 'async' ? createWriteback(context, options.cacheDir, options.writeback) : undefined;
  if (writeback !== undefined) context.writeback = writeback;
  return new FileDataPath(context, log, options.writeMode ?? 'sync', writeback);
}
