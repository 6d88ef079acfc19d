/**
 * `bucketfs check`, `invalidate` and `cache clean` on a real mount of an RGW
 * bucket seeded with trouble: keys that cannot be file names, an object
 * hidden by a directory of the same name, an orphaned multipart upload
 * (made with the driver), and an object changed behind the mount's back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { mount, mountTargets, sh, type MountTarget } from '../mount/harness.js';
import type { CheckReport } from '../../daemon/control/protocol.js';
import { controlEnv } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LONG = `long/${'x'.repeat(300)}`;

const rgw = (await mountTargets(t)).find((target): target is MountTarget => target.name === 'rgw' && 'remote' in target);
if (rgw === undefined) {
  t.pass('SKIPPED: RGW is not available (see the SKIPPED line above)');
} else {
  const bucket = await openRemote(rgw.remote, { env: rgw.env });
  t.teardown(() => bucket.close());
  const name = bucket.container.name;
  for (const key of ['ok.txt', 'a//b.txt', LONG, 'f', 'f/g.txt']) await bucket.container.put(key, Buffer.from('first'));
  const backend = bucket.driver.backend;
  const uploadId = await backend.createMultipart(name, 'orphan.bin');
  await backend.uploadPart(name, 'orphan.bin', uploadId, 1, Buffer.alloc(1024, 1));
  const c = await controlEnv(t, rgw.env);
  // Our own cache dir: the harness deletes the ones it makes at unmount, and cache clean must find this one.
  const cacheDir = await mkdtemp(join(tmpdir(), 'bucketfs-cache-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const m = await mount(rgw.remote, { env: c.env, cacheDir });
  t.teardown(() => m.unmount());
  const size = async () => (await sh(`stat -c %s ${m.dir}/ok.txt`)).stdout.trim();

  t.test('check of a mount finds hostile keys, the orphan and the stale cache entry', async (t) => {
    t.equal(await size(), '5', 'the mount has seen ok.txt');
    await bucket.container.put('ok.txt', Buffer.from('changed elsewhere'));
    const r = await c.cli(['check', m.dir, '--json', '--min-age', '0']);
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, /^bucketfs: check found 5 problems in s3:\/\/mount-\w+\/\n$/);
    const report = JSON.parse(r.stdout) as CheckReport;
    t.equal(report.keysScanned, 5);
    t.same(report.hostileKeys.map((k) => k.key).sort(), ['a//b.txt', 'f', LONG].sort());
    t.match(report.hostileKeys.find((k) => k.key === 'a//b.txt'), { reason: /empty path segment/ });
    t.match(report.hostileKeys.find((k) => k.key === 'f'), { reason: 'hidden by a directory of the same name' });
    t.match(report.hostileKeys.find((k) => k.key === LONG), { reason: /longer than 255 bytes/ });
    t.match(report.orphanUploads, [{ key: 'orphan.bin', uploadId }]);
    t.match(report.cache?.disagreements, [{ path: '/ok.txt', key: 'ok.txt', problem: /^cached etag \w+, the bucket has \w+$/, cached: { size: 5 }, bucket: { size: 17 } }]);
    const text = await c.cli(['check', m.dir]);
    t.equal(text.code, 1);
    t.match(text.stdout, /^checked s3:\/\/mount-\w+\/: 5 keys, \d+ cached entries\nkeys that cannot be shown as files: 3\n/);
    t.match(text.stdout, /\n {2}"a\/\/b\.txt" {2}cannot be a file name: empty path segment/);
    t.notMatch(text.stdout, /orphan\.bin/, 'a fresh upload is not an orphan under the default --min-age');
    t.match(text.stdout, /\ncached entries the bucket disagrees with: 1 .*\n {2}\/ok\.txt {2}cached etag/);
  });

  t.test('invalidate shows the change at once; check then agrees', async (t) => {
    t.equal(await size(), '5', 'the cached size, within the TTL');
    const r = await c.cli(['invalidate', `${m.dir}/ok.txt`]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^invalidated \/ok\.txt on \S+: \d+ cached entries, \d+ cached chunks dropped\n$/);
    await sleep(1200); // the kernel's own attribute cache (1 s)
    t.equal(await size(), '17', 'the new size, long before the TTL');
    t.equal((await sh(`cat ${m.dir}/ok.txt`)).stdout, 'changed elsewhere');
    const json = await c.cli(['invalidate', m.dir, '/', '--json']);
    t.equal(json.code, 0, json.stderr);
    t.match(JSON.parse(json.stdout), { mountpoint: m.dir, path: '/', entries: Number, chunks: Number });
    const report = JSON.parse((await c.cli(['check', m.dir, '--json', '--min-age', '0'])).stdout) as CheckReport;
    t.same(report.cache?.disagreements, []);
  });

  t.test('--abort-orphans aborts the orphaned upload', async (t) => {
    const r = await c.cli(['check', m.dir, '--json', '--min-age', '0', '--abort-orphans']);
    t.equal(r.code, 1, 'the hostile keys are still there');
    t.match((JSON.parse(r.stdout) as CheckReport).orphanUploads, [{ key: 'orphan.bin', aborted: true }]);
    t.same(await backend.listMultipartUploads(name, {}), [], 'gone from the bucket');
    const again = JSON.parse((await c.cli(['check', m.dir, '--json', '--min-age', '0'])).stdout) as CheckReport;
    t.same(again.orphanUploads, []);
  });

  t.test('check of a remote URL needs no mount; no cache section', async (t) => {
    const r = await c.cli(['check', rgw.remote, '--json']);
    t.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as CheckReport;
    t.equal(report.hostileKeys.length, 3);
    t.equal(report.cache, undefined);
    await bucket.container.deleteMany(['a//b.txt', 'f', LONG]);
    const clean = await c.cli(['check', rgw.remote]);
    t.equal(clean.code, 0, clean.stderr);
    t.match(clean.stdout, /^checked s3:\/\/mount-\w+\/: 2 keys\nno problems found\n$/);
  });

  t.test('invalidate and check name the problem when there is no mount', async (t) => {
    const r = await c.cli(['invalidate', `${c.runtime}/x`]);
    t.equal(r.code, 3);
    t.match(r.stderr, /^bucketfs: \S+ is not inside a bucketfs mount of this user/);
    const bad = await c.cli(['invalidate', m.dir, '../etc']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /^bucketfs: invalid path '\.\.\/etc' inside the mount/);
  });

  t.test('cache clean refuses a cache dir a daemon holds, then cleans it', async (t) => {
    const held = await c.cli(['cache', 'clean', '--cache-dir', m.cacheDir]);
    t.equal(held.code, 5);
    t.match(held.stderr, new RegExp(`^bucketfs: cache dir ${m.cacheDir} is in use by bucketfs process ${m.pid} \\(mounted on ${m.dir}\\); unmount it first\\n$`));
    const neither = await c.cli(['cache', 'clean']);
    t.equal(neither.code, 2);
    const stranger = await c.cli(['cache', 'clean', '--cache-dir', c.runtime]);
    t.equal(stranger.code, 2, 'a directory that is no cache dir is never deleted');
    t.match(stranger.stderr, /does not look like a bucketfs cache dir/);
    await m.unmount();
    t.same(await m.exit, { code: 0, signal: null });
    const cleaned = await c.cli(['cache', 'clean', '--cache-dir', m.cacheDir, '--json']);
    t.equal(cleaned.code, 0, cleaned.stderr);
    t.same(JSON.parse(cleaned.stdout), { cacheDir: m.cacheDir, removed: true });
    t.equal((await sh(`test -e ${m.cacheDir}`)).code, 1, 'the cache dir is gone');
  });
}
