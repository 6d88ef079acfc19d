/**
 * Directory renames are journaled: when one stops midway (faults injected
 * with FaultBackend after some copies, or on the deletes), a new mount on
 * the same cache directory finishes it before serving, and the bucket then
 * holds exactly the renamed tree. Also: a journal that was never sealed
 * moved nothing and is dropped; open files below a renamed directory move
 * with it (and keep reading their object when the copy changed its etag);
 * a cache directory made for another remote is wiped.
 */
import t from 'tap';
import type { Test } from 'tap';
import { S3_LIMITS } from '../../drivers/base-backend.js';
import type { Limits } from '../../drivers/contract.js';
import { FaultBackend } from '../../drivers/decorators/fault.js';
import { MemoryBackend } from '../../drivers/memory.js';
import { Driver } from '../../drivers/storage.js';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../vfs/types.js';
import { createFileSystem } from '../../vfs/vfs.js';
import { allKeys, freshBucket, rig, seed, OPTIONS, type Bucket, type TargetName } from './namespace-harness.js';

const FILES = 60;
const tree = (dir: string) => [
  `${dir}/`,
  ...Array.from({ length: FILES }, (_, i) => `${dir}/f${String(i).padStart(3, '0')}`),
  `${dir}/sub/x`,
];

async function seedTree(t: Test, target: TargetName) {
  const bucket = await freshBucket(t, target);
  if (bucket === undefined) return undefined;
  await seed(bucket.container, Object.fromEntries(tree('d').map((key) => [key, key.endsWith('/') ? '' : key])));
  await seed(bucket.container, { 'keep/me': 'x' });
  return bucket;
}

async function interruptedCopies(t: Test, target: TargetName): Promise<void> {
  const bucket = await seedTree(t, target);
  if (bucket === undefined) return;
  const r = await rig(t, bucket);
  await r.vfs.readdir('/d');
  // Copies to f030..f059 fail: the rename stops after the others were copied.
  bucket.faults.inject({ op: 'copy', key: /^e\/f0[3-5]\d$/, error: 'Transient' });
  await t.rejects(r.vfs.rename('/d', '/e'), /injected fault: copy failed/);
  const midway = await allKeys(bucket.container);
  t.ok(midway.includes('e/f000') && !midway.includes('e/f030'), 'stopped midway');
  t.ok(tree('d').every((key) => midway.includes(key)), 'nothing deleted before every copy is done');
  t.match(r.logs.map((l) => l.message).join('\n'), /stopped with 62 objects left to move; it is finished at the next mount/);
  await r.vfs.close();
  bucket.faults.clear();

  const again = await r.remount();
  t.same(await allKeys(bucket.container), [...tree('e'), 'keep/me'].sort(), 'the bucket holds exactly the renamed tree');
  t.match(r.logs.map((l) => l.message).join('\n'), /finishing the rename of \/d to \/e interrupted earlier \(62 objects left\)/);
  t.equal((await again.readdir('/e')).names.length, FILES + 1);
  await t.rejects(again.getattr('/d'), { code: 'ENOENT' });
  t.same((await again.readdir('/')).names, ['e', 'keep']);
  t.same(again.store.journal.pending(), [], 'journal finished');
}

t.test('a directory rename stopped after some copies is finished at the next mount (memory)', (t) => interruptedCopies(t, 'memory'));
t.test('a directory rename stopped after some copies is finished at the next mount (local)', (t) => interruptedCopies(t, 'local'));
t.test('a directory rename stopped after some copies is finished at the next mount (RGW)', (t) => interruptedCopies(t, 'rgw'));

t.test('retrying a failed directory rename in the same mount finishes it', async (t) => {
  const bucket = (await seedTree(t, 'memory'))!;
  const r = await rig(t, bucket);
  bucket.faults.inject({ op: 'copy', key: /^e\/f05\d$/, error: 'Transient' });
  await t.rejects(r.vfs.rename('/d', '/e'));
  bucket.faults.clear();
  await r.vfs.rename('/d', '/e');
  t.same(await allKeys(bucket.container), [...tree('e'), 'keep/me'].sort());
  t.same((await r.vfs.readdir('/')).names, ['e', 'keep']);
  t.equal((await r.vfs.readdir('/e')).names.length, FILES + 1);
});

t.test('a directory rename stopped during the deletes is finished at the next mount', async (t) => {
  const bucket = (await seedTree(t, 'memory'))!;
  const r = await rig(t, bucket);
  bucket.faults.inject({ op: 'deleteMany', error: 'Transient', times: 1 });
  await t.rejects(r.vfs.rename('/d', '/e'));
  const midway = await allKeys(bucket.container);
  t.ok([...tree('d'), ...tree('e')].every((key) => midway.includes(key)), 'every copy made, nothing deleted');
  await r.vfs.close();
  await r.remount();
  t.same(await allKeys(bucket.container), [...tree('e'), 'keep/me'].sort());
});

t.test('a journal that was never sealed moved nothing and is dropped', async (t) => {
  const bucket = (await seedTree(t, 'memory'))!;
  const r = await rig(t, bucket);
  const journal = r.vfs.store.journal.begin({ path: '/d', key: 'd/' }, { path: '/e', key: 'e/' }, r.clock.now());
  r.vfs.store.journal.addItems(journal.id, [{ key: 'd/f000', size: 6 }]);
  await r.vfs.close();
  const again = await r.remount();
  t.same(again.store.journal.pending(), []);
  t.same(await allKeys(bucket.container), [...tree('d'), 'keep/me'].sort(), 'the bucket is untouched');
});

t.test('an open file below a renamed directory moves with it', async (t) => {
  const bucket = (await seedTree(t, 'memory'))!;
  const r = await rig(t, bucket);
  const fh = await r.vfs.create('/d/new', 0o644, O_WRONLY | O_CREAT);
  await r.vfs.write('/d/new', fh, Buffer.from('fresh'), 5, 0);
  await r.vfs.rename('/d', '/e');
  t.equal((await r.vfs.getattr('/e/new')).size, 5, 'the unsaved file shows under the new name');
  await r.vfs.release('/e/new', fh);
  const keys = await allKeys(bucket.container);
  t.ok(keys.includes('e/new'));
  t.notOk(keys.some((key) => key.startsWith('d/')), 'nothing left or resurrected under the old name');
});

/** Copies objects over 4 bytes part by part, as S3 does above 5 GiB: the copy gets a multipart etag. */
class SmallCopyLimitBackend extends MemoryBackend {
  override readonly limits: Limits = { ...S3_LIMITS, maxCopySize: 4 };
}

t.test('an open file below a renamed directory keeps reading when the copy changed its etag', async (t) => {
  const backend = new SmallCopyLimitBackend();
  await backend.createBucket('repin-bucket');
  const faults = new FaultBackend(backend);
  const bucket: Bucket = { name: 'memory', backend, memory: backend, faults, container: new Driver(faults).container('repin-bucket') };
  await seed(bucket.container, { 'd/f': 'hello, world', 'd/g': 'untouched' });
  const before = await bucket.container.head('d/f');
  const r = await rig(t, bucket);
  const fh = await r.vfs.open('/d/f', O_RDONLY);
  await r.vfs.rename('/d', '/e');
  const after = await bucket.container.head('e/f');
  t.not(after.etag, before.etag, 'the multipart copy changed the etag');
  const buffer = Buffer.alloc(32);
  const n = await r.vfs.read('/e/f', fh, buffer, buffer.length, 0);
  t.equal(buffer.subarray(0, n).toString(), 'hello, world', 'the open file reads the copy (no ESTALE)');
  await r.vfs.release('/e/f', fh);
  t.same(await allKeys(bucket.container), ['e/f', 'e/g']);
});

t.test('a cache directory made for another remote is wiped', async (t) => {
  const first = (await freshBucket(t, 'memory'))!;
  await seed(first.container, { only: 'in the first bucket' });
  const r = await rig(t, first);
  await r.vfs.readdir('/');
  await r.vfs.close();
  const second = (await freshBucket(t, 'memory'))!;
  const logs: string[] = [];
  const other = await createFileSystem({
    ...OPTIONS, container: second.container, prefix: '', cacheDir: r.cacheDir, now: r.clock.now, log: (_l, m) => logs.push(m),
  });
  t.teardown(() => other.close());
  await t.rejects(other.getattr('/only'), { code: 'ENOENT' }, 'nothing of the first bucket is served');
  t.equal(logs.filter((m) => /belonged to .*: wiped/.test(m)).length, 1, 'one log line');
});
