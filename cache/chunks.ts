/**
 * The chunk store: clean bytes of objects, cut into fixed-size chunks, kept
 * in memory while fresh and on local disk in `<cacheDir>/chunks/`, bounded in
 * bytes with LRU eviction. A chunk is named by (object key, etag, chunk
 * index), so a changed object can never be served from chunks of its earlier
 * version; each chunk file carries a CRC-32 trailer (chunks/chunk-file.ts)
 * checked on its first read after a restart, so a torn file is fetched again,
 * never served. Concurrent requests for one chunk share one fetch.
 *
 * Where a chunk slice is served from, in order: the memory LRU (fresh
 * fetches, bounded by a share of the memory limit), a chunk whose file is
 * still being written, the chunk file through a cache of open file handles,
 * and only then the bucket. A fetched chunk is handed to its readers at once;
 * its file is written in the background, by a worker thread (new fetches
 * wait when too many bytes are waiting for the disk). A GET body that can
 * fill buffers is read straight into the chunk buffers (chunks/split.ts).
 *
 * The store does not talk to a bucket itself: the caller hands it a `fetch`
 * function (cache/ takes only types from drivers/). It never holds dirty
 * data, but dirty data counts against the same disk bound:
 *
 *   await store.reserveDirty(n)  before n bytes of dirty data land on the
 *                                cache disk: evicts clean chunks to make room,
 *                                waits while dirty data alone would exceed
 *                                the bound (never when nothing is reserved);
 *   store.releaseDirty(n)        once those bytes are uploaded or deleted;
 *   store.stats()                bytes/chunks/dirtyBytes/hits/misses/evictions…
 *
 * Concurrency: no locks. `inflight` maps a chunk id to the one fetch in
 * progress; file writes and unlinks of one id are chained (`fileOps`) so an
 * unlink never races the write it follows.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { fileBytes, readFully, readVerified } from './chunks/chunk-file.js';
import { ChunkFileWriter } from './chunks/file-writer.js';
import { BufferPool } from './chunks/buffers.js';
import { GarbageMeter } from './chunks/collect.js';
import { DiskBound } from './chunks/disk-bound.js';
import { OpenChunkFiles } from './chunks/open-files.js';
import { readExactly, splitStream } from './chunks/split.js';

import {
  DEFAULT_CACHE_BYTES,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MEMORY_BYTES,
  type ChunkFetcher,
  type ChunkSource,
  type ChunkStats,
  type ChunkStoreOptions,
  type ChunkStreamFetcher,
  type LogFn,
} from './chunks/options.js';

export * from './chunks/options.js';

const MiB = 1024 * 1024;

/** Open chunk files kept (reopening a file per 128 KiB read cost more than the read). */
const OPEN_FILES = 256;

/** Most chunks one readahead GET spans (256 MiB at the default size). */
const MAX_RUN = 32;

/**
 * How far readahead may run ahead of a sequential reader. Chunks fetched
 * ahead are written to the cache disk (the memory they take is the write
 * backlog's), so this bounds the bytes fetched in vain when a reader stops,
 * not memory; it is also kept to a quarter of the disk bound, so readahead
 * never evicts the chunks it fetched before they are read.
 */
const READAHEAD_BYTES = 256 * MiB;

const keyHash = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 32);
const etagHash = (etag: string) => createHash('sha256').update(etag).digest('hex').slice(0, 16);
const CHUNK_NAME = /^[0-9a-f]{32}-[0-9a-f]{16}-\d+$/;

type Counters = Pick<ChunkStats, 'hits' | 'misses' | 'fetches' | 'requests' | 'bytesFetched' | 'corrupt'>;

export class ChunkStore {
  readonly dir: string;
  readonly chunkSize: number;
  readonly maxBytes: number;
  /** Chunks a readahead may request ahead of its reader. */
  readonly maxReadahead: number;
  private readonly counters: Counters = { hits: 0, misses: 0, fetches: 0, requests: 0, bytesFetched: 0, corrupt: 0 };
  private readonly fetcher: ChunkFetcher;
  private readonly streamer: ChunkStreamFetcher | undefined;
  private readonly log: LogFn;
  /** Clean chunk files (LRU) and reserved dirty bytes within the disk bound; dropping a chunk deletes its file. */
  private readonly disk: DiskBound;
  /** Fresh chunks by id, served without touching the disk. */
  private readonly memory: LRUCache<string, Buffer>;
  private readonly files: OpenChunkFiles;
  /** Writes chunk files, off the JS thread for pool buffers. */
  private readonly writer = new ChunkFileWriter();
  /** Files taken over from an earlier run, not checked yet. */
  private readonly unverified = new Set<string>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** Chunks whose file is being written, readable meanwhile. */
  private readonly writing = new Map<string, Buffer>();
  private writingBytes = 0;
  private readonly writeBacklog: number;
  private readonly fileOps = new Map<string, Promise<void>>();
  /** Chunk buffers of readahead runs, reused once out of memory and written. */
  private readonly buffers: BufferPool;
  /** GET bodies arrive as short-lived Buffers: collected every few MiB fetched (chunks/collect.ts). */
  private readonly garbage = new GarbageMeter();
  private closed = false;

  constructor(options: ChunkStoreOptions) {
    this.dir = join(options.cacheDir, 'chunks');
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_CACHE_BYTES);
    const memoryBytes = Math.max(this.chunkSize, options.memoryBytes ?? DEFAULT_MEMORY_BYTES);
    this.maxReadahead = Math.max(1, Math.floor(Math.min(READAHEAD_BYTES, this.maxBytes / 4) / this.chunkSize));
    this.writeBacklog = Math.max(this.chunkSize, Math.floor(memoryBytes / 4));
    this.fetcher = options.fetch;
    this.streamer = options.stream;
    // Every chunk in memory is one of these buffers: the memory share bounds them all (at least two, so a fetch can land beside a chunk being written).
    this.buffers = new BufferPool(this.chunkSize, Math.max(2, Math.floor(memoryBytes / this.chunkSize)), () => this.memory.pop() !== undefined, options.beforeGrow);
    this.log = options.log ?? (() => undefined);
    this.disk = new DiskBound(this.maxBytes, (id) => this.forgetFile(id));
    this.memory = new LRUCache<string, Buffer>({
      maxSize: Math.max(1, Math.floor(memoryBytes / 4)),
      sizeCalculation: (chunk) => Math.max(1, chunk.length),
      dispose: (chunk, id) => {
        if (this.writing.get(id) !== chunk) this.buffers.recycle(chunk);
      },
    });
    this.files = new OpenChunkFiles(this.dir, OPEN_FILES);
  }

  /** Bytes on the cache disk the store accounts for: clean chunk files plus reserved dirty bytes. */
  get bytes(): number {
    return this.disk.bytes;
  }

  get dirtyBytes(): number {
    return this.disk.dirtyBytes;
  }

  stats(): ChunkStats {
    return {
      ...this.counters,
      bytes: this.bytes,
      limitBytes: this.maxBytes,
      dirtyBytes: this.disk.dirtyBytes,
      chunks: this.disk.chunks,
      evictions: this.disk.evictions,
      memoryBytes: this.buffers.bytes,
    };
  }

  /** Creates the directory and takes over chunk files of an earlier run (oldest first, checked on first read), within the bound. */
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
    for (const chunk of found) {
      this.unverified.add(chunk.id);
      if (!this.disk.admit(chunk.id, chunk.size)) this.forgetFile(chunk.id);
    }
  }

  /** Fills `into[offset…]` with the bytes [start, end) of `source` (end ≤ source.size). */
  async read(source: ChunkSource, start: number, end: number, into: Buffer, offset: number): Promise<void> {
    if (end <= start) return;
    const size = this.chunkSize;
    const first = Math.floor(start / size);
    if ((first + 1) * size >= end) return this.readSlice(source, first, start - first * size, end - first * size, into, offset);
    const reads: Promise<void>[] = [];
    for (let index = first; index * size < end; index++) {
      const from = Math.max(start, index * size);
      const to = Math.min(end, (index + 1) * size);
      reads.push(this.readSlice(source, index, from - index * size, to - index * size, into, offset + from - start));
    }
    await Promise.all(reads);
  }

  /**
   * Like `read`, for a caller assembling a large buffer (an upload part): the
   * chunks cached or on their way are served as by `read`, and each run of
   * the others comes with one GET straight into `into`, without passing
   * through chunk buffers and without being cached (the caller keeps the
   * bytes). So assembling parts from an object costs no memory beyond the
   * caller's buffer.
   */
  async readDirect(source: ChunkSource, start: number, end: number, into: Buffer, offset: number): Promise<void> {
    const streamer = this.streamer;
    if (streamer === undefined || end <= start) return this.read(source, start, end, into, offset);
    const size = this.chunkSize;
    const reads: Promise<void>[] = [];
    let runStart = -1;
    const flush = (runEnd: number) => {
      if (runStart >= 0) reads.push(this.fetchInto(streamer, source, runStart, runEnd, into, offset + runStart - start));
      runStart = -1;
    };
    for (let index = Math.floor(start / size); index * size < end; index++) {
      const from = Math.max(start, index * size);
      const to = Math.min(end, (index + 1) * size);
      if (!this.has(source, index)) {
        if (runStart < 0) runStart = from;
        continue;
      }
      flush(from);
      reads.push(this.readSlice(source, index, from - index * size, to - index * size, into, offset + from - start));
    }
    flush(end);
    await Promise.all(reads);
  }

  /** One streamed GET of [start, end) of `source` read into `into[offset…]`. */
  private async fetchInto(streamer: ChunkStreamFetcher, source: ChunkSource, start: number, end: number, into: Buffer, offset: number): Promise<void> {
    this.counters.misses++;
    this.counters.requests++;
    const body = await streamer(source, { start, end });
    await readExactly(body, into.subarray(offset, offset + end - start), `${source.key} [${start}, ${end})`);
    this.counters.bytesFetched += end - start;
    this.garbage.add(end - start);
  }

  /** True when chunk `index` of `source` needs no fetch (in memory, on disk or on its way). */
  has(source: ChunkSource, index: number): boolean {
    const id = this.idOf(source, index);
    return this.inflight.has(id) || this.memory.has(id) || this.writing.has(id) || this.disk.has(id);
  }

  /**
   * Starts fetching chunks in the background, except those cached or on
   * their way; consecutive ones go as runs of up to MAX_RUN chunks per GET.
   * Errors are only logged (a reader asking for the chunk fetches it again).
   */
  prefetch(source: ChunkSource, indexes: number[]): void {
    const wanted = indexes.filter((index) => index >= 0 && index * this.chunkSize < source.size && !this.has(source, index));
    if (this.closed || wanted.length === 0) return;
    let first = wanted[0] as number;
    let count = 1;
    for (const index of [...wanted.slice(1), -1]) {
      if (index === first + count && count < MAX_RUN) {
        count++;
        continue;
      }
      this.fetchRun(source, first, count);
      first = index;
      count = 1;
    }
  }

  /** Drops every chunk of `key` (all versions); returns how many. */
  invalidate(key: string): number {
    const prefix = `${keyHash(key)}-`;
    const ids = new Set([...this.disk.keys(), ...this.memory.keys(), ...this.writing.keys()].filter((id) => id.startsWith(prefix)));
    for (const id of ids) {
      this.memory.delete(id);
      this.writing.delete(id);
      this.disk.delete(id);
    }
    return ids.size;
  }

  /**
   * Accounts for `bytes` of dirty data about to land on the cache disk:
   * evicts clean chunks to make room, and waits while dirty data alone would
   * pass the bound (a reservation made when nothing else is reserved always
   * goes through, so one writer larger than the bound is never stuck).
   */
  reserveDirty(bytes: number): Promise<void> {
    return this.disk.reserveDirty(bytes);
  }

  /** Like `reserveDirty` without waiting: for local bytes already on the cache disk (or whose writer waited before). */
  holdDirty(bytes: number): void {
    this.disk.holdDirty(bytes);
  }

  /** Returns dirty bytes reserved earlier (uploaded, deleted or truncated away); wakes waiting writers. */
  releaseDirty(bytes: number): void {
    this.disk.releaseDirty(bytes);
  }

  /** Resolves once no fetch and no chunk file write or unlink is in progress. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.fileOps.size > 0) {
      await Promise.allSettled([...this.inflight.values(), ...this.fileOps.values()]);
    }
  }

  /** Waits for fetches and file writes in flight and closes open files; chunk files stay for the next run. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.buffers.close();
    await this.idle();
    await this.files.closeAll();
    await this.writer.close();
  }

  /** The length chunk `index` of `source` must have. */
  chunkLength(source: ChunkSource, index: number): number {
    return Math.max(0, Math.min(this.chunkSize, source.size - index * this.chunkSize));
  }

  private idOf(source: ChunkSource, index: number): string {
    return `${keyHash(source.key)}-${etagHash(source.etag)}-${index}`;
  }


  private async readSlice(source: ChunkSource, index: number, from: number, to: number, into: Buffer, offset: number): Promise<void> {
    const id = this.idOf(source, index);
    const fresh = this.memory.get(id) ?? this.writing.get(id);
    if (fresh !== undefined) {
      this.disk.touch(id); // keeps the file's LRU position in step with its use
      fresh.copy(into, offset, from, to);
      this.counters.hits++;
      return;
    }
    if (!this.inflight.has(id) && this.disk.touch(id)) {
      if (await this.readFile(id, this.chunkLength(source, index), from, to, into, offset)) {
        this.counters.hits++;
        return;
      }
    }
    this.counters.misses++;
    const chunk = await this.fetchOrJoin(source, index, id);
    chunk.copy(into, offset, from, to);
  }

  /** Joins the fetch in flight for the chunk, or starts one; a joined fetch that failed (a readahead run cut short…) is tried once more alone. */
  private async fetchOrJoin(source: ChunkSource, index: number, id: string): Promise<Buffer> {
    const pending = this.inflight.get(id);
    if (pending === undefined) return this.fetch(source, index, id);
    try {
      return await pending;
    } catch {
      return this.fetch(source, index, id);
    }
  }

  /** Reads [from, to) of a chunk file; false (and the file dropped) when it is missing, torn or unreadable. */
  private async readFile(id: string, length: number, from: number, to: number, into: Buffer, offset: number): Promise<boolean> {
    const opening = this.files.get(id);
    const handle = await opening;
    if (handle === undefined) {
      this.disk.delete(id);
      return false;
    }
    try {
      if (this.unverified.has(id)) return await this.readFirst(id, handle, length, from, to, into, offset);
      if (await readFully(handle, into, offset, to - from, from)) return true;
      this.counters.corrupt++;
    } catch (error) {
      // A handle closed by an eviction under this read is no fault of the file.
      this.log('debug', 'could not read a chunk file; fetching it again', { id, error: String(error) });
    }
    if (this.files.isCurrent(id, opening)) this.disk.delete(id);
    return false;
  }

  /** The first read of a file from an earlier run checks it whole; a bad one is counted, dropped and fetched again. */
  private async readFirst(id: string, handle: FileHandle, length: number, from: number, to: number, into: Buffer, offset: number): Promise<boolean> {
    const chunk = await readVerified(handle, length);
    if (chunk === undefined) {
      this.counters.corrupt++;
      this.log('warn', 'chunk file failed its checksum (torn by a crash?); fetching it again', { id });
      this.disk.delete(id);
      return false;
    }
    this.unverified.delete(id);
    this.memory.set(id, chunk);
    chunk.copy(into, offset, from, to);
    return true;
  }

  /**
   * One fetch per chunk id at a time; the chunk goes to every waiter at once
   * and to disk in the background. With a stream fetcher (the mount's) it
   * lands in a buffer of the pool, like a readahead run's chunks.
   */
  private fetch(source: ChunkSource, index: number, id: string): Promise<Buffer> {
    const existing = this.inflight.get(id);
    if (existing !== undefined) return existing;
    if (this.streamer !== undefined) return this.startRun(this.streamer, source, index, 1)[0] as Promise<Buffer>;
    const start = index * this.chunkSize;
    const length = this.chunkLength(source, index);
    this.counters.fetches++;
    return this.track(id, (async () => {
      await this.backlogRoom();
      this.counters.requests++;
      const chunk = await this.fetcher(source, { start, end: start + length });
      if (chunk.length !== length) {
        throw new Error(`short read of ${source.key} [${start}, ${start + length}): got ${chunk.length} bytes`);
      }
      this.landed(id, chunk);
      return chunk;
    })());
  }

  /** Fetches `count` consecutive chunks with one streamed GET; each chunk's waiters go on as soon as it is complete. */
  private fetchRun(source: ChunkSource, first: number, count: number): void {
    const log = (error: unknown) => this.log('debug', 'readahead failed', { key: source.key, first, count, error: String(error) });
    if (this.streamer === undefined) {
      for (let index = first; index < first + count; index++) this.fetch(source, index, this.idOf(source, index)).catch(log);
      return;
    }
    void Promise.allSettled(this.startRun(this.streamer, source, first, count)).then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) log(failed.reason);
    });
  }

  /** Starts one streamed GET of `count` chunks from `first`, cut into pool buffers; resolves each chunk's promise as it lands. */
  private startRun(streamer: ChunkStreamFetcher, source: ChunkSource, first: number, count: number): Promise<Buffer>[] {
    const runs = Array.from({ length: count }, (_, k) => {
      const id = this.idOf(source, first + k);
      let resolve: (chunk: Buffer) => void = () => undefined;
      let reject: (error: unknown) => void = () => undefined;
      const promise = new Promise<Buffer>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined); // a chunk nobody waits for must not be an unhandled rejection
      this.track(id, promise);
      return { id, promise, resolve, reject, length: this.chunkLength(source, first + k) };
    });
    this.counters.fetches += count;
    let done = 0;
    const start = first * this.chunkSize;
    void (async () => {
      await this.backlogRoom();
      this.counters.requests++;
      const body = await streamer(source, { start, end: start + runs.reduce((sum, r) => sum + r.length, 0) });
      const lengths = runs.map((r) => r.length);
      const pool = this.buffers;
      await splitStream(body, lengths, { take: (length) => pool.take(length), release: (buffer) => pool.recycle(buffer) }, async (k, chunk) => {
        const run = runs[k] as (typeof runs)[number];
        this.landed(run.id, chunk);
        run.resolve(chunk);
        done = k + 1;
        if (done < runs.length) await this.backlogRoom(); // the cache disk sets the pace
      });
    })().catch((error: unknown) => {
      for (const run of runs.slice(done)) run.reject(error);
    });
    return runs.map((r) => r.promise);
  }

  private track(id: string, fetching: Promise<Buffer>): Promise<Buffer> {
    this.inflight.set(id, fetching);
    const forget = () => {
      if (this.inflight.get(id) === fetching) this.inflight.delete(id);
    };
    fetching.then(forget, forget);
    return fetching;
  }

  /**
   * A fetched chunk: counted, kept in memory, written to disk in the
   * background. Collections keep pace with the bytes fetched whatever the
   * body: one read straight into chunk buffers still leaves garbage (its
   * first socket read is copied; the request's SDK objects).
   */
  private landed(id: string, chunk: Buffer): void {
    this.counters.bytesFetched += chunk.length;
    this.garbage.add(chunk.length);
    this.memory.set(id, chunk);
    this.persist(id, chunk);
  }

  /** Waits while more bytes wait for the disk than the backlog allows (the network outran the cache disk). */
  private async backlogRoom(): Promise<void> {
    while (this.writingBytes >= this.writeBacklog && this.writing.size > 0) {
      await Promise.race([...this.fileOps.values()]);
    }
  }

  /** Writes a chunk file in the background; a failure (full disk…) only costs the caching. */
  private persist(id: string, chunk: Buffer): void {
    if (this.closed || this.writing.has(id)) return;
    this.files.drop(id);
    this.unverified.delete(id);
    if (!this.disk.admit(id, fileBytes(chunk.length))) return;
    this.writing.set(id, chunk);
    this.writingBytes += chunk.length;
    this.chain(id, async () => {
      try {
        await this.writer.write(this.files.pathOf(id), chunk);
      } catch (error) {
        this.log('warn', 'could not store a chunk in the cache', { id, error: String(error) });
        this.disk.delete(id);
      } finally {
        this.writingBytes -= chunk.length;
        if (this.writing.get(id) === chunk) this.writing.delete(id);
        if (this.memory.peek(id) !== chunk) this.buffers.recycle(chunk);
      }
    });
  }

  /** An evicted or dropped chunk: its open handle closed, its file unlinked after any write of it. */
  private forgetFile(id: string): void {
    this.files.drop(id);
    this.unverified.delete(id);
    this.chain(id, () => rm(this.files.pathOf(id), { force: true }));
  }

  private chain(id: string, op: () => Promise<void>): void {
    const next = (this.fileOps.get(id) ?? Promise.resolve()).then(op).catch(() => undefined);
    this.fileOps.set(id, next);
    void next.then(() => {
      if (this.fileOps.get(id) === next) this.fileOps.delete(id);
    });
  }
}
