/**
 * The local backend: the shared conformance suite on a fresh temp root, and
 * the local-only guarantees: crash safety (multipart uploads survive a new
 * backend on the same root, leftovers of a crashed write are never listed,
 * a sidecar never lends its metadata to another file), files that other
 * programs drop in or change, the directory semantics of keys ending in
 * '/', and notifications of changes made outside the backend.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import type { Test } from 'tap';
import type { ChangeEvent, ListOptions } from '../../drivers/contract.js';
import { LocalBackend } from '../../drivers/local.js';
import { BucketLayout } from '../../drivers/local/layout.js';
import { identity, writeSidecar } from '../../drivers/local/sidecar.js';
import { runConformance } from '../conformance/index.js';
import { expectError, expectedListing, readAll } from '../conformance/helpers.js';

const BUCKET = 'bucket';

async function tempRoot(t: Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bucketfs-local-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function backendOn(t: Test, root: string): Promise<LocalBackend> {
  const backend = new LocalBackend({ root });
  t.teardown(() => backend.close());
  await backend.createBucket(BUCKET);
  return backend;
}

async function keys(backend: LocalBackend, options: ListOptions = {}): Promise<string[]> {
  const page = await backend.listPage(BUCKET, options);
  return [...page.objects.map((o) => o.key), ...page.prefixes.map((p) => `prefix:${p}`)];
}

async function body(backend: LocalBackend, key: string): Promise<string> {
  return (await readAll((await backend.get(BUCKET, key)).body)).toString();
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

void runConformance(t, 'local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bucketfs-local-conformance-'));
  const backend = new LocalBackend({ root });
  t.teardown(async () => {
    await backend.close();
    await rm(root, { recursive: true, force: true });
  });
  await backend.createBucket(BUCKET);
  let made = 0;
  return {
    name: 'local',
    backend,
    bucket: BUCKET,
    freshBucketName: () => `fresh-${++made}-${randomBytes(3).toString('hex')}`,
  };
});

t.test('a multipart upload survives a new backend on the same root', async (t) => {
  const root = await tempRoot(t);
  const first = await backendOn(t, root);
  const key = 'mp/restart';
  const uploadId = await first.createMultipart(BUCKET, key, { metadata: { origin: 'before' } });
  const part1 = await first.uploadPart(BUCKET, key, uploadId, 1, Buffer.alloc(first.limits.minPartSize, 1));
  await first.close();

  const second = await backendOn(t, root);
  const uploads = await second.listMultipartUploads(BUCKET);
  t.same(uploads.map((u) => [u.key, u.uploadId]), [[key, uploadId]], 'the new backend lists the upload');
  t.same((await second.listParts(BUCKET, key, uploadId)).map((p) => [p.partNumber, p.etag]), [[1, part1.etag]], 'and its part');
  const part2 = await second.uploadPart(BUCKET, key, uploadId, 2, Buffer.from('tail'));
  const done = await second.completeMultipart(BUCKET, key, uploadId, [part1, part2]);
  t.match(done.etag, /^[0-9a-f]{32}-2$/, 'completed with a multipart etag');
  const info = await second.head(BUCKET, key);
  t.same([info.size, info.metadata], [first.limits.minPartSize + 4, { origin: 'before' }], 'size and metadata from the manifest');
  t.same(await second.listMultipartUploads(BUCKET), [], 'the completed upload is gone');
});

t.test('leftovers of a crashed write are never listed', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  await backend.put(BUCKET, 'kept', Buffer.from('kept'));
  const internal = join(root, BUCKET, '.bucketfs');
  await writeFile(join(internal, 'tmp', 'crashed-temp-file'), 'half a body');
  // A sidecar whose data file never landed.
  const layout = new BucketLayout(root, BUCKET);
  await writeSidecar(layout, 'ghost', { ino: '1', size: 5, mtimeNs: '1', etag: md5('ghost'), metadata: { a: 'b' } });
  t.same(await keys(backend), ['kept'], 'only the real object is listed');
  await expectError(t, () => backend.head(BUCKET, 'ghost'), { kind: 'NotFound', reason: 'NoSuchKey' }, 'a sidecar alone is no object');
  await expectError(t, () => backend.put(BUCKET, '.bucketfs/x', Buffer.from('x')), { kind: 'Other', reason: 'InvalidKey' },
    'keys inside the internal directory are refused');
});

t.test('a sidecar never lends its metadata to another file', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  const layout = new BucketLayout(root, BUCKET);
  const put = await backend.put(BUCKET, 'k', Buffer.from('one'), { metadata: { version: 'one' } });
  const current = await lstat(join(root, BUCKET, 'k'), { bigint: true });
  const old = { ...identity(current), etag: put.etag, metadata: { version: 'one' } };
  const next = { ino: '999999999', size: 3, mtimeNs: '1', etag: md5('two'), metadata: { version: 'two' } };

  // A crash after the new record was written but before the data was renamed into place.
  await writeSidecar(layout, 'k', next, old);
  let info = await backend.head(BUCKET, 'k');
  t.same([info.etag, info.metadata], [put.etag, { version: 'one' }], 'the file in place keeps its own record');

  // The same crash with the old record lost: no metadata rather than the wrong one.
  await writeSidecar(layout, 'k', next);
  info = await backend.head(BUCKET, 'k');
  t.same(info.metadata, {}, 'the file shows no metadata');
  t.not(info.etag, next.etag, 'nor the other file’s etag');
  t.equal((await backend.head(BUCKET, 'k')).etag, info.etag, 'its stat-derived etag is stable');

  // A program rewrites the file behind the backend's back.
  await backend.put(BUCKET, 'k', Buffer.from('one'), { metadata: { version: 'one' } });
  await writeFile(join(root, BUCKET, 'k'), 'changed');
  info = await backend.head(BUCKET, 'k');
  t.same([info.size, info.metadata], [7, {}], 'a file changed behind the backend has no stale metadata');
  t.not(info.etag, put.etag, 'and a new etag');
  const listed = (await backend.listPage(BUCKET)).objects[0];
  t.equal(listed?.etag, info.etag, 'list and head agree on it');
  await utimes(join(root, BUCKET, 'k'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  t.not((await backend.head(BUCKET, 'k')).etag, info.etag, 'a touched file gets another etag');
});

t.test('objects are plain files, and plain files are objects', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  await backend.put(BUCKET, 'docs/readme.txt', Buffer.from('hello'));
  t.equal(await readFile(join(root, BUCKET, 'docs', 'readme.txt'), 'utf8'), 'hello', 'a put writes an ordinary file');

  await mkdir(join(root, BUCKET, 'dropped', 'deep'), { recursive: true });
  await writeFile(join(root, BUCKET, 'dropped', 'deep', 'file.bin'), 'dropped in');
  await mkdir(join(root, BUCKET, 'empty-dir'));
  t.same(await keys(backend), ['docs/readme.txt', 'dropped/deep/file.bin', 'empty-dir/'],
    'dropped files are listed; an empty directory is a marker; no phantom markers for implicit directories');
  t.equal(await body(backend, 'dropped/deep/file.bin'), 'dropped in', 'a dropped file reads back');
  const head = await backend.head(BUCKET, 'dropped/deep/file.bin');
  t.equal(head.etag, (await backend.head(BUCKET, 'dropped/deep/file.bin')).etag, 'its etag is deterministic');

  await expectError(t, () => backend.put(BUCKET, 'empty-dir/inside', Buffer.from('x'), { ifMatch: md5('x') }),
    { kind: 'NotFound', reason: 'NoSuchKey' }, 'a refused conditional put into it');
  t.same(await keys(backend, { prefix: 'empty-dir' }), ['empty-dir/'], 'leaves the user’s empty directory alone');
  await backend.put(BUCKET, 'empty-dir/inside', Buffer.from('x'));
  await backend.delete(BUCKET, 'empty-dir/inside');
  t.same(await keys(backend, { prefix: 'empty-dir' }), ['empty-dir/'], 'a user’s empty directory outlives a key put into it');

  await backend.put(BUCKET, 'a/b/c', Buffer.from('x'));
  await backend.delete(BUCKET, 'a/b/c');
  t.same(await readdir(join(root, BUCKET)).then((n) => n.includes('a')), false, 'directories made for a key vanish with it');
});

t.test('keys ending in / are directories', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  await backend.put(BUCKET, 'm/', Buffer.alloc(0), { metadata: { mode: '040755' } });
  await backend.put(BUCKET, 'm/child', Buffer.from('c'));
  t.same(await keys(backend), ['m/', 'm/child'], 'an explicit marker is listed beside its content');
  t.same((await backend.head(BUCKET, 'm/')).metadata, { mode: '040755' }, 'a marker keeps its metadata');
  await backend.delete(BUCKET, 'm/child');
  t.same(await keys(backend), ['m/'], 'and stays when its content goes');
  await backend.delete(BUCKET, 'm/');
  t.same(await keys(backend), [], 'deleting the marker removes the directory');

  await backend.put(BUCKET, 'f', Buffer.from('file'));
  await expectError(t, () => backend.put(BUCKET, 'f/g', Buffer.from('x')), { kind: 'AlreadyExists', reason: 'KeyConflict' },
    'a key below a file is refused');
  await backend.put(BUCKET, 'd/e', Buffer.from('x'));
  await expectError(t, () => backend.put(BUCKET, 'd', Buffer.from('x')), { kind: 'AlreadyExists', reason: 'KeyConflict' },
    'a file where a directory is is refused');
  await expectError(t, () => backend.put(BUCKET, 'big/', Buffer.alloc(65 * 1024)), { kind: 'Other', reason: 'EntityTooLarge' },
    'a marker body over the limit is refused');
  t.same(await keys(backend), ['d/e', 'f'], 'the refused writes left nothing');
});

t.test('changes made outside the backend are notified', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  await backend.put(BUCKET, 'w/existing', Buffer.from('x'));
  const events: ChangeEvent[] = [];
  const watcher = await backend.watch(BUCKET, { prefix: 'w/' }, (e) => events.push(e));
  t.teardown(() => watcher.close());
  const until = async (match: (e: ChangeEvent) => boolean) => {
    for (let i = 0; i < 500 && !events.some(match); i++) await new Promise((r) => setTimeout(r, 10));
    return events.some(match);
  };
  await writeFile(join(root, BUCKET, 'w', 'outside'), 'from elsewhere');
  t.ok(await until((e) => e.type === 'put' && e.key === 'w/outside' && e.size === 14), 'a dropped file is a put');
  await mkdir(join(root, BUCKET, 'w', 'sub'));
  await writeFile(join(root, BUCKET, 'w', 'sub', 'deeper'), 'd');
  t.ok(await until((e) => e.type === 'put' && e.key === 'w/sub/deeper'), 'a file in a new directory is a put');
  await unlink(join(root, BUCKET, 'w', 'outside'));
  t.ok(await until((e) => e.type === 'delete' && e.key === 'w/outside'), 'a removed file is a delete');
  await writeFile(join(root, BUCKET, 'elsewhere'), 'x');
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(events.some((e) => e.key === 'elsewhere'), 'nothing outside the prefix');
});

t.test('listings match the S3 rule for any keys, prefix, delimiter and page size', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  // Few symbols, so keys share prefixes, directories and encoded segments ('.', '..', '', multi-byte, control).
  const segment = fc.constantFrom('', '.', '..', 'a', 'b', 'a-b', 'é', '😀', '\u{FFFD}', '\x01', 'x'.repeat(300));
  const key = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')).filter((k) => k !== '');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(key, { maxLength: 12 }),
      fc.constantFrom('', 'a', 'a/', '.', 'é', '/', 'a/a-'),
      fc.constantFrom(undefined, '/', '-', 'a', '😀'),
      fc.integer({ min: 1, max: 4 }),
      async (candidates, prefix, delimiter, maxKeys) => {
        const base = `run${++run}/`;
        // A file and a directory cannot share a name here: drop keys that would need both.
        const all = candidates.map((k) => base + k);
        const stored = all.filter((k) => !all.some((o) => o !== k && o.startsWith(`${k}/`)) && Buffer.byteLength(k) <= 1024);
        for (const k of stored) await backend.put(BUCKET, k, Buffer.from(k));
        const options: ListOptions = { prefix: base + prefix, maxKeys, ...(delimiter === undefined ? {} : { delimiter }) };
        const got = await listEverything(backend, options);
        const want = expectedListing(stored, base + prefix, delimiter);
        await backend.deleteMany(BUCKET, stored.length > 0 ? stored : [`${base}none`]);
        return JSON.stringify(got) === JSON.stringify(want) && (await keys(backend, { prefix: base })).length === 0;
      },
    ),
    { numRuns: 60 },
  );
  t.pass('60 random trees list as S3 would, and vanish when deleted');
});

async function listEverything(backend: LocalBackend, options: ListOptions): Promise<{ keys: string[]; prefixes: string[] }> {
  const result = { keys: [] as string[], prefixes: [] as string[] };
  let token: string | undefined;
  do {
    const page = await backend.listPage(BUCKET, token === undefined ? options : { ...options, token });
    if (page.objects.length + page.prefixes.length > (options.maxKeys ?? 1000)) throw new Error('page too long');
    result.keys.push(...page.objects.map((o) => o.key));
    result.prefixes.push(...page.prefixes);
    token = page.nextToken;
  } while (token !== undefined);
  // Keys and prefixes interleave in one order; the reference sorts each list by itself.
  return { keys: result.keys, prefixes: result.prefixes };
}

t.test('puts racing with deletes in the same new directory all land', async (t) => {
  const root = await tempRoot(t);
  const backend = await backendOn(t, root);
  const rounds = 20;
  for (let round = 0; round < rounds; round++) {
    const dir = `race${round}/`;
    await backend.put(BUCKET, `${dir}victim`, Buffer.from('v'));
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => backend.put(BUCKET, `${dir}new${i}`, Buffer.from(String(i)))),
      backend.delete(BUCKET, `${dir}victim`),
    ]);
  }
  const listed = await keys(backend);
  const want = Array.from({ length: rounds }, (_, r) => Array.from({ length: 6 }, (_, i) => `race${r}/new${i}`)).flat();
  t.same(listed.sort(), want.sort(), 'every put landed although deletes pruned the directory meanwhile');
});
