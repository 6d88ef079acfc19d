/**
 * What the namespace offers the daemon's control commands: invalidate(path)
 * drops the cached metadata of a file or a subtree (with its listing state)
 * and the clean cached data of its files, so the next access asks the
 * bucket; files not uploaded yet survive it.
 */
import t from 'tap';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../vfs/types.js';
import { freshBucket, rig, seed } from './namespace-harness.js';

async function readAll(vfs: Awaited<ReturnType<typeof rig>>['vfs'], path: string): Promise<string> {
  const fh = await vfs.open(path, O_RDONLY);
  try {
    const buffer = Buffer.alloc(64);
    const n = await vfs.read(path, fh, buffer, buffer.length, 0);
    return buffer.subarray(0, n).toString();
  } finally {
    await vfs.release(path, fh);
  }
}

t.test('invalidate of a file: its entry and chunks go, its siblings stay cached', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { 'd/a': 'alpha', 'd/b': 'beta', 'd/c': 'gamma' });
  const r = await rig(t, bucket);
  await r.vfs.readdir('/d');
  t.equal(await readAll(r.vfs, '/d/a'), 'alpha');
  // Changed behind the mount's back: the cache does not know yet.
  await seed(bucket.container, { 'd/a': 'ALPHA!' });
  t.equal((await r.vfs.getattr('/d/a')).size, 5, 'the cached size, before');

  const result = await r.vfs.invalidate('/d/a');
  t.same(result, { entries: 1, chunks: 1 }, 'one entry and its one cached chunk dropped');
  r.resetRequests();
  t.equal((await r.vfs.getattr('/d/a')).size, 6, 'the new size');
  t.same(r.requests(), { head: 1 }, 'asked the bucket again');
  r.resetRequests();
  await r.vfs.getattr('/d/b');
  t.same(r.requests(), {}, 'a sibling is still cached');
  await t.rejects(r.vfs.getattr('/d/none'), { code: 'ENOENT' });
  t.ok((r.requests()['head'] ?? 0) >= 1, "the directory's listing was forgotten too: an absent name is asked for");
  t.equal(await readAll(r.vfs, '/d/a'), 'ALPHA!', 'the new content');
});

t.test('invalidate of a directory: the subtree and its listing state go; local files stay', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { 'd/a': '1', 'd/sub/x': '2', 'd/sub/y': '3', other: '4' });
  const r = await rig(t, bucket);
  await r.vfs.readdir('/');
  await r.vfs.readdir('/d');
  await r.vfs.readdir('/d/sub');
  const fh = await r.vfs.create('/d/new', 0o644, O_CREAT | O_WRONLY);
  t.teardown(() => r.vfs.release('/d/new', fh).catch(() => undefined));
  await seed(bucket.container, { 'd/sub/z': '5' });

  const result = await r.vfs.invalidate('/d');
  t.same(result, { entries: 5, chunks: 0 }, '/d, /d/a, /d/sub, /d/sub/x, /d/sub/y');
  r.resetRequests();
  await r.vfs.getattr('/other');
  t.same(r.requests(), {}, 'outside the subtree nothing changed');
  t.same((await r.vfs.readdir('/d')).names, ['a', 'new', 'sub'], 'the file not uploaded yet is still there');
  t.same((await r.vfs.readdir('/d/sub')).names, ['x', 'y', 'z'], 'listed again: the new object shows');

  const all = await r.vfs.invalidate('/');
  t.ok(all.entries >= 7, `everything but the root and the local file: ${all.entries}`);
  t.equal((await r.vfs.getattr('/')).ino, 1, 'the root stays');
  t.same((await r.vfs.readdir('/')).names, ['d', 'other']);
});
