/**
 * The data path's entry point: `createDataPath` wires the chunk store
 * (cache/chunks.ts: reads, pinned to the etag validated at open), the staging
 * area (cache/staging.ts: local writes) and uploads through the storage
 * library (drivers/transfer.ts) into a `DataPath` (vfs/data-contract.ts).
 */
import type { Container } from '../../drivers/storage.js';
import { isStorageError } from '../../drivers/errors.js';
import { uploadObject, DEFAULT_CONCURRENCY } from '../../drivers/transfer.js';
import { ChunkStore, DEFAULT_CACHE_BYTES, DEFAULT_CHUNK_SIZE, type ChunkFetcher, type LogFn } from '../../cache/chunks.js';
import { StagingArea } from '../../cache/staging.js';
import type { DataPathHooks } from '../data-contract.js';
import { vfsError } from '../types.js';
import { FileDataPath } from './data-path.js';
import type { FileContext } from './open-file.js';

export { FileDataPath } from './data-path.js';
export { DEFAULT_CACHE_BYTES, DEFAULT_CHUNK_SIZE, type LogFn, type LogLevel } from '../../cache/chunks.js';

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
  /** Parts in flight per multipart upload (default 4). */
  uploadConcurrency?: number;
}

/**
 * Reads a chunk of exactly the version opened. A PreconditionFailed (the etag
 * moved on) or NotFound (the object went away) means the caller's view is
 * stale: ESTALE, never bytes of another version.
 */
function chunkFetcher(container: Container): ChunkFetcher {
  return async (source, range) => {
    try {
      return await container.getRange(source.key, range, source.etag === '' ? {} : { ifMatch: source.etag });
    } catch (error) {
      if (isStorageError(error, 'PreconditionFailed') || isStorageError(error, 'NotFound')) {
        throw vfsError('ESTALE', `${source.key} changed or went away in the bucket since it was opened (etag ${source.etag})`, error);
      }
      throw error;
    }
  };
}

export function createDataPath(options: DataPathOptions): FileDataPath {
  const { container } = options;
  const log: LogFn = options.log ?? (() => undefined);
  const concurrency = options.uploadConcurrency ?? DEFAULT_CONCURRENCY;
  const context: FileContext = {
    chunks: new ChunkStore({
      cacheDir: options.cacheDir,
      fetch: chunkFetcher(container),
      chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
      maxBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
      log,
    }),
    staging: new StagingArea(options.cacheDir),
    hooks: options.hooks,
    log,
    upload: (source, key, upload) => uploadObject(container.driver.backend, container.name, key, source, { ...upload, concurrency }),
    remove: (key) => container.deleteObject(key),
    fillConcurrency: concurrency,
  };
  return new FileDataPath(context, log);
}
