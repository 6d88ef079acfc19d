/**
 * The chunk store on its own, fetching from the memory backend whose
 * counters show every GET: one GET per chunk however many readers want it,
 * a changed etag never served old bytes, torn or corrupted chunk files of an
 * earlier run detected and fetched again, the disk bound held while reading
 * several times the bound, dirty reservations evicting clean chunks and
 * making writers wait, open chunk files closed when they are evicted, and
 * readahead runs: consecutive chunks fetched with one streamed GET.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readlink, stat, truncate, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { ChunkStore, ChunkSource } from '../../cache/chunks.js';
import { isStorageError } from '../../drivers/errors.js';
import { CHUNK, KiB, rig } from './chunk-rig.js';

const bytes = randomBytes(64 * CHUNK);

async function read(store: ChunkStore, source: ChunkSource, start: number, end: number): Promise<Buffer> {
  const into = Buffer.alloc(end - start);
  await store.read(source, start, end, into, 0);
  return into;
}

async function chunkFiles(dir: string): Promise<{ name: string; size: number }[]> {
  const names = await readdir(join(dir, 'chunks'));
  return Promise.all(names.map(async (name) => ({ name, size: (await stat(join(dir, 'chunks', name))).size })));
}

/** Open descriptors of this process on files in the chunk directory. */
async function openChunkFds(dir: string): Promise<string[]> {
  const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return links.filter((link) => link.startsWith(join(dir, 'chunks')));
}

t.test('concurrent requests for one chunk share one GET', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 4 * CHUNK));
  const source = await r.source('obj');
  const store = await r.store();
  r.memory.resetCounters();
  store.prefetch(source, [1]);
  const slices = Array.from({ length: 10 }, (_, i) => ({ start: CHUNK + i * 1000, end: CHUNK + i * 1000 + 4 * KiB }));
  const got = await Promise.all(slices.map((s) => read(store, source, s.start, s.end)));
  slices.forEach((s, i) => t.ok(got[i]?.equals(bytes.subarray(s.start, s.end)), `slice ${i}`));
  t.equal(r.memory.counters.get, 1, 'one GET for eleven requests');
  t.equal(store.stats().fetches, 1);
  t.equal(store.stats().misses, 10, 'every reader waited for the one fetch');
  await store.idle();
  t.same(await read(store, source, CHUNK, 2 * CHUNK), bytes.subarray(CHUNK, 2 * CHUNK), 'the whole chunk');
  t.equal(r.memory.counters.get, 1, 'and later reads are hits');
});

t.test('a changed object is never served from chunks of its earlier version', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 2 * CHUNK));
  const old = await r.source('obj');
  const store = await r.store();
  t.same(await read(store, old, 0, 2 * CHUNK), bytes.subarray(0, 2 * CHUNK));
  const next = Buffer.alloc(2 * CHUNK, 9);
  await r.container.put('obj', next);
  const fresh = await r.source('obj');
  t.not(fresh.etag, old.etag);
  r.memory.resetCounters();
  t.same(await read(store, fresh, 0, 2 * CHUNK), next, 'the new version, not cached bytes of the old one');
  t.equal(r.memory.counters.get, 2, 'both chunks of the new version were fetched');
  await store.close();
  const after = await r.store();
  r.memory.resetCounters();
  t.same(await read(after, fresh, 0, 2 * CHUNK), next, 'after a restart too');
  t.equal(r.memory.counters.get, 0, 'from the chunk files of the new version');
});

t.test('torn, truncated or corrupted chunk files of an earlier run are fetched again, never served', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 3 * CHUNK));
  const source = await r.source('obj');
  const first = await r.store();
  await read(first, source, 0, 3 * CHUNK);
  await first.close();
  const files = (await chunkFiles(r.dir)).map((f) => join(r.dir, 'chunks', f.name)).sort();
  t.equal(files.length, 3, 'three chunk files');
  const [a, b, c] = files as [string, string, string];
  const flipped = await readFile(a);
  flipped[100] = (flipped[100] ?? 0) ^ 0xff; // same length, one bad byte
  await writeFile(a, flipped);
  await truncate(b, CHUNK - 10); // torn
  await writeFile(c, Buffer.alloc(CHUNK + 8)); // zeros of the right length (pages never written)

  const second = await r.store();
  r.memory.resetCounters();
  t.same(await read(second, source, 0, 3 * CHUNK), bytes.subarray(0, 3 * CHUNK), 'the right bytes');
  t.equal(r.memory.counters.get, 3, 'each bad file was fetched again');
  t.equal(second.stats().corrupt, 3, 'and counted');
  await second.close();

  const third = await r.store();
  r.memory.resetCounters();
  t.same(await read(third, source, 0, 3 * CHUNK), bytes.subarray(0, 3 * CHUNK));
  t.equal(r.memory.counters.get, 0, 'the files were rewritten whole');
  t.equal(third.stats().corrupt, 0);
});

t.test('the disk bound holds while reading four times the bound', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 32 * CHUNK));
  const source = await r.source('obj');
  const bound = 8 * (CHUNK + 8);
  const store = await r.store({ maxBytes: bound, memoryBytes: 2 * CHUNK });
  const wrong: number[] = [];
  for (let at = 0; at < 32 * CHUNK; at += 16 * KiB) {
    if (at % CHUNK === 0) store.prefetch(source, [at / CHUNK + 1]);
    if (!(await read(store, source, at, at + 16 * KiB)).equals(bytes.subarray(at, at + 16 * KiB))) wrong.push(at);
    if (at % (4 * CHUNK) === 0) {
      await store.idle();
      const onDisk = (await chunkFiles(r.dir)).reduce((sum, f) => sum + f.size, 0);
      t.ok(onDisk <= bound, `${onDisk} bytes on disk at ${at / CHUNK} chunks (bound ${bound})`);
    }
  }
  t.same(wrong, [], 'every read returned the right bytes');
  await store.idle();
  const files = await chunkFiles(r.dir);
  t.ok(files.reduce((sum, f) => sum + f.size, 0) <= bound, 'within the bound at the end');
  t.equal(store.stats().bytes, files.reduce((sum, f) => sum + f.size, 0), 'the accounting matches the disk');
  t.equal(store.stats().evictions, 24, '32 chunks through a bound of 8');
  r.memory.resetCounters();
  await read(store, source, 31 * CHUNK, 31 * CHUNK + 10);
  t.equal(r.memory.counters.get, 0, 'the newest chunk is cached');
  await read(store, source, 0, 10);
  t.equal(r.memory.counters.get, 1, 'the oldest was evicted from memory and disk');
});

t.test('dirty reservations evict clean chunks and make writers wait at the bound', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 8 * CHUNK));
  const source = await r.source('obj');
  const bound = 8 * (CHUNK + 8);
  const store = await r.store({ maxBytes: bound });
  await read(store, source, 0, 8 * CHUNK);
  await store.idle();
  t.equal(store.stats().chunks, 8);
  await store.reserveDirty(3 * CHUNK);
  await store.idle();
  t.equal(store.stats().chunks, 5, 'three clean chunks made room for the dirty bytes');
  t.ok(store.stats().bytes <= bound);
  t.equal(store.stats().dirtyBytes, 3 * CHUNK);

  let granted = false;
  const waiting = store.reserveDirty(6 * CHUNK).then(() => (granted = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(granted, false, 'dirty data alone would pass the bound: the writer waits');
  store.releaseDirty(3 * CHUNK);
  await waiting;
  t.equal(granted, true, 'a release lets it in');
  await store.idle();
  t.equal(store.stats().dirtyBytes, 6 * CHUNK);
  t.ok(store.stats().bytes <= bound, `${store.stats().bytes} ≤ ${bound}`);
  await read(store, source, 0, 8 * CHUNK);
  await store.idle();
  t.ok(store.stats().bytes <= bound, 'clean chunks fetched meanwhile fit beside the dirty bytes');
  const onDisk = (await chunkFiles(r.dir)).reduce((sum, f) => sum + f.size, 0);
  t.ok(onDisk + 6 * CHUNK <= bound, 'the files too');
  store.releaseDirty(6 * CHUNK);
  t.equal(store.stats().dirtyBytes, 0);
});

t.test('open chunk files are kept between reads and closed when evicted', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 4 * CHUNK));
  const source = await r.source('obj');
  const first = await r.store();
  await read(first, source, 0, 4 * CHUNK);
  await first.close();
  t.same(await openChunkFds(r.dir), [], 'close closes every file');

  const store = await r.store({ maxBytes: 4 * (CHUNK + 8), memoryBytes: CHUNK });
  for (let i = 0; i < 4; i++) await read(store, source, i * CHUNK, (i + 1) * CHUNK); // checked whole, kept in memory
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) await read(store, source, i * CHUNK + 100, i * CHUNK + 200);
  }
  t.equal((await openChunkFds(r.dir)).length, 4, 'one descriptor per chunk file, however many reads');
  await store.reserveDirty(4 * (CHUNK + 8));
  await store.idle();
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(await openChunkFds(r.dir), [], 'evicted files are closed (and unlinked)');
  t.same(await chunkFiles(r.dir), []);
});

t.test('a readahead run fetches consecutive chunks with one GET; readers of any of them wait for it', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 10 * CHUNK + 123));
  const source = await r.source('obj');
  const store = await r.store();
  r.memory.resetCounters();
  store.prefetch(source, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const mid = await read(store, source, 6 * CHUNK - 10, 6 * CHUNK + 10);
  t.same(mid, bytes.subarray(6 * CHUNK - 10, 6 * CHUNK + 10), 'a slice across two chunks of the run');
  t.same(await read(store, source, 2 * CHUNK, 10 * CHUNK + 123), bytes.subarray(2 * CHUNK, 10 * CHUNK + 123), 'the whole run, short last chunk included');
  t.equal(r.memory.counters.get, 1, 'one GET for the nine chunks (none past the end)');
  t.equal(store.stats().requests, 1);
  t.equal(store.stats().fetches, 9);
  store.prefetch(source, [0, 1, 3, 5]);
  await store.idle();
  t.equal(r.memory.counters.get, 2, 'only the missing chunks 0-1, as one more run');
});

t.test('a run of a changed object fails its waiters; nothing of it is cached', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 4 * CHUNK));
  const old = await r.source('obj');
  await r.container.put('obj', Buffer.alloc(4 * CHUNK, 1));
  const store = await r.store();
  store.prefetch(old, [0, 1, 2, 3]);
  const error = await read(store, old, 2 * CHUNK, 2 * CHUNK + 10).then(() => undefined, (e: unknown) => e);
  t.ok(isStorageError(error, 'PreconditionFailed'), 'the reader gets the fetch error');
  await store.idle();
  t.equal(store.stats().chunks, 0, 'no chunk stored');
  const fresh = await r.source('obj');
  t.same(await read(store, fresh, 0, 10), Buffer.alloc(10, 1), 'the new version reads fine');
});

t.test('chunk buffers reused across a long run never change bytes already handed out or written', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 40 * CHUNK));
  const source = await r.source('obj');
  // Four chunks of memory LRU: buffers leave it (and are reused) all the time.
  const store = await r.store({ memoryBytes: 16 * CHUNK });
  const wrong: number[] = [];
  for (let first = 0; first < 40; first += 20) {
    store.prefetch(source, Array.from({ length: 20 }, (_, k) => first + k));
    const reads = Array.from({ length: 20 }, (_, k) => read(store, source, (first + k) * CHUNK, (first + k + 1) * CHUNK));
    (await Promise.all(reads)).forEach((got, k) => {
      if (!got.equals(bytes.subarray((first + k) * CHUNK, (first + k + 1) * CHUNK))) wrong.push(first + k);
    });
  }
  t.same(wrong, [], 'every chunk read right while the runs came in');
  await store.idle();
  t.same(await read(store, source, 0, 40 * CHUNK), bytes.subarray(0, 40 * CHUNK), 'and after, from memory and disk');
  t.equal(store.stats().fetches, 40, 'each chunk fetched once');
  await store.close();
  const after = await r.store();
  t.same(await read(after, source, 0, 40 * CHUNK), bytes.subarray(0, 40 * CHUNK), 'every chunk file holds the right bytes');
  t.equal(after.stats().corrupt, 0, 'and passes its checksum');
  t.equal(after.stats().fetches, 0, 'from disk');
});

/** A body that can only be filled (as the s3 backend's plain-HTTP bodies can), in pieces of random size. */
class FillOnlyBody {
  private at = 0;
  fills = 0;
  destroyed = false;
  constructor(private readonly bytes: Buffer) {}
  async fill(into: Buffer): Promise<number> {
    this.fills++;
    await new Promise((resolve) => setImmediate(resolve));
    const n = Math.min(into.length, this.bytes.length - this.at);
    this.bytes.copy(into, 0, this.at, this.at + n);
    this.at += n;
    return n;
  }
  destroy(): void {
    this.destroyed = true;
  }
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    throw new Error('a fill body must not be iterated');
  }
}

t.test('bodies that fill buffers go straight into chunk buffers; short and long ones fail their chunks', async (t) => {
  const r = await rig(t);
  await r.container.put('obj', bytes.subarray(0, 6 * CHUNK + 5));
  const source = await r.source('obj');
  const bodies: FillOnlyBody[] = [];
  let tamper = (b: Buffer) => b;
  const store = await r.store({
    stream: async (s, range) => {
      const body = new FillOnlyBody(tamper(await r.container.getRange(s.key, range)));
      bodies.push(body);
      return body;
    },
  });
  store.prefetch(source, [0, 1, 2, 3, 4, 5, 6]);
  t.same(await read(store, source, 0, 6 * CHUNK + 5), bytes.subarray(0, 6 * CHUNK + 5), 'the bytes of a filled run');
  t.equal(bodies.length, 1, 'one body for the run');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(bodies[0]?.destroyed, 'released at its end');
  const into = Buffer.alloc(3 * CHUNK);
  await store.readDirect(source, 0, 3 * CHUNK, into, 0); // cached: no body
  t.ok(into.equals(bytes.subarray(0, 3 * CHUNK)));

  await r.container.put('other', bytes.subarray(0, 3 * CHUNK));
  const other = await r.source('other');
  tamper = (b) => b.subarray(0, b.length - 1);
  await t.rejects(read(store, other, 0, CHUNK), /ended in chunk 0/, 'a short body fails');
  tamper = (b) => Buffer.concat([b, Buffer.alloc(1)]);
  t.same(await read(store, other, CHUNK, 2 * CHUNK), bytes.subarray(CHUNK, 2 * CHUNK), 'a long body: the chunk is whole before the extra byte shows');
  const direct = Buffer.alloc(CHUNK);
  await t.rejects(store.readDirect(other, 2 * CHUNK, 3 * CHUNK, direct, 0), /long read/, 'and so does a long direct read');
  tamper = (b) => b;
  await store.readDirect(other, 2 * CHUNK, 3 * CHUNK, direct, 0);
  t.ok(direct.equals(bytes.subarray(2 * CHUNK, 3 * CHUNK)), 'a direct read fills the caller\'s buffer');
  t.ok(bodies.every((b) => b.destroyed), 'every body released');
});
