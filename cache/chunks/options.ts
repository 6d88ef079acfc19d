/**
 * The chunk store's public types and defaults (cache/chunks.ts re-exports
 * them): what a chunk is cut from, how it is fetched, the store's options
 * and statistics.
 */
import type { ChunkStream } from './split.js';

const MiB = 1024 * 1024;

/**
 * 8 MiB chunks, by measurement on loopback Ceph RGW with the raw SDK: 1 GiB
 * fetched as ranged GETs of 1, 4, 8, 16, 32 and 64 MiB with 1 to 8 in
 * flight, against one whole-object GET (~1.2 s). On a loaded 2-core machine
 * only large differences count: 1 MiB GETs took 3–8 s (the per-request cost
 * dominates), 4 MiB 1.9–3.4 s, 8 MiB and larger 1.0–3.7 s with no steady
 * winner. Smaller chunks cost throughput; larger ones make a random 4 KiB
 * read fetch more and each chunk buffer hold more memory. Sequential reads
 * do not pay the per-request cost: readahead fetches runs of chunks with one
 * GET (chunks/split.ts).
 */
export const DEFAULT_CHUNK_SIZE = 8 * MiB;

/**
 * 4 GiB on the cache disk unless the mount says otherwise: a bound no larger
 * than the files read makes a sequential re-read evict each chunk just
 * before it is needed again (LRU's worst case), so the default leaves room
 * for a few GiB-sized files.
 */
export const DEFAULT_CACHE_BYTES = 4096 * MiB;

/**
 * Chunk buffers (fetches in flight, memory LRU, disk write backlog: every
 * chunk in memory is one of a fixed pool, chunks/buffers.ts) unless the mount
 * says otherwise: eight 8 MiB chunks, half of the default memory limit
 * (vfs/data/index.ts has the other half for uploads). A 1 GiB cold read
 * through the mount peaks at ~185 MiB RSS with it.
 */
export const DEFAULT_MEMORY_BYTES = 64 * MiB;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** One version of one object: what chunks are cut from. */
export interface ChunkSource {
  key: string;
  etag: string;
  size: number;
}

/** Fetches the bytes [start, end) of exactly `source`'s version (failing if the object changed). */
export type ChunkFetcher = (source: ChunkSource, range: { start: number; end: number }) => Promise<Buffer>;

/** Like ChunkFetcher, as a stream: readahead fetches runs of chunks with one GET and cuts it as it arrives. */
export type ChunkStreamFetcher = (source: ChunkSource, range: { start: number; end: number }) => Promise<ChunkStream>;

export interface ChunkStoreOptions {
  cacheDir: string;
  fetch: ChunkFetcher;
  /** Without it, readahead fetches chunk by chunk. */
  stream?: ChunkStreamFetcher;
  chunkSize?: number;
  /** Bound on the cache disk: clean chunk files plus reserved dirty bytes. */
  maxBytes?: number;
  /** Bound on chunk buffers in memory (a pool of memoryBytes / chunkSize buffers, at least two): up to a quarter for fresh chunks, a quarter for the write backlog, the rest for chunks being fetched. */
  memoryBytes?: number;
  /**
   * Called before the store allocates another chunk buffer, so memory kept
   * elsewhere only for reuse (the upload budget's idle part buffers) goes
   * first: reading right after writing then holds one share, not both.
   */
  beforeGrow?: () => void;
  log?: LogFn;
}

export interface ChunkStats {
  /** Bytes on the cache disk: clean chunk files plus reserved dirty bytes. */
  bytes: number;
  limitBytes: number;
  dirtyBytes: number;
  /** Clean chunk files. */
  chunks: number;
  /** Chunk slices served without a fetch (memory or disk). */
  hits: number;
  /** Chunk slices that waited for a fetch. */
  misses: number;
  /** Clean chunks evicted to stay within the bound. */
  evictions: number;
  /** Chunk fetches started (one per chunk, however many readers waited). */
  fetches: number;
  /** GET requests made (a readahead run fetches several chunks with one). */
  requests: number;
  /** Bytes fetched from the bucket. */
  bytesFetched: number;
  /** Chunk files that failed their length or checksum check. */
  corrupt: number;
  /** Bytes of chunk buffers held in memory (fresh chunks and the write backlog). */
  memoryBytes: number;
}

