/**
 * S3 details the in-memory backend mirrors beyond the shared suite, so that
 * code tested against it fails where S3 would: exact etags, UTF-8 byte order,
 * the refusals of S3 (bad tokens, batch sizes, part order, part etags, copy
 * ranges, archived objects, bucket names, metadata size) and versioning
 * corner cases.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { MemoryBackend } from '../../drivers/memory.js';
import type { ErrorKind } from '../../drivers/errors.js';
import { expectError, readAll } from '../conformance/helpers.js';

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
const md5bin = (data: Buffer) => createHash('md5').update(data).digest();

async function fresh(): Promise<MemoryBackend> {
  const m = new MemoryBackend();
  await m.createBucket('bkt');
  return m;
}

const err = (kind: ErrorKind, reason: string) => ({ kind, reason });

t.test('etags are S3 etags', async (t) => {
  const m = await fresh();
  t.equal((await m.put('bkt', 'k', Buffer.from('hello'))).etag, md5('hello'), 'a single PUT: the hex md5 of the body');
  const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('last')];
  const id = await m.createMultipart('bkt', 'mp');
  const results = await Promise.all(parts.map((p, i) => m.uploadPart('bkt', 'mp', id, i + 1, p)));
  t.same(results.map((r) => r.etag), parts.map((p) => md5(p)), 'a part etag is the md5 of the part');
  const { etag } = await m.completeMultipart('bkt', 'mp', id, results);
  t.equal(etag, `${md5(Buffer.concat(parts.map(md5bin)))}-2`, 'multipart: md5 of the binary part md5s, then -N');
  const { etag: copied } = await m.copy({ bucket: 'bkt', key: 'mp' }, { bucket: 'bkt', key: 'mp-copy' });
  t.equal(copied, md5(Buffer.concat(parts)), 'a copy of a multipart object is a single-part object with a plain md5 etag');
});

t.test('listings are in UTF-8 byte order, not UTF-16 order', async (t) => {
  const m = await fresh();
  const keys = ['\uFFFD', '😀', 'z', 'é'];
  for (const key of keys) await m.put('bkt', key, Buffer.alloc(0));
  const page = await m.listPage('bkt');
  t.same(page.objects.map((o) => o.key), ['z', 'é', '\uFFFD', '😀'], 'U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80)');
  t.same((await m.listPage('bkt', { maxKeys: 0 })).objects, [], 'maxKeys 0 lists nothing');
  await expectError(t, () => m.listPage('bkt', { token: 'not-a-token' }), err('Other', 'InvalidArgument'), 'a forged token is refused');
  await expectError(t, () => m.listPage('bkt', { maxKeys: -1 }), err('Other', 'InvalidArgument'), 'a negative maxKeys is refused');
  const capped = await m.listPage('bkt', { maxKeys: 5000 });
  t.equal(capped.objects.length, 4, 'maxKeys above 1,000 is accepted (and capped)');
});

t.test('refusals S3 makes', async (t) => {
  const m = await fresh();
  await expectError(t, () => m.createBucket('Bad_Name'), err('Other', 'InvalidBucketName'), 'an invalid bucket name');
  await expectError(t, () => m.put('bkt', '', Buffer.from('x')), err('Other', 'InvalidKey'), 'an empty key');
  await expectError(t, () => m.put('bkt', 'lone\uD800', Buffer.from('x')), err('Other', 'InvalidKey'), 'a key with a lone surrogate');
  await expectError(t, () => m.put('bkt', 'k', Buffer.from('x'), { metadata: { big: 'x'.repeat(3000) } }),
    err('Other', 'MetadataTooLarge'), 'metadata over 2 KB');
  await expectError(t, () => m.put('bkt', 'k', Buffer.from('x'), { metadata: { 'bad name': 'x' } }),
    err('Other', 'InvalidArgument'), 'a metadata name that is no header name');
  await expectError(t, () => m.put('bkt', 'k', Buffer.from('x'), { storageClass: 'COLD' }),
    err('Other', 'InvalidStorageClass'), 'an unknown storage class');
  await expectError(t, () => m.put('bkt', 'k', Buffer.from('x'), { size: 2 }), err('Other', 'IncompleteBody'), 'a size that is not the body size');
  await expectError(t, () => m.deleteMany('bkt', []), err('Other', 'MalformedXML'), 'an empty batch delete');
  const many = Array.from({ length: 1001 }, (_, i) => `k${i}`);
  await expectError(t, () => m.deleteMany('bkt', many), err('Other', 'MalformedXML'), 'a batch delete over 1,000 keys');
  await m.put('bkt', 'k', Buffer.from('x'));
  await expectError(t, () => m.copy({ bucket: 'bkt', key: 'k' }, { bucket: 'bkt', key: 'k' }), err('Other', 'InvalidRequest'),
    'a copy onto itself without new metadata');
  await expectError(t, () => m.putTags('bkt', 'k', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`t${i}`, 'v']))),
    err('Other', 'InvalidTag'), 'more than 10 tags');
  await expectError(t, () => m.put('bkt', 'k', Buffer.from('x'), { ifMatch: md5('nope') }), err('PreconditionFailed', 'PreconditionFailed'),
    'ifMatch with a stale etag');
  await expectError(t, () => m.put('bkt', 'absent', Buffer.from('x'), { ifMatch: md5('x') }), err('NotFound', 'NoSuchKey'),
    'ifMatch on a missing key is NoSuchKey, as on S3');
  await expectError(t, () => m.get('bkt', 'k', { ifMatch: md5('nope') }), err('PreconditionFailed', 'PreconditionFailed'), 'get ifMatch');
  await expectError(t, () => m.copy({ bucket: 'bkt', key: 'k' }, { bucket: 'bkt', key: 'k2' }, { ifMatch: 'nope' }),
    err('PreconditionFailed', 'PreconditionFailed'), 'copy ifMatch on the source');
});

t.test('multipart refusals', async (t) => {
  const m = await fresh();
  await m.put('bkt', 'src', Buffer.from('0123456789'));
  const id = await m.createMultipart('bkt', 'mp');
  await expectError(t, () => m.uploadPart('bkt', 'other-key', id, 1, Buffer.from('x')), err('NotFound', 'NoSuchUpload'),
    'an upload id used with another key');
  await expectError(t, () => m.uploadPart('bkt', 'mp', id, 0, Buffer.from('x')), err('Other', 'InvalidArgument'), 'part number 0');
  await expectError(t, () => m.uploadPart('bkt', 'mp', id, 10_001, Buffer.from('x')), err('Other', 'InvalidArgument'), 'part number 10,001');
  for (const range of [{ start: 5, end: 11 }, { start: 10 }, { start: 3, end: 3 }]) {
    await expectError(t, () => m.uploadPartCopy('bkt', 'mp', id, 1, { bucket: 'bkt', key: 'src' }, range), err('Other', 'InvalidRange'),
      `a copy range ${JSON.stringify(range)} outside the source`);
  }
  const p1 = await m.uploadPart('bkt', 'mp', id, 1, Buffer.alloc(5 * 1024 * 1024));
  const p2 = await m.uploadPart('bkt', 'mp', id, 2, Buffer.from('end'));
  await expectError(t, () => m.completeMultipart('bkt', 'mp', id, [p2, p1]), err('Other', 'InvalidPartOrder'), 'parts out of order');
  await expectError(t, () => m.completeMultipart('bkt', 'mp', id, [p1, { partNumber: 2, etag: md5('other') }]), err('Other', 'InvalidPart'),
    'a part etag that was not uploaded');
  await expectError(t, () => m.completeMultipart('bkt', 'mp', id, []), err('Other', 'MalformedXML'), 'no parts');
  const { etag } = await m.completeMultipart('bkt', 'mp', id, [{ ...p1, etag: `"${p1.etag}"` }, p2]);
  t.match(etag, /-2$/, 'quoted part etags are accepted, as S3 accepts them');
  await expectError(t, () => m.listParts('bkt', 'mp', id), err('NotFound', 'NoSuchUpload'), 'a completed upload is gone');
});

t.test('archived objects, append, ACLs', async (t) => {
  const m = await fresh();
  await m.put('bkt', 'cold', Buffer.from('cold'), { storageClass: 'DEEP_ARCHIVE' });
  await expectError(t, () => m.copy({ bucket: 'bkt', key: 'cold' }, { bucket: 'bkt', key: 'c2' }), err('Other', 'InvalidObjectState'),
    'an archived object cannot be copied before a restore');
  t.equal((await m.head('bkt', 'cold')).extra?.['restore'], undefined, 'head shows no restore yet');
  await m.restore('bkt', 'cold', { days: 2 });
  t.match((await m.head('bkt', 'cold')).extra?.['restore'], /ongoing-request="false"/, 'head shows the restore');
  await m.put('bkt', 'warm', Buffer.from('warm'));
  await expectError(t, () => m.restore('bkt', 'warm', { days: 1 }), err('Other', 'InvalidObjectState'), 'restore of a standard object');
  await expectError(t, () => m.append('bkt', 'warm', 4, Buffer.from('x')), err('Other', 'ObjectNotAppendable'),
    'append to an object made by put');
  await expectError(t, () => m.append('bkt', 'new', 3, Buffer.from('x')), err('PreconditionFailed', 'PositionNotEqualToLength'),
    'append at a non-zero position to a missing key');
  await m.append('bkt', 'log', 0, Buffer.from('a'), { metadata: { kind: 'log' }, contentType: 'text/plain' });
  await m.append('bkt', 'log', 1, Buffer.from('bkt'));
  const log = await m.head('bkt', 'log');
  t.same([log.metadata, log.contentType, log.extra?.['objectType']], [{ kind: 'log' }, 'text/plain', 'Appendable'],
    'append keeps what the first append set');
  t.equal(await m.getAcl('bkt', 'warm'), 'private', 'new objects are private');
  await expectError(t, () => m.putAcl('bkt', 'warm', 'no-such-acl'), err('Other', 'InvalidAcl'), 'an unknown canned ACL');
});

t.test('versioning corner cases', async (t) => {
  const m = await fresh();
  const before = await m.put('bkt', 'k', Buffer.from('before'));
  t.equal(before.versionId, undefined, 'no version id before versioning is enabled');
  await m.enableVersioning('bkt');
  const after = await m.put('bkt', 'k', Buffer.from('after'));
  const versions = await m.listVersions('bkt');
  t.same(versions.map((v) => v.versionId), [after.versionId, 'null'], "the earlier object stays as version 'null'");
  t.equal((await readAll((await m.get('bkt', 'k', { versionId: 'null' })).body)).toString(), 'before', "get of version 'null'");
  await m.delete('bkt', 'k');
  const marker = (await m.listVersions('bkt')).find((v) => v.isDeleteMarker)!;
  await expectError(t, () => m.get('bkt', 'k', { versionId: marker.versionId }), err('Other', 'MethodNotAllowed'),
    'get of a delete marker version');
  await expectError(t, () => m.get('bkt', 'k', { versionId: 'nope' }), err('NotFound', 'NoSuchVersion'), 'an unknown version id');
  t.same((await m.listPage('bkt')).objects, [], 'a key whose latest version is a delete marker is not listed');
  await expectError(t, () => m.deleteBucket('bkt'), err('NotEmpty', 'BucketNotEmpty'), 'versions keep a bucket non-empty');
});

t.test('watchers', async (t) => {
  const m = await fresh();
  const seen: string[] = [];
  const watcher = await m.watch('bkt', { prefix: 'w/' }, (e) => seen.push(`${e.type} ${e.key}`));
  await m.put('bkt', 'w/a', Buffer.from('1'));
  await m.copy({ bucket: 'bkt', key: 'w/a' }, { bucket: 'bkt', key: 'w/b' });
  await m.append('bkt', 'w/c', 0, Buffer.from('x'));
  await m.deleteMany('bkt', ['w/a', 'w/missing']);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(seen, ['put w/a', 'put w/b', 'put w/c', 'delete w/a'], 'put, copy, append and delete raise events; a missing key raises none');
  await watcher.close();
  await m.put('bkt', 'w/d', Buffer.from('1'));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(seen.length, 4, 'a closed watcher gets nothing');
  await expectError(t, () => m.watch('nope', {}, () => {}), err('NotFound', 'NoSuchBucket'), 'watching a missing bucket');
});
