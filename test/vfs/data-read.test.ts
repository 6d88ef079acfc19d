/**
 * Reads through the chunk store, on the memory backend whose counters show
 * the requests: one GET per chunk, none on a re-read, one for concurrent
 * readers of a chunk, readahead for sequential readers, ESTALE (never bytes
 * of another version) when the object changes under an open reader, chunk
 * files that fail their length check fetched again, the size bound, and
 * chunks reused by the next run.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { O_RDONLY } from '../../vfs/types.js';
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

t.test('a chunk file with the wrong length is fetched again', async (t) => {
  const rig = await memoryRig(t, { chunkSize: MiB });
  const bytes = twentyMiB.subarray(0, 2 * MiB);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  const buffer = Buffer.alloc(MiB);
  await rig.data.read(fh, buffer, MiB, 1 * MiB);
  const dir = join(rig.cacheDir, 'chunks');
  const [name] = await readdir(dir);
  t.ok(name, 'one chunk file');
  await truncate(join(dir, name as string), 1000);
  rig.memory.resetCounters();
  buffer.fill(0);
  await rig.data.read(fh, buffer, MiB, 1 * MiB);
  t.ok(buffer.equals(bytes.subarray(MiB)), 'the bytes are right');
  t.equal(rig.memory.counters.get, 1, 'the short chunk was fetched again');
  t.equal((await stat(join(dir, name as string))).size, MiB, 'and stored whole');
});

t.test('the chunk store stays within its size bound (LRU)', async (t) => {
  const chunk = 256 * 1024;
  const rig = await memoryRig(t, { chunkSize: chunk, cacheBytes: 3 * chunk });
  const bytes = twentyMiB.subarray(0, 8 * chunk);
  await rig.container.put('obj', bytes);
  const fh = await openKey(rig, 'obj', O_RDONLY);
  t.ok((await readThrough(rig.data, fh, 0, bytes.length, 100_000)).equals(bytes), 'reads are right under eviction');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const dir = join(rig.cacheDir, 'chunks');
  const sizes = await Promise.all((await readdir(dir)).map(async (n) => (await stat(join(dir, n))).size));
  t.ok(sizes.reduce((a, b) => a + b, 0) <= 3 * chunk, `at most 3 chunks on disk (${sizes.length})`);
  rig.memory.resetCounters();
  const last = Buffer.alloc(10);
  await rig.data.read(fh, last, 10, 8 * chunk - 10);
  t.equal(rig.memory.counters.get, 0, 'the most recent chunk is still there');
  await rig.data.read(fh, last, 10, 0);
  t.equal(rig.memory.counters.get, 1, 'the oldest was evicted');
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
