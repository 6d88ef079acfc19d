/**
 * The async write mode through the whole file system (namespace and data
 * path) on the memory backend: a closed file waiting for its upload shows
 * its new size in stat and listings (also after the attribute TTL), reads
 * return its new bytes, unlink and rename of it reach the bucket correctly,
 * and after a stop that could not upload it, a mount on the same cache
 * directory serves it before it is uploaded.
 */
import t from 'tap';
import type { Test } from 'tap';
import { errnoName } from '../../vfs/errno.js';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../vfs/types.js';
import { createFileSystem, type Vfs } from '../../vfs/vfs.js';
import { allKeys, freshBucket, OPTIONS, rig, seed, type Rig } from './namespace-harness.js';

async function asyncRig(t: Test): Promise<Rig> {
  const bucket = await freshBucket(t, 'memory');
  if (bucket === undefined) throw new Error('the memory backend always runs');
  t.teardown(() => bucket.faults.clear());
  return rig(t, bucket, { writeMode: 'async' });
}

async function writeAt(vfs: Vfs, path: string, text: string, flags = O_WRONLY): Promise<void> {
  const fh = flags & O_CREAT ? await vfs.create(path, 0o644, flags) : await vfs.open(path, flags);
  await vfs.write(path, fh, Buffer.from(text), text.length, 0);
  await vfs.release(path, fh);
}

async function readAll(vfs: Vfs, path: string): Promise<string> {
  const fh = await vfs.open(path, O_RDONLY);
  const buffer = Buffer.alloc(1024);
  const n = await vfs.read(path, fh, buffer, buffer.length, 0);
  await vfs.release(path, fh);
  return buffer.subarray(0, n).toString();
}

async function body(r: Rig, key: string): Promise<string | undefined> {
  const info = await r.container.head(key).catch(() => undefined);
  return info === undefined ? undefined : (await r.container.getRange(key, { start: 0, end: info.size })).toString();
}

t.test('a pending file shows its new size and bytes, also after the attribute TTL', async (t) => {
  const r = await asyncRig(t);
  await seed(r.container, { e: 'old content' });
  r.bucket.faults.inject({ op: 'put', latencyMs: 400 });
  await writeAt(r.vfs, '/n', 'new file', O_CREAT | O_WRONLY);
  await writeAt(r.vfs, '/e', 'NEWER CONTENT!!');
  t.equal(await body(r, 'e'), 'old content', 'the bucket still has the old version');
  r.clock.advance(120_000);
  t.equal((await r.vfs.getattr('/n')).size, 8, 'the new file has its size');
  t.equal((await r.vfs.getattr('/e')).size, 15, 'the changed file has its new size after the TTL');
  const listing = await r.vfs.readdir('/');
  t.same(listing.names.map((name, i) => [name, listing.attrs[i]?.size]).sort(), [['e', 15], ['n', 8]], 'the listing agrees');
  t.equal(await readAll(r.vfs, '/e'), 'NEWER CONTENT!!', 'reads return the new bytes, not the bucket\'s');
  await r.vfs.flushAll();
  t.equal(await body(r, 'e'), 'NEWER CONTENT!!');
  t.equal(await body(r, 'n'), 'new file');
  r.clock.advance(120_000);
  t.equal((await r.vfs.getattr('/e')).size, 15, 'uploaded: the bucket agrees');
});

t.test('unlink and rename of a closed file waiting for its upload', async (t) => {
  const r = await asyncRig(t);
  await seed(r.container, { u: 'old u', m: 'old m' });
  r.bucket.faults.inject({ op: 'put', latencyMs: 300 });
  await writeAt(r.vfs, '/u', 'new u');
  await writeAt(r.vfs, '/m', 'new m');
  await writeAt(r.vfs, '/fresh', 'fresh', O_CREAT | O_WRONLY);
  await r.vfs.unlink('/u');
  await r.vfs.rename('/m', '/moved');
  await r.vfs.rename('/fresh', '/fresh2');
  t.equal(errnoName(await r.vfs.getattr('/u').catch((e: unknown) => e)), 'ENOENT', 'the unlinked file is gone');
  t.equal(errnoName(await r.vfs.getattr('/m').catch((e: unknown) => e)), 'ENOENT', 'the old name is gone');
  t.equal(await readAll(r.vfs, '/moved'), 'new m', 'the new name reads the new bytes');
  await r.vfs.flushAll();
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.same(await allKeys(r.container), ['fresh2', 'moved'], 'only the new names are in the bucket');
  t.equal(await body(r, 'moved'), 'new m');
  t.equal(await body(r, 'fresh2'), 'fresh');
});

t.test('a stop with the bucket unreachable keeps the file; a remount serves it before uploading it', async (t) => {
  const r = await asyncRig(t);
  const first = await createFileSystem({
    ...OPTIONS, container: r.container, prefix: '', cacheDir: r.cacheDir, writeMode: 'async', now: r.clock.now,
  });
  r.bucket.faults.inject({ op: 'put', error: 'AccessDenied' });
  await writeAt(first, '/kept', 'acknowledged only', O_CREAT | O_WRONLY);
  await t.rejects(first.close(), /stay pending .*\/kept/, 'the stop names what stays pending');
  t.same(await allKeys(r.container), [], 'not in the bucket');
  const again = await r.remount();
  t.equal((await again.getattr('/kept')).size, 17, 'the remount knows the file');
  t.same((await again.readdir('/')).names, ['kept'], 'and lists it');
  t.equal(await readAll(again, '/kept'), 'acknowledged only', 'and serves its bytes');
  t.equal(again.stats().uploads.pending[0]?.path, '/kept', 'status lists it');
  r.bucket.faults.clear();
  await again.flushAll();
  t.equal(await body(r, 'kept'), 'acknowledged only', 'uploaded by the remount');
});
