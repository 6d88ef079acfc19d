/**
 * Adversarial tests of the local backend's one hard rule: nothing outside the
 * bucket is ever read, written or deleted. Keys that look like paths
 * ('../x', 'a/../../x', '/etc/passwd', NUL bytes) either round-trip as
 * ordinary keys stored inside the bucket or are refused; links planted in the
 * bucket (to a directory or a file outside, in place of a bucket, in place of
 * the internal directory) are never followed by any operation.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { isStorageError } from '../../drivers/errors.js';
import { LocalBackend } from '../../drivers/local.js';
import { readAll } from '../conformance/helpers.js';

const BUCKET = 'bucket';
const SECRET = 'secret outside the bucket';

interface World {
  root: string;
  outside: string;
  backend: LocalBackend;
}

/** A root with the bucket, a sibling bucket holding a file, and a directory outside the root. */
async function world(t: Test): Promise<World> {
  const base = await mkdtemp(join(tmpdir(), 'bucketfs-escape-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'secret'), SECRET);
  await writeFile(join(outside, 'dir', 'secret'), SECRET);
  await mkdir(join(root, 'other'), { recursive: true });
  await writeFile(join(root, 'other', 'secret'), SECRET);
  const backend = new LocalBackend({ root });
  t.teardown(() => backend.close());
  await backend.createBucket(BUCKET);
  return { root, outside, backend };
}

/** Every path under `dir` with its content (files), link target (links) or '/' (directories). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const stat = await lstat(path);
    if (stat.isSymbolicLink()) result[path] = `-> ${await readlink(path)}`;
    else if (stat.isDirectory()) Object.assign(result, { [path]: '/' }, await snapshot(path));
    else result[path] = await readFile(path, 'utf8');
  }
  return result;
}

/** What an operation did: its value, or the kind/reason of its StorageError. */
async function outcome(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return 'ok';
  } catch (e) {
    return isStorageError(e) ? `${e.kind}/${e.reason ?? ''}` : `untyped: ${String(e)}`;
  }
}

/** Two rounds, since '..' the file and '../x' (in the directory '..') cannot both exist: that is a KeyConflict. */
const PATHLIKE_ROUNDS = [
  ['../x', 'a/../../x', '../other/secret', '/etc/passwd', '//x', 'a//b', './x', 'a/\0b', '\0', '../', '.bucketfs', '.bucketfs/x'],
  ['..', '.', '/', 'a/..', 'b/../..'],
];

t.test('path-like keys never reach outside the bucket', async (t) => {
  const { root, outside, backend } = await world(t);
  const before = await snapshot(outside);
  const otherBefore = await snapshot(join(root, 'other'));
  for (const key of ['../other/secret', '/etc/passwd', '../../outside/secret', 'a/../../other/secret']) {
    t.equal(await outcome(() => backend.head(BUCKET, key)), 'NotFound/NoSuchKey', `head ${JSON.stringify(key)} finds nothing`);
    t.equal(await outcome(() => backend.get(BUCKET, key)), 'NotFound/NoSuchKey', `get ${JSON.stringify(key)} reads nothing`);
  }
  const stored: string[] = [];
  for (const round of PATHLIKE_ROUNDS) stored.push(...(await storeRound(t, backend, round)));
  t.same(await readdir(root).then((n) => n.sort()), [BUCKET, 'other'], 'nothing was created beside the bucket');
  await backend.copy({ bucket: BUCKET, key: '..' }, { bucket: BUCKET, key: 'c/../other/secret' });
  const uploadId = await backend.createMultipart(BUCKET, 'm/../../x');
  const part = await backend.uploadPart(BUCKET, 'm/../../x', uploadId, 1, Buffer.from('mp'));
  await backend.completeMultipart(BUCKET, 'm/../../x', uploadId, [part]);
  await backend.append(BUCKET, 'p/../appended', 0, Buffer.from('a'));
  const written = ['c/../other/secret', 'm/../../x', 'p/../appended'];
  t.same((await backend.listPage(BUCKET)).objects.map((o) => o.key), ['.', '..', '/', 'a/..', 'b/../..', ...written],
    'copy, multipart and append store inside too');
  await backend.deleteMany(BUCKET, [...stored.slice(-5), ...written]);
  t.same(await snapshot(outside), before, 'nothing outside the root changed');
  t.same(await snapshot(join(root, 'other')), otherBefore, 'the sibling bucket is untouched');
  t.same(await readdir(join(root, BUCKET)), ['.bucketfs'], 'the bucket holds nothing but its internal directory');
});

/** Puts each key, checks that the stored ones round-trip and list exactly; deletes them again. */
async function storeRound(t: Test, backend: LocalBackend, round: string[]): Promise<string[]> {
  const stored: string[] = [];
  for (const key of round) {
    const result = await outcome(() => backend.put(BUCKET, key, Buffer.from(`body of ${key}`)));
    if (result === 'ok') stored.push(key);
    else t.equal(result, 'Other/InvalidKey', `${JSON.stringify(key)} is refused as InvalidKey`);
  }
  t.notOk(stored.some((k) => k.startsWith('.bucketfs')), 'the internal directory is never a key');
  t.equal(stored.length, round.filter((k) => !k.startsWith('.bucketfs')).length, 'every other key is stored');
  for (const key of stored) {
    const got = await backend.get(BUCKET, key);
    t.equal((await readAll(got.body)).toString(), `body of ${key}`, `${JSON.stringify(key)} round-trips`);
  }
  const listed = (await backend.listPage(BUCKET)).objects.map((o) => o.key);
  t.same([...listed].sort(), [...stored].sort(), 'the listing shows exactly the stored keys');
  if (round !== PATHLIKE_ROUNDS.at(-1)) await backend.deleteMany(BUCKET, stored);
  return stored;
}

t.test('bucket names that are paths are refused', async (t) => {
  const { root, backend } = await world(t);
  for (const bucket of ['..', '.', '../root', 'a/b', '', '.hidden', 'x\0y', '/']) {
    t.equal(await outcome(() => backend.createBucket(bucket)), 'Other/InvalidBucketName', `createBucket ${JSON.stringify(bucket)}`);
    t.equal(await outcome(() => backend.put(bucket, 'k', Buffer.from('x'))), 'Other/InvalidBucketName', `put into ${JSON.stringify(bucket)}`);
    t.equal(await outcome(() => backend.listPage(bucket)), 'Other/InvalidBucketName', `listPage of ${JSON.stringify(bucket)}`);
  }
  t.same(await readdir(root).then((n) => n.sort()), [BUCKET, 'other'], 'no directory was made');
});

t.test('links planted in the bucket are never followed', async (t) => {
  const { root, outside, backend } = await world(t);
  const bucketDir = join(root, BUCKET);
  await symlink(join(outside, 'dir'), join(bucketDir, 'dirlink'));
  await symlink(join(outside, 'secret'), join(bucketDir, 'filelink'));
  await mkdir(join(bucketDir, 'real'));
  await symlink(outside, join(bucketDir, 'real', 'up'));
  const before = await snapshot(outside);

  t.same((await backend.listPage(BUCKET)).objects, [], 'links are not listed, and a directory holding only a link lists nothing');
  for (const key of ['dirlink/secret', 'filelink', 'real/up/secret', 'real/up/dir/secret']) {
    t.equal(await outcome(() => backend.head(BUCKET, key)), 'NotFound/NoSuchKey', `head ${key}`);
    t.equal(await outcome(() => backend.get(BUCKET, key)), 'NotFound/NoSuchKey', `get ${key}`);
    t.equal(await outcome(() => backend.copy({ bucket: BUCKET, key }, { bucket: BUCKET, key: 'stolen' })), 'NotFound/NoSuchKey', `copy from ${key}`);
    t.equal(await outcome(() => backend.getTags(BUCKET, key)), 'NotFound/NoSuchKey', `getTags ${key}`);
    t.equal(await outcome(() => backend.putTags(BUCKET, key, { a: 'b' })), 'NotFound/NoSuchKey', `putTags ${key}`);
  }
  for (const key of ['dirlink/new', 'dirlink/secret', 'filelink', 'real/up/new', 'real/up/dir/deeper/new', 'dirlink/']) {
    t.equal(await outcome(() => backend.put(BUCKET, key, Buffer.from('overwrite'))), 'Other/Symlink', `put ${key} is refused`);
    t.equal(await outcome(() => backend.append(BUCKET, key, 0, Buffer.from('x'))), key.endsWith('/') ? 'Other/InvalidKey' : 'Other/Symlink', `append ${key}`);
    await backend.delete(BUCKET, key);
  }
  const uploadId = await backend.createMultipart(BUCKET, 'dirlink/mp');
  const part = await backend.uploadPart(BUCKET, 'dirlink/mp', uploadId, 1, Buffer.from('mp'));
  t.equal(await outcome(() => backend.completeMultipart(BUCKET, 'dirlink/mp', uploadId, [part])), 'Other/Symlink', 'a multipart upload through a link is refused');
  await backend.abortMultipart(BUCKET, 'dirlink/mp', uploadId);
  await backend.put(BUCKET, 'inside', Buffer.from('inside'));
  t.equal(await outcome(() => backend.copy({ bucket: BUCKET, key: 'inside' }, { bucket: BUCKET, key: 'dirlink/copied' })), 'Other/Symlink', 'a copy into a link is refused');
  t.same(await backend.deleteMany(BUCKET, ['filelink', 'dirlink/secret', 'real/up/secret']).then((r) => r.errors), [], 'deleteMany through links succeeds, doing nothing');
  t.same(await snapshot(outside), before, 'nothing outside the bucket was read into it, written or deleted');
  t.equal(await readlink(join(bucketDir, 'filelink')), join(outside, 'secret'), 'the planted links themselves are left alone');
});

t.test('a link in place of a bucket or of the internal directory', async (t) => {
  const { root, outside, backend } = await world(t);
  await symlink(join(outside, 'dir'), join(root, 'linkbucket'));
  await mkdir(join(root, 'b2'));
  await symlink(join(outside, 'dir'), join(root, 'b2', '.bucketfs'));
  const before = await snapshot(outside);
  t.notOk((await backend.listBuckets()).some((b) => b.name === 'linkbucket'), 'a linked bucket is not listed');
  t.equal(await outcome(() => backend.headBucket('linkbucket')), 'NotFound/NoSuchBucket', 'nor found');
  t.equal(await outcome(() => backend.get('linkbucket', 'secret')), 'NotFound/NoSuchBucket', 'nor read through');
  t.equal(await outcome(() => backend.put('linkbucket', 'new', Buffer.from('x'))), 'NotFound/NoSuchBucket', 'nor written through');
  t.equal(await outcome(() => backend.listPage('linkbucket')), 'NotFound/NoSuchBucket', 'nor listed through');
  t.equal(await outcome(() => backend.createBucket('linkbucket')), 'AlreadyExists/BucketAlreadyExists', 'nor adopted as a bucket');
  t.equal(await outcome(() => backend.deleteBucket('linkbucket')), 'NotFound/NoSuchBucket', 'nor deleted');
  t.equal(await outcome(() => backend.put('b2', 'k', Buffer.from('x'))), 'Other/Symlink', 'a linked internal directory stops writes');
  t.equal(await outcome(() => backend.createMultipart('b2', 'k')), 'Other/Symlink', 'and multipart uploads');
  t.same(await backend.listMultipartUploads('b2'), [], 'uploads are not read through it');
  await backend.deleteBucket('b2');
  t.same(await snapshot(outside), before, 'nothing outside the root changed, even when the bucket holding the link was deleted');
});
