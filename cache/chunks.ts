/**
 * The chunk store: clean bytes of objects, cut into fixed-size chunks and
 * kept on local disk in `<cacheDir>/chunks/`, bounded in bytes with LRU
 * eviction. A chunk is named by (object key, etag, chunk index), so a changed
 * object can never be served from chunks of its earlier version; each chunk
 * file checks its own length when read back (a short or missing file is
 * fetched again). Concurrent requests for one chunk share one fetch.
 *
 * The store does not talk to a bucket itself: the caller hands it a `fetch`
 * function (cache/ takes only types from drivers/). It never holds dirty
 * data: what is written through the mount lives in staging files.
 *
 * Concurrency: no locks. `inflight` maps a chunk id to the one fetch in
 * progress; a chunk file appears only by rename of a complete temp file, and
 * an evicted file that a reader still has open stays readable (unlink), while
 * a reader that finds it gone fetches it again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';

const MiB = 1024 * 1024;

/**
 * 8 MiB chunks: one GET per chunk stays well above S3's per-request overhead
 * (~20–50 ms), while a random 4 KiB read still fetches at most 8 MiB. It is
 * also the multipart part size, so a chunk maps onto a part. (To be tuned.)
 */
export const DEFAULT_CHUNK_SIZE = 8 * MiB;

/** 1 GiB of clean chunks on disk unless the mount says otherwise. */
export const DEFAULT_CACHE_BYTES = 1024 * MiB;

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

export interface ChunkStoreOptions {
  cacheDir: string;
  fetch: ChunkFetcher;
  chunkSize?: number;
  maxBytes?: number;
  log?: LogFn;
}

export interface ChunkStats {
  /** Chunk slices served from a file on disk. */
  hits: number;
  /** Chunk fetches started (one per chunk, however many readers waited). */
  fetches: number;
  /** Chunk files that failed their length check. */
  corrupt: number;
}

const keyHash = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 32);
const etagHash = (etag: string) => createHash('sha256').update(etag).digest('hex').slice(0, 16);
const CHUNK_NAME = /^[0-9a-f]{32}-[0-9a-f]{16}-\d+$/;

export class ChunkStore {
  readonly dir: string;
  readonly chunkSize: number;
  readonly stats: ChunkStats = { hits: 0, fetches: 0, corrupt: 0 };
  private readonly fetcher: ChunkFetcher;
  private readonly log: LogFn;
  /** Chunk id → its length in bytes; disposing an entry deletes its file. */
  private readonly lru: LRUCache<string, number>;
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** Unlinks in progress: a new file of the same id is renamed in only after them. */
  private readonly unlinking = new Map<string, Promise<void>>();
  private closed = false;

  constructor(options: ChunkStoreOptions) {
    this.dir = join(options.cacheDir, 'chunks');
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.fetcher = options.fetch;
    this.log = options.log ?? (() => undefined);
    this.lru = new LRUCache<string, number>({
      maxSize: Math.max(1, options.maxBytes ?? DEFAULT_CACHE_BYTES),
      sizeCalculation: (length) => Math.max(1, length),
      dispose: (_length, id, reason) => {
        if (reason === 'evict' || reason === 'delete') this.unlink(id);
      },
    });
  }

  /** Bytes of chunk files the store accounts for. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Creates the directory and takes over chunk files of an earlier run (oldest first), within the bound. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const found: { id: string; size: number; mtimeMs: number }[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (!CHUNK_NAME.test(name)) {
        await rm(path, { force: true, recursive: true }); // temp files of an interrupted write
        continue;
      }
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile()) found.push({ id: name, size: info.size, mtimeMs: info.mtimeMs });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const chunk of found) this.remember(chunk.id, chunk.size);
  }

  /** Fills `into[offset…]` with the bytes [start, end) of `source` (end ≤ source.size). */
  async read(source: ChunkSource, start: number, end: number, into: Buffer, offset: number): Promise<void> {
    if (end <= start) return;
    const size = this.chunkSize;
    const reads: Promise<void>[] = [];
    for (let index = Math.floor(start / size); index * size < end; index++) {
      const from = Math.max(start, index * size);
      const to = Math.min(end, (index + 1) * size);
      reads.push(this.readSlice(source, index, from - index * size, to - index * size, into, offset + from - start));
    }
    await Promise.all(reads);
  }

  /** Starts fetching a chunk in the background unless it is on disk or on its way; errors are only logged. */
  prefetch(source: ChunkSource, index: number): void {
    if (this.closed || index * this.chunkSize >= source.size) return;
    const id = this.idOf(source, index);
    if (this.inflight.has(id) || this.lru.has(id)) return;
    this.fetch(source, index, id).catch((error: unknown) => {
      this.log('debug', 'readahead failed', { key: source.key, index, error: String(error) });
    });
  }

  /** Drops every chunk of `key` (all versions); returns how many. */
  invalidate(key: string): number {
    const prefix = `${keyHash(key)}-`;
    const ids = [...this.lru.keys()].filter((id) => id.startsWith(prefix));
    for (const id of ids) this.lru.delete(id);
    return ids.length;
  }

  /** Waits for fetches in flight; chunk files stay for the next run. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight.values(), ...this.unlinking.values()]);
  }

  /** The length chunk `index` of `source` must have. */
  chunkLength(source: ChunkSource, index: number): number {
    return Math.max(0, Math.min(this.chunkSize, source.size - index * this.chunkSize));
  }

  private idOf(source: ChunkSource, index: number): string {
    return `${keyHash(source.key)}-${etagHash(source.etag)}-${index}`;
  }

  private pathOf(id: string): string {
    return join(this.dir, id);
  }

  private async readSlice(source: ChunkSource, index: number, from: number, to: number, into: Buffer, offset: number): Promise<void> {
    const id = this.idOf(source, index);
    const pending = this.inflight.get(id);
    if (pending === undefined && this.lru.get(id) !== undefined) {
      if (await this.readFile(id, this.chunkLength(source, index), from, to, into, offset)) return;
    }
    const chunk = await (this.inflight.get(id) ?? this.fetch(source, index, id));
    chunk.copy(into, offset, from, to);
  }

  /** Reads [from, to) of a chunk file; false when the file is missing or has the wrong length. */
  private async readFile(id: string, length: number, from: number, to: number, into: Buffer, offset: number): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.pathOf(id), 'r');
    } catch {
      this.lru.delete(id);
      return false;
    }
    try {
      if ((await handle.stat()).size !== length) {
        this.stats.corrupt++;
        this.log('warn', 'chunk file has the wrong length; fetching it again', { id });
        this.lru.delete(id);
        return false;
      }
      let done = 0;
      while (done < to - from) {
        const { bytesRead } = await handle.read(into, offset + done, to - from - done, from + done);
        if (bytesRead === 0) return false;
        done += bytesRead;
      }
      this.stats.hits++;
      return true;
    } finally {
      await handle.close();
    }
  }

  /** One fetch per chunk id at a time; the chunk is stored, then handed to every waiter. */
  private fetch(source: ChunkSource, index: number, id: string): Promise<Buffer> {
    const existing = this.inflight.get(id);
    if (existing !== undefined) return existing;
    const start = index * this.chunkSize;
    const length = this.chunkLength(source, index);
    this.stats.fetches++;
    const fetching = (async () => {
      const chunk = await this.fetcher(source, { start, end: start + length });
      if (chunk.length !== length) {
        throw new Error(`short read of ${source.key} [${start}, ${start + length}): got ${chunk.length} bytes`);
      }
      await this.store(id, chunk);
      return chunk;
    })();
    this.inflight.set(id, fetching);
    const forget = () => this.inflight.delete(id);
    fetching.then(forget, forget);
    return fetching;
  }

  /** Writes a chunk file (temp name, then rename); a failure (full disk…) only costs the caching. */
  private async store(id: string, chunk: Buffer): Promise<void> {
    if (this.closed) return;
    const path = this.pathOf(id);
    const temp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, chunk, { flag: 'wx', mode: 0o600 });
      await this.unlinking.get(id);
      await rename(temp, path);
      this.remember(id, chunk.length);
    } catch (error) {
      await rm(temp, { force: true });
      this.log('warn', 'could not store a chunk in the cache', { id, error: String(error) });
    }
  }

  /** Accounts for a chunk file; one bigger than the whole bound is not kept. */
  private remember(id: string, length: number): void {
    this.lru.set(id, length);
    if (!this.lru.has(id)) this.unlink(id);
  }

  private unlink(id: string): void {
    const previous = this.unlinking.get(id) ?? Promise.resolve();
    const unlinked = previous.then(() => rm(this.pathOf(id), { force: true })).catch(() => undefined);
    this.unlinking.set(id, unlinked);
    void unlinked.then(() => {
      if (this.unlinking.get(id) === unlinked) this.unlinking.delete(id);
    });
  }
}
