/**
 * Namespace operations, each checked in the bucket itself (the objects, their
 * metadata) and through a second mount with an empty cache (what another
 * machine sees), on the memory backend, the local backend and Ceph RGW:
 * mkdir/rmdir, unlink (with the parent marker), symlinks, chmod/chown/utimens
 * and xattrs through object metadata, renames of files and directories, and
 * the refusals (errno) of each.
 */
import t from 'tap';
import type { Test } from 'tap';
import { DIRECTORY_CONTENT_TYPE, S_IFLNK } from '../../vfs/object-format.js';
import { O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY, XATTR_CREATE, XATTR_REPLACE } from '../../vfs/types.js';
import type { Vfs } from '../../vfs/vfs.js';
import { allKeys, freshBucket, rig, scratchDir, seed, type Rig, type TargetName } from './namespace-harness.js';

const TARGETS: TargetName[] = ['memory', 'local', 'rgw'];

/** A second mount of the same bucket with its own, empty cache: it sees only what is in the bucket. */
async function elsewhere(t: Test, r: Rig): Promise<Vfs> {
  return r.remount({ cacheDir: await scratchDir(t, 'bucketfs-vfs-elsewhere-') });
}

async function writeFile(vfs: Vfs, path: string, content: string, mode = 0o644): Promise<void> {
  const fh = await vfs.create(path, mode, O_WRONLY | O_CREAT);
  const data = Buffer.from(content);
  await vfs.write(path, fh, data, data.length, 0);
  await vfs.flush(path, fh);
  await vfs.release(path, fh);
}

async function readFile(vfs: Vfs, path: string): Promise<string> {
  const size = (await vfs.getattr(path)).size;
  const fh = await vfs.open(path, O_RDONLY);
  const buffer = Buffer.alloc(size);
  const n = await vfs.read(path, fh, buffer, size, 0);
  await vfs.release(path, fh);
  return buffer.subarray(0, n).toString();
}

async function directories(t: Test, r: Rig): Promise<void> {
  const { vfs, container } = r;
  await vfs.mkdir('/d', 0o750);
  const marker = await container.head('d/');
  t.equal(marker.contentType, DIRECTORY_CONTENT_TYPE, 'mkdir writes an s3fs-style marker');
  t.equal(marker.metadata?.['mode'], String(0o40750));
  await t.rejects(vfs.mkdir('/d', 0o755), { code: 'EEXIST' });
  await t.rejects(vfs.mkdir('/missing/x', 0o755), { code: 'ENOENT' });
  await writeFile(vfs, '/d/f', 'data');
  await t.rejects(vfs.mkdir('/d/f/x', 0o755), { code: 'ENOTDIR' });
  await t.rejects(vfs.rmdir('/d'), { code: 'ENOTEMPTY' });
  await t.rejects(vfs.rmdir('/d/f'), { code: 'ENOTDIR' });
  await t.rejects(vfs.unlink('/d'), { code: 'EISDIR' });
  const other = await elsewhere(t, r);
  t.equal((await other.getattr('/d')).mode, 0o40750, 'another mount sees the mode');
  await vfs.unlink('/d/f');
  await vfs.rmdir('/d');
  t.same(await allKeys(container), [], 'marker and file gone');
  await t.rejects(vfs.getattr('/d'), { code: 'ENOENT' });
  t.same((await vfs.readdir('/')).names, []);
}

async function parentMarker(t: Test, r: Rig): Promise<void> {
  await seed(r.container, { 'p/q/only': 'x' });
  await r.vfs.unlink('/p/q/only');
  t.same(await allKeys(r.container), ['p/q/'], 'removing the last entry of an implicit directory leaves a marker');
  t.same((await (await elsewhere(t, r)).readdir('/p')).names, ['q'], 'so the directory stays visible elsewhere');
  await r.vfs.rmdir('/p/q');
  t.same(await allKeys(r.container), ['p/'], 'and so on up');
}

async function symlinks(t: Test, r: Rig): Promise<void> {
  await r.vfs.symlink('../target/file', '/link');
  const info = await r.container.head('link');
  t.equal(Number(info.metadata?.['mode']), S_IFLNK | 0o777, 's3fs convention: S_IFLNK mode');
  t.equal((await r.container.getRange('link', { start: 0, end: info.size })).toString(), '../target/file', 'body is the target');
  t.equal(await r.vfs.readlink('/link'), '../target/file');
  const other = await elsewhere(t, r);
  t.equal((await other.getattr('/link')).mode, S_IFLNK | 0o777);
  t.equal(await other.readlink('/link'), '../target/file', 'read from the bucket');
  await t.rejects(r.vfs.symlink('x', '/link'), { code: 'EEXIST' });
  await t.rejects(r.vfs.readlink('/'), { code: 'EINVAL' });
}

async function attributes(t: Test, r: Rig): Promise<void> {
  const { vfs, container } = r;
  await writeFile(vfs, '/f', 'content');
  await vfs.setxattr('/f', 'user.keep', Buffer.from('me'), 0);
  await vfs.chmod('/f', 0o600);
  await vfs.chown('/f', 123, 0xffffffff);
  await vfs.utimens('/f', 1_000_000_000_000_000_001n, 1_100_000_000_123_456_789n);
  const meta = (await container.head('f')).metadata ?? {};
  t.equal(meta['mode'], String(0o100600));
  t.equal(meta['uid'], '123');
  t.equal(meta['gid'], '1000', 'gid unchanged (-1)');
  t.equal(meta['mtime'], '1100000000.123456789');
  t.equal(meta['atime'], '1000000000.000000001');
  t.equal(meta['xattr-user.keep'], 'me', 'other metadata entries survive a self-copy');
  t.equal(await readFile(vfs, '/f'), 'content', 'the content survives too');
  const stat = await (await elsewhere(t, r)).getattr('/f');
  t.equal(stat.mode, 0o100600);
  t.equal(stat.uid, 123);
  t.equal(stat.mtimeNs, 1_100_000_000_123_456_789n);
  await seed(container, { 'imp/x': '1' });
  await vfs.chmod('/imp', 0o700);
  t.equal((await container.head('imp/')).metadata?.['mode'], String(0o40700), 'an implicit directory gets a marker to hold its mode');
  await t.rejects(vfs.chmod('/none', 0o600), { code: 'ENOENT' });
}

async function xattrs(t: Test, r: Rig): Promise<void> {
  const { vfs, container } = r;
  await writeFile(vfs, '/x', 'x');
  await vfs.setxattr('/x', 'user.plain', Buffer.from('value'), 0);
  await vfs.setxattr('/x', 'user.Bin Ary', Buffer.from([0, 1, 255]), XATTR_CREATE);
  await t.rejects(vfs.setxattr('/x', 'user.plain', Buffer.from('v2'), XATTR_CREATE), { code: 'EEXIST' });
  await t.rejects(vfs.setxattr('/x', 'user.absent', Buffer.from('v'), XATTR_REPLACE), { code: 'ENODATA' });
  await vfs.setxattr('/x', 'user.plain', Buffer.from('v2'), XATTR_REPLACE);
  await t.rejects(vfs.setxattr('/x', 'security.selinux', Buffer.from('v'), 0), { code: 'ENOTSUP' });
  await t.rejects(vfs.getxattr('/x', 'trusted.a'), { code: 'ENOTSUP' });
  await t.rejects(vfs.setxattr('/x', 'user.big', Buffer.alloc(3000, 0x61), 0), { code: 'E2BIG' });
  const other = await elsewhere(t, r);
  t.same((await other.listxattr('/x')).sort(), ['user.Bin Ary', 'user.plain'], 'stored in the object: seen elsewhere');
  t.same(await other.getxattr('/x', 'user.Bin Ary'), Buffer.from([0, 1, 255]));
  t.equal((await other.getxattr('/x', 'user.plain')).toString(), 'v2');
  const etag = (await container.head('x')).etag;
  t.equal((await vfs.getxattr('/x', 'user.bucketfs.etag')).toString(), etag, 'virtual etag readable');
  await t.rejects(vfs.setxattr('/x', 'user.bucketfs.etag', Buffer.from('e'), 0), { code: 'EPERM' });
  await vfs.removexattr('/x', 'user.plain');
  await t.rejects(vfs.removexattr('/x', 'user.plain'), { code: 'ENODATA' });
  await t.rejects(vfs.getxattr('/x', 'user.plain'), { code: 'ENODATA' });
  t.same(await vfs.listxattr('/x'), ['user.Bin Ary']);
}

async function renames(t: Test, r: Rig): Promise<void> {
  const { vfs, container } = r;
  await writeFile(vfs, '/a', 'AAA', 0o640);
  const ino = (await vfs.getattr('/a')).ino;
  await vfs.rename('/a', '/b');
  t.same(await allKeys(container), ['b']);
  t.equal((await container.head('b')).metadata?.['mode'], String(0o100640), 'metadata travels with the copy');
  t.equal((await vfs.getattr('/b')).ino, ino, 'the inode number follows the name');
  t.equal(await readFile(vfs, '/b'), 'AAA');
  await writeFile(vfs, '/c', 'C');
  await vfs.rename('/c', '/b');
  t.equal(await readFile(vfs, '/b'), 'C', 'a rename replaces an existing file');
  await seed(container, { 'tree/x': '1', 'tree/sub/y': '2', 'tree/sub/': '', 'full/z': '3' });
  await vfs.mkdir('/empty', 0o755);
  await t.rejects(vfs.rename('/b', '/tree'), { code: 'EISDIR' });
  await t.rejects(vfs.rename('/tree', '/b'), { code: 'ENOTDIR' });
  await t.rejects(vfs.rename('/tree', '/full'), { code: 'ENOTEMPTY' });
  await t.rejects(vfs.rename('/tree', '/tree/sub/inside'), { code: 'EINVAL' });
  await t.rejects(vfs.rename('/none', '/other'), { code: 'ENOENT' });
  const subIno = (await vfs.getattr('/tree/sub')).ino;
  await vfs.rename('/tree', '/empty');
  t.same(await allKeys(container), ['b', 'empty/', 'empty/sub/', 'empty/sub/y', 'empty/x', 'full/z']);
  t.equal((await vfs.getattr('/empty/sub')).ino, subIno, 'inode numbers kept below a moved directory');
  t.same((await vfs.readdir('/empty')).names, ['sub', 'x']);
  await t.rejects(vfs.getattr('/tree'), { code: 'ENOENT' });
  t.same((await (await elsewhere(t, r)).readdir('/empty/sub')).names, ['y']);
}

async function openFiles(t: Test, r: Rig): Promise<void> {
  const { vfs, container } = r;
  await writeFile(vfs, '/o', 'old');
  await t.rejects(vfs.create('/o', 0o644, O_WRONLY | O_CREAT | O_EXCL), { code: 'EEXIST' });
  await t.rejects(vfs.open('/', O_RDONLY), { code: 'EISDIR' });
  const fh = await vfs.create('/w', 0o600, O_RDWR | O_CREAT);
  t.same(await allKeys(container), ['o'], 'create writes no placeholder object');
  await vfs.write('/w', fh, Buffer.from('first '), 6, 0);
  t.equal((await vfs.getattr('/w')).size, 6, 'getattr of an open file shows its local size');
  await vfs.chmod('/w', 0o640);
  await vfs.rename('/w', '/moved');
  await vfs.write('/moved', fh, Buffer.from('second'), 6, 6);
  await vfs.release('/moved', fh);
  t.same(await allKeys(container), ['moved', 'o'], 'an open dirty file uploads under its new name only');
  t.equal((await container.getRange('moved', { start: 0, end: 12 })).toString(), 'first second');
  t.equal((await container.head('moved')).metadata?.['mode'], String(0o100640), 'chmod while open rides on the upload');
  await vfs.truncate('/o', 1);
  t.equal((await container.getRange('o', { start: 0, end: 1 })).toString(), 'o');
  t.equal((await (await elsewhere(t, r)).getattr('/o')).size, 1);
}

const SCENARIOS: [string, (t: Test, r: Rig) => Promise<void>][] = [
  ['mkdir and rmdir', directories],
  ['removing the last entry keeps the parent', parentMarker],
  ['symlinks', symlinks],
  ['chmod, chown, utimens through object metadata', attributes],
  ['xattrs through object metadata', xattrs],
  ['renames', renames],
  ['open files', openFiles],
];

for (const target of TARGETS) {
  t.test(`namespace operations on ${target}`, async (t) => {
    for (const [name, scenario] of SCENARIOS) {
      await t.test(name, async (t) => {
        const bucket = await freshBucket(t, target);
        if (bucket === undefined) return;
        await scenario(t, await rig(t, bucket));
      });
    }
  });
}

t.test('read-only mounts, hard links, statfs', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { f: 'x' });
  const r = await rig(t, bucket, { readOnly: true });
  await t.rejects(r.vfs.mkdir('/d', 0o755), { code: 'EROFS' });
  await t.rejects(r.vfs.create('/n', 0o644, O_WRONLY | O_CREAT), { code: 'EROFS' });
  await t.rejects(r.vfs.open('/f', O_RDWR), { code: 'EROFS' });
  await t.rejects(r.vfs.unlink('/f'), { code: 'EROFS' });
  await t.rejects(r.vfs.link('/f', '/g'), { code: 'EPERM' });
  const fh = await r.vfs.open('/f', O_RDONLY);
  await r.vfs.release('/f', fh);
  const fs = await r.vfs.statfs('/');
  t.equal(fs.namemax, 255);
  t.ok(fs.blocks > 2 ** 31 && fs.blocks < 2 ** 32, 'plenty, within a Uint32');
});

t.test('a renamed directory keeps the exact attributes of its files once listed again', async (t) => {
  const bucket = (await freshBucket(t, 'memory'))!;
  await seed(bucket.container, { 'd/f': 'x' }, { mode: String(0o100600) });
  const r = await rig(t, bucket);
  t.equal((await r.vfs.getattr('/d/f')).mode, 0o100600, 'known exactly from a HEAD');
  // The copies get a later Last-Modified (compared to the second); their etags stay.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await r.vfs.rename('/d', '/e');
  const { attrs } = await r.vfs.readdir('/e');
  t.equal(attrs[0]!.mode, 0o100600, 'the listing of the new name keeps the exact mode');
});
