/**
 * Reads through the chunk store, on the memory backend whose counters show
 * the requests: one GET per chunk, none on a re-read, one for concurrent
 * readers of a chunk, readahead for sequential readers, ESTALE (never bytes
 * of another version) when the object changes under an open reader, a torn
 * chunk file of an earlier run fetched again, the size bound, a readahead
 * window that grows for sequential readers and stays shut for random ones,
 * and chunks reused by the next run.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Backend } from '../../drivers/contract.js';
import { ForwardingBackend, type Operation } from '../../drivers/decorators/forwarding.js';
import { O_RDONLY, O_RDWR, O_TRUNC } from '../../vfs/types.js';
import { errnoOf, memoryRig, MiB, openKey, readThrough } from './data-harness.js';

const twentyMiB = randomBytes(20 * MiB);

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('a sequential read of 20 MiB costs 3 GETs; a re-read costs none', async (t) => {
  const rig = await memoryRig(t);
  await rig.container.put('big', twentyMiB);
  const fh = await openKey(rig, 'big', O_RDONLY);
  rig.memory.resetCounters();
  const first = await readThrough(rig.data, fh, 0, twentyMiB.length + 4096);
  t.equal(first.length, twentyMiB.length, 'the read ends at the end of the object');
  t.ok(first.equals(twentyMiB), 'the bytes are the object');
  t.equal(rig.memory.counters.get, 3, '8 + 8 + 4 MiB: three chunk GETs');
  await rig.data.release(fh);

  const again = await openKey(rig, 'big', O_RDONLY);
  rig.memory.resetCounters();
  t.ok((await readThrough(rig.data, again, 0, twentyMiB.length)).equals(twentyMiB), 'the re-read is the object');
  t.equal(rig.memory.counters.get, 0, 'a re-read is served by the chunk store');
  await rig.data.release(again);
});

t.test('concurrent reads of one chunk share one GET', async (t) => {
  const rig = await memoryRig(t);
  await rig.container.put('big', twentyMiB);
  const [a, b] = [await openKey(rig, 'big', O_RDONLY), await openKey(rig, 'big', O_RDONLY)];
  rig.memory.resetCounters();
  const [x, y] = [Buffer.alloc(4096), Buffer.alloc(65536)];
  // Neither read starts where its handle last stopped: no readahead.
  await Promise.all([rig.data.read(a, x, x.length, 1 * MiB), rig.data.read(b, y, y.length, 3 * MiB + 5)]);
  t.ok(x.equals(twentyMiB.subarray(MiB, MiB + 4096)));
  t.ok(y.equals(twentyMiB.subarray(3 * MiB + 5, 3 * MiB + 5 + 65536)));
  t.equal(rig.memory.counters.get, 1, 'one GET for both readers');
  t.equal(rig.data.isDirty('/big'), false);
});

t.test('a sequential reader fetches the next chunk in the background', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  await rig.container.put('obj', twentyMiB.subarray(0, 3 * MiB));
  const fh = await openKey(rig, 'obj', O_RDONLY);
  rig.memory.resetCounters();
  await rig.data.read(fh, Buffer.alloc(4096), 4096, 0);
  await until(() => rig.memory.counters.get === 2);
  t.pass('reading chunk 0 from its start fetched chunk 1 too');
  await rig.data.read(fh, Buffer.alloc(4096), 4096, 500_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(rig.memory.counters.get, 2, 'a jump is not sequential: no readahead');
  const tail = Buffer.alloc(MiB);
  t.equal(await rig.data.read(fh, tail, MiB, 2 * MiB), MiB);
  t.ok(tail.equals(twentyMiB.subarray(2 * MiB, 3 * MiB)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(rig.memory.counters.get, 3, 'no readahead past the end of the object');
});

t.test('reads at and past the end', async (t) => {
  const rig = await memoryRig(t);
  await rig.container.put('small', Buffer.from('hello world'));
  await rig.container.put('empty', Buffer.alloc(0));
  const fh = await openKey(rig, 'small', O_RDONLY);
  const buffer = Buffer.alloc(100);
  t.equal(await rig.data.read(fh, buffer, 100, 6), 5, 'a read across the end is short');
  t.equal(buffer.subarray(0, 5).toString(), 'world');
  t.equal(await rig.data.read(fh, buffer, 100, 11), 0, 'a read at the end returns 0');
  t.equal(await rig.data.read(fh, buffer, 100, 1000), 0, 'a read past the end returns 0');
  const empty = await openKey(rig, 'empty', O_RDONLY);
  rig.memory.resetCounters();
  t.equal(await rig.data.read(empty, buffer, 100, 0), 0);
  t.equal(rig.memory.counters.get, 0, 'an empty object needs no GET');
  t.equal(await errnoOf(rig.data.read(999, buffer, 1, 0)), 'EBADF', 'an unknown handle is EBADF');
});

t.test('an object changed under an open reader: ESTALE, never bytes of the new version', async (t) => {
  const rig = await memoryRig(t);
  const old = twentyMiB.subarray(0, 10 * MiB);
  await rig.container.put('obj', old);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  const start = Buffer.alloc(4096);
  await rig.data.read(fh, start, 4096, 100);
  t.ok(start.equals(old.subarray(100, 4196)));
  await rig.container.put('obj', Buffer.alloc(10 * MiB, 7));
  t.equal(await errnoOf(rig.data.read(fh, Buffer.alloc(4096), 4096, 9 * MiB)), 'ESTALE', 'the second chunk cannot come from the new version');
  const cached = Buffer.alloc(4096);
  await rig.data.read(fh, cached, 4096, 100);
  t.ok(cached.equals(old.subarray(100, 4196)), 'cached bytes of the opened version stay consistent');
  await rig.data.release(fh);

  const fresh = await openKey(rig, 'obj', O_RDONLY);
  const now = Buffer.alloc(4096);
  await rig.data.read(fresh, now, 4096, 100);
  t.ok(now.equals(Buffer.alloc(4096, 7)), 'a new open reads the new version');
  await rig.container.deleteObject('obj');
  t.equal(await errnoOf(rig.data.read(fresh, Buffer.alloc(10), 10, 9 * MiB)), 'ESTALE', 'a deleted object is ESTALE too');
});

t.test('a torn chunk file left by an earlier run is fetched again', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  const bytes = twentyMiB.subarray(0, 2 * MiB);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  await rig.data.read(fh, Buffer.alloc(MiB), MiB, 1 * MiB);
  await rig.data.release(fh);
  await rig.data.close();
  const dir = join(rig.cacheDir, 'chunks');
  const [name] = await readdir(dir);
  t.ok(name, 'one chunk file');
  await truncate(join(dir, name as string), 1000);

  const next = rig.another({ cacheDir: rig.cacheDir, chunkSize: MiB });
  const again = await openKey(rig, 'obj', O_RDONLY, next);
  rig.memory.resetCounters();
  const buffer = Buffer.alloc(MiB);
  await next.read(again, buffer, MiB, 1 * MiB);
  t.ok(buffer.equals(bytes.subarray(MiB)), 'the bytes are right');
  t.equal(rig.memory.counters.get, 1, 'the torn chunk was fetched again');
  await next.close();
  t.equal((await stat(join(dir, name as string))).size, MiB + 8, 'and stored whole (bytes and trailer)');
});

t.test('the chunk store stays within its size bound (LRU)', async (t) => {
  const chunk = 256 * 1024;
  // A memory limit of two chunks keeps no chunk in memory: every hit is a disk hit.
  const rig = await memoryRig(t, { chunkSize: chunk, cacheBytes: 3 * (chunk + 8), memoryLimitBytes: 2 * chunk });
  const bytes = twentyMiB.subarray(0, 12 * chunk);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  t.ok((await readThrough(rig.data, fh, 0, bytes.length, 100_000)).equals(bytes), 'reads are right under eviction');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const dir = join(rig.cacheDir, 'chunks');
  const sizes = await Promise.all((await readdir(dir)).map(async (n) => (await stat(join(dir, n))).size));
  t.ok(sizes.reduce((a, b) => a + b, 0) <= 3 * (chunk + 8), `at most 3 chunks on disk (${sizes.length}) after reading 4× the bound`);
  rig.memory.resetCounters();
  const last = Buffer.alloc(10);
  await rig.data.read(fh, last, 10, 12 * chunk - 10);
  t.equal(rig.memory.counters.get, 0, 'the most recent chunk is still there');
  await rig.data.read(fh, last, 10, 0);
  t.equal(rig.memory.counters.get, 1, 'the oldest was evicted');
});

/** GETs that take `latencyMs`, counting how many are in flight at once. */
class SlowGets extends ForwardingBackend {
  inFlight = 0;
  maxInFlight = 0;
  constructor(inner: Backend, private readonly latencyMs: number) {
    super(inner);
  }
  protected override async around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    if (op !== 'get') return call();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return await call();
    } finally {
      this.inFlight--;
    }
  }
}

t.test('a sequential read fetches each chunk once, in a few long GETs, several in flight', async (t) => {
  let slow: SlowGets | undefined;
  const rig = await memoryRig(t, { chunkSize: MiB }, (b) => (slow = new SlowGets(b, 20)));
  const bytes = twentyMiB.subarray(0, 16 * MiB);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  rig.memory.resetCounters();
  t.ok((await readThrough(rig.data, fh, 0, bytes.length)).equals(bytes), 'the bytes are the object');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(rig.data.stats().bytesDownloaded, bytes.length, 'every chunk fetched once, none past the end');
  const gets = rig.memory.counters.get;
  t.ok(gets > 1 && gets < 16, `fewer GETs (${gets}) than the 16 chunks`);
  t.ok((slow?.maxInFlight ?? 0) >= 2, `GETs in flight at once (${slow?.maxInFlight})`);
});

t.test('random reads fetch only the chunks they touch; a seek resets the window', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  const bytes = twentyMiB.subarray(0, 16 * MiB);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  rig.memory.resetCounters();
  const touched = new Set<number>();
  for (const at of [5 * MiB + 7, 2 * MiB + 100, 11 * MiB, 5 * MiB + 9000, 14 * MiB - 5, 2 * MiB + 70_000]) {
    const buffer = Buffer.alloc(4096);
    await rig.data.read(fh, buffer, 4096, at);
    t.ok(buffer.equals(bytes.subarray(at, at + 4096)), `bytes at ${at}`);
    touched.add(Math.floor(at / MiB)).add(Math.floor((at + 4095) / MiB));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(rig.memory.counters.get, touched.size, `only the ${touched.size} chunks touched`);

  const other = await openKey(rig, 'obj', O_RDONLY);
  await readThrough(rig.data, other, 0, 3 * MiB);
  await new Promise((resolve) => setTimeout(resolve, 50));
  rig.memory.resetCounters();
  await rig.data.read(other, Buffer.alloc(4096), 4096, 15 * MiB + 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(rig.memory.counters.get, 1, 'a jump fetches the chunk it touches and nothing ahead');
});

t.test('invalidate drops the chunks of a key', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  await rig.container.put('a', twentyMiB.subarray(0, 2 * MiB));
  await rig.container.put('b', twentyMiB.subarray(0, MiB));
  for (const key of ['a', 'b']) {
    const fh = await openKey(rig, key, O_RDONLY);
    await readThrough(rig.data, fh, 0, 2 * MiB);
    await rig.data.release(fh);
  }
  rig.data.invalidate('a');
  rig.memory.resetCounters();
  for (const key of ['a', 'b']) {
    const fh = await openKey(rig, key, O_RDONLY);
    await readThrough(rig.data, fh, 0, 2 * MiB);
    await rig.data.release(fh);
  }
  t.equal(rig.memory.counters.get, 2, "a's two chunks were fetched again, b's none");
});

t.test('the next run on the same cache dir reuses the chunks', async (t) => {
  const rig = await memoryRig(t);
  await rig.container.put('big', twentyMiB);
  const fh = await openKey(rig, 'big', O_RDONLY);
  await readThrough(rig.data, fh, 0, twentyMiB.length);
  await rig.data.release(fh);
  await rig.data.close();

  const next = rig.another({ cacheDir: rig.cacheDir });
  rig.memory.resetCounters();
  const again = await openKey(rig, 'big', O_RDONLY, next);
  t.ok((await readThrough(next, again, 0, twentyMiB.length)).equals(twentyMiB));
  t.equal(rig.memory.counters.get, 0, 'no GET after a restart');
  t.equal(await errnoOf(rig.data.open({ path: '/x', key: 'x', exists: false, size: 0, etag: undefined, metadata: {} }, 0)), 'EIO', 'a closed data path opens nothing');
});

t.test('the kernel page cache is kept only by an open that revalidated the same etag', async (t) => {
  const rig = await memoryRig(t);
  await rig.container.put('obj', Buffer.from('version one'));
  const first = await openKey(rig, 'obj', O_RDONLY);
  t.equal(rig.data.keepCache(first), false, 'a first open drops whatever the kernel holds');
  await rig.data.release(first);
  const second = await openKey(rig, 'obj', O_RDONLY);
  t.equal(rig.data.keepCache(second), true, 'the same etag again: keep');
  await rig.data.release(second);
  t.equal(rig.data.keepCache(second), false, 'a released handle keeps nothing');

  await rig.container.put('obj', Buffer.from('version two'));
  const changed = await openKey(rig, 'obj', O_RDONLY);
  t.equal(rig.data.keepCache(changed), false, 'a changed object: drop');
  await rig.data.release(changed);
  const truncated = await openKey(rig, 'obj', O_RDWR | O_TRUNC);
  t.equal(rig.data.keepCache(truncated), false, 'O_TRUNC: drop');
  await rig.data.write(truncated, Buffer.from('three'), 5, 0);
  await rig.data.release(truncated);
  const after = await openKey(rig, 'obj', O_RDONLY);
  t.equal(rig.data.keepCache(after), false, 'after an upload through the mount the etag is new: drop');
  await rig.data.release(after);
  const again = await openKey(rig, 'obj', O_RDONLY);
  t.equal(rig.data.keepCache(again), true);
});
