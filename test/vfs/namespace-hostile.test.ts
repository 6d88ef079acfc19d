/**
 * Keys other tools can write that are not file names: `a//b`, `./x`, `../y`,
 * a 300-byte segment, an object `f` beside keys under `f/`, control
 * characters. Listings never crash or hang on them; they show what
 * SEMANTICS.md documents: unshowable names skipped with one warning per key
 * per mount, the directory winning over the file, any other byte shown as is.
 */
import t from 'tap';
import type { Test } from 'tap';
import { classifyKey } from '../../vfs/namespace/keys.js';
import { freshBucket, rig, seed, OPTIONS, type TargetName } from './namespace-harness.js';

const LONG = 'L'.repeat(300);
const CONTROL = 'ctl\u0001\u007f\nname';

const HOSTILE: Record<string, string> = {
  'a//b': '1',
  './x': '2',
  '../y': '3',
  [`${LONG}/z`]: '4',
  [LONG]: '5',
  f: '6',
  'f/g': '77',
  [CONTROL]: '8',
  ok: '9',
};

async function hostileListing(t: Test, target: TargetName): Promise<void> {
  const bucket = await freshBucket(t, target);
  if (bucket === undefined) return;
  await seed(bucket.container, HOSTILE);
  const r = await rig(t, bucket);
  const root = await r.vfs.readdir('/');
  t.same(root.names, ['a', CONTROL, 'f', 'ok'], 'showable names only, control characters as they are');
  t.equal(root.attrs[2]!.mode & 0o170000, 0o040000, 'f is the directory, not the object f');
  t.same((await r.vfs.readdir('/a')).names, [], 'a//b leaves a directory a with nothing to show');
  t.same((await r.vfs.readdir('/f')).names, ['g']);
  t.equal((await r.vfs.getattr('/f/g')).size, 2);
  t.equal((await r.vfs.getattr(`/${CONTROL}`)).size, 1);
  const warnings = r.logs.filter((l) => l.level === 'warn').map((l) => l.message);
  t.equal(warnings.length, 6, 'one warning per skipped key');
  t.match(warnings.join('\n'), /empty path segment/);
  t.match(warnings.join('\n'), /'\.' path segment/);
  t.match(warnings.join('\n'), /'\.\.' path segment/);
  t.match(warnings.join('\n'), /longer than 255 bytes/);
  t.match(warnings.join('\n'), /hidden by a directory of the same name: "f"/);
  r.clock.advance(OPTIONS.dirTtlMs);
  await r.vfs.readdir('/');
  await r.vfs.readdir('/a');
  t.equal(r.logs.filter((l) => l.level === 'warn').length, 6, 'no second warning for the same keys');
}

t.test('hostile keys on the memory backend', (t) => hostileListing(t, 'memory'));
t.test('hostile keys on Ceph RGW', (t) => hostileListing(t, 'rgw'));

t.test('classifyKey: each key as the listings show it (for bucketfs check)', async (t) => {
  t.same(classifyKey('p/a/b', 'p/'), { shown: true, path: '/a/b', kind: 'file' });
  t.same(classifyKey('p/a/', 'p/'), { shown: true, path: '/a', kind: 'dir' }, 'a directory marker');
  t.same(classifyKey('p/', 'p/'), { shown: true, path: '/', kind: 'dir' }, "the mount root's marker");
  t.same(classifyKey('p/old_$folder$', 'p/', 0), { shown: true, path: '/old', kind: 'dir' }, "s3fs's legacy folder object");
  t.same(classifyKey('p/old_$folder$', 'p/', 3), { shown: true, path: '/old_$folder$', kind: 'file' }, '... only when empty');
  t.same(classifyKey(CONTROL, ''), { shown: true, path: `/${CONTROL}`, kind: 'file' }, 'control characters are valid');
  t.same(classifyKey('q/x', 'p/'), { shown: false, reason: 'outside the mounted prefix "p/"' });
  t.same(classifyKey('a//b', ''), { shown: false, reason: 'empty path segment (a // in the key)' });
  t.same(classifyKey('a//', ''), { shown: false, reason: 'empty path segment (a // in the key)' });
  t.same(classifyKey('./x', ''), { shown: false, reason: "'.' path segment" });
  t.same(classifyKey('y/..', ''), { shown: false, reason: "'..' path segment" });
  t.same(classifyKey(`${LONG}/z`, ''), { shown: false, reason: 'segment longer than 255 bytes' });
  t.same(classifyKey('n\u0000ul', ''), { shown: false, reason: 'NUL byte in the name' });
});
