/**
 * MountControl on the file system (what `bucketfs status` and `bucketfs
 * flush` use): stats() reports the write mode, the tuning the mount was
 * started with, dirty bytes, uploads and errors; flushAll() is a barrier that
 * uploads every dirty file, open or left behind by a failed close.
 */
import t from 'tap';
import { O_CREAT, O_WRONLY } from '../../vfs/types.js';
import { freshBucket, rig } from './namespace-harness.js';

const MiB = 1024 * 1024;

t.test('stats and flushAll through the Vfs', async (t) => {
  const bucket = await freshBucket(t, 'memory');
  if (bucket === undefined) return;
  const { vfs, container } = await rig(t, bucket, { cacheBytes: 64 * MiB, memoryLimitBytes: 96 * MiB, writeMode: 'sync' });
  let stats = vfs.stats();
  t.equal(stats.writeMode, 'sync');
  t.equal(stats.cache.limitBytes, 64 * MiB, '--cache-size reaches the data path');
  t.equal(stats.memory.limitBytes, 96 * MiB, '--memory-limit too');

  const a = await vfs.create('/a', 0o644, O_CREAT | O_WRONLY);
  await vfs.write('/a', a, Buffer.from('hello'), 5, 0);
  stats = vfs.stats();
  t.equal(stats.cache.dirtyBytes, 5);
  t.equal(stats.openFiles, 1);
  t.same(stats.uploads.pending, [], 'an open file in sync mode is not pending: its close reports');

  const seen: [number, number][] = [];
  await vfs.flushAll((done, total) => seen.push([done, total]));
  t.same(seen, [[0, 1], [1, 1]]);
  t.equal((await container.getRange('a', { start: 0, end: 5 })).toString(), 'hello', 'the barrier uploaded the open file');
  stats = vfs.stats();
  t.equal(stats.cache.dirtyBytes, 0);
  t.equal(stats.uploads.completed, 1);
  t.equal(stats.bytesUploaded, 5);

  // A failed last close leaves the file pending until a later flush.
  await vfs.write('/a', a, Buffer.from('!'), 1, 5);
  bucket.faults.inject({ op: 'put', error: 'Transient' });
  await t.rejects(vfs.release('/a', a));
  stats = vfs.stats();
  t.same(stats.uploads.pending.map((p) => [p.path, p.key]), [['/a', 'a']]);
  t.equal(stats.uploads.failed, 1);
  t.ok(stats.errors.some((e) => e.path === '/a'), 'the error is listed');
  await t.rejects(vfs.flushAll(), /\/a/);
  bucket.faults.clear();
  await vfs.flushAll();
  t.equal((await container.getRange('a', { start: 0, end: 6 })).toString(), 'hello!');
  t.same(vfs.stats().uploads.pending, []);
});
