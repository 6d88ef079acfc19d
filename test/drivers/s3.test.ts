/**
 * The s3 backend against real S3 servers on loopback: Ceph RGW (nearly all of
 * S3) and s3rver (quick, partial: what it lacks or gets wrong is declared in
 * S3RVER_LACKS and reported as SKIPPED). The shared conformance suite runs on both;
 * then what is particular to this backend, on RGW: stream bodies that break
 * their declared size, metadata values HTTP cannot carry, keys XML cannot
 * carry in listings and batch deletes, paginated upload and part listings,
 * If-Match on reads, reset connections, and messages without secrets.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3Backend, type S3BackendOptions } from '../../drivers/s3.js';
import type { GetHandler } from '../../drivers/s3/get-handler.js';
import { LEAN_PUT_MAX_BYTES } from '../../drivers/s3/lean.js';
import { isStorageError } from '../../drivers/errors.js';
import { runConformance } from '../conformance/index.js';
import { forEachLimit, readAll } from '../conformance/helpers.js';
import type { ConformanceTarget, ServerFeature } from '../conformance/target.js';
import { startFailingServer } from '../helpers/failing-server.js';
import { useRgw, type S3Server } from '../servers/rgw.js';
import { useS3rver } from '../servers/s3rver.js';
import { removeBucket } from '../helpers/buckets.js';
import { RequestCounter } from '../bench/request-counter.js';

type Lacks = Partial<Record<ServerFeature, string>>;

/** More than one page of S3's 1,000 entries, so the markers are followed. */
const BEYOND_ONE_PAGE = 1001;

/** Each reason was observed against Ceph RGW 16.2 (Debian 12). */
const RGW_LACKS: Lacks = {
  restore: 'RGW 16 has no archive storage class (PUT with StorageClass GLACIER: 400 InvalidArgument) and answers RestoreObject with 501 NotImplemented',
};

/**
 * Each reason was observed against s3rver 3.7, which keeps every object as a
 * file named after its key. It also checks only the access key id, never the
 * signature: its wrong-credentials target has a wrong key id.
 */
const S3RVER_LACKS: Lacks = {
  versions: 'PUT ?versioning falls through to CreateBucket and fails with BucketAlreadyExists',
  uploadPartCopy: 'UploadPartCopy answers 501 NotImplemented',
  listParts: 'ListParts answers 405 MethodNotAllowed',
  listMultipartUploads: 'ListMultipartUploads answers 501 NotImplemented',
  abortMultipart: 'AbortMultipartUpload answers 405 MethodNotAllowed',
  partSizeRule: 'CompleteMultipartUpload accepts a part under 5 MiB before the last (no EntityTooSmall)',
  multipartEtag: "the multipart etag is the MD5 of the whole object, without S3's '-N' suffix",
  deleteTags: 'DeleteObjectTagging answers 501 NotImplemented',
  tagsOnPut: 'tags sent with PutObject (x-amz-tagging) are ignored',
  conditionalWrite: 'If-Match and If-None-Match on PUT are ignored: the write happens',
  acls: 'PutObjectAcl answers 501 NotImplemented',
  restore: 'RestoreObject answers 501 NotImplemented and there is no archive storage class',
  atomicWrites: 'concurrent PUTs of one key write into the same file: the object can end up a mix of their bodies',
  batchDelete: 'it removes the folders its deletes empty, racing with itself: DeleteObjects (or DeleteObject requests in parallel) that empty a folder answer 500 InternalError',
  nestedPrefixes: 'a delimiter listing leaves out a common prefix whose keys all lie deeper (a/ of a/b/c alone)',
  keyOrder: "listings walk its folders, so 'a/b/' comes before 'a+b' (UTF-8 byte order has '+' < '/')",
  longKeySegments: "a key segment over 233 bytes (255 less its '._S3rver_metadata.json' suffix) is no file name: the server dies with ENAMETOOLONG",
  emptySegments: "PutObject of 'a//b' answers 404",
  dotSegments: "'.' and '..' segments are resolved as file paths ('a/./x' is listed as 'a/x')",
  controlCharKeys: 'EncodingType=url is ignored, so a CR in a listed key comes back as LF',
  copySpecialKeys: 'copy sources are decoded with decodeURI, so keys holding + # ? & $ , ; @ = : cannot be copied (404)',
};

function freshBucketName(): string {
  return `s3-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function backendFor(server: S3Server, overrides: Partial<S3BackendOptions> = {}): S3Backend {
  return new S3Backend({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...overrides,
  });
}

/**
 * Empties `bucket` (uploads too, where the server lists them) and deletes it;
 * one key at a time where the server's batch delete is broken. A failure is
 * reported, not thrown: a throwing teardown would skip the teardowns after it
 * and leave their servers running.
 */
async function cleanUp(t: Test, backend: S3Backend, bucket: string, serverLacks: Lacks = {}): Promise<void> {
  await removeBucket(backend, bucket, { batchDelete: serverLacks.batchDelete === undefined }).catch((e: unknown) => {
    t.comment(`could not remove bucket ${bucket}: ${String(e)}`);
  });
}

/** How the wrong-credentials target is wrong: a server that checks signatures gets a wrong secret. */
type WrongCredential = 'secret' | 'keyId';

/** A backend on `server` with a fresh bucket of its own, both removed when `t` ends. */
async function withBucket(t: Test, server: S3Server, serverLacks: Lacks = {}): Promise<{ backend: S3Backend; bucket: string }> {
  const backend = backendFor(server);
  const bucket = freshBucketName();
  await backend.createBucket(bucket);
  t.teardown(async () => {
    await cleanUp(t, backend, bucket, serverLacks);
    await backend.close();
  });
  return { backend, bucket };
}

/** A target on `server`; everything it opens is closed when the run `t` ends. */
async function makeTarget(t: Test, name: string, server: S3Server, serverLacks: Lacks, wrong: WrongCredential): Promise<ConformanceTarget> {
  const { backend, bucket } = await withBucket(t, server, serverLacks);
  const failingServer = await startFailingServer('500');
  const failing = new S3Backend({ endpoint: failingServer.url, credentials: { accessKeyId: 'any', secretAccessKey: 'any-secret' } });
  const credentials = wrong === 'secret'
    ? { accessKeyId: server.accessKeyId, secretAccessKey: `wrong-${server.secretAccessKey}` }
    : { accessKeyId: `WRONG${server.accessKeyId}`, secretAccessKey: server.secretAccessKey };
  const denied = backendFor(server, { credentials });
  t.teardown(() => Promise.all([failing.close(), denied.close(), failingServer.close()]));
  return { name, backend, bucket, freshBucketName, failing, denied, serverLacks };
}

// Servers are started inside the tests: an await between two top-level tests would let tap end the run.
await runConformance(t, 's3 (RGW)', async (run) => {
  const server = await useRgw();
  return 'skipped' in server ? server : makeTarget(run, 's3 (RGW)', server, RGW_LACKS, 'secret');
});

await runConformance(t, 's3 (s3rver)', async (run) => {
  const server = await useS3rver();
  return 'skipped' in server ? server : makeTarget(run, 's3 (s3rver)', server, S3RVER_LACKS, 'keyId');
});

await t.test('s3 specifics on RGW', async (t) => {
  const server = await useRgw();
  if ('skipped' in server) {
    const line = `SKIPPED: s3 specifics on RGW: ${server.skipped}`;
    console.log(line);
    if (process.env['CI'] === 'true') t.fail(`${line} (under CI every backend must run)`);
    else t.comment(line);
    return;
  }
  await rgwSpecifics(t, server);
});

async function rgwSpecifics(t: Test, server: S3Server): Promise<void> {
  const { backend, bucket } = await withBucket(t, server);
  await t.test('stream bodies must match their declared size', (t) => sizeTests(t, backend, bucket));
  await t.test('metadata values HTTP cannot carry round-trip', (t) => metadataTests(t, backend, bucket));
  await t.test('keys XML cannot carry: listings and batch deletes', (t) => xmlKeyTests(t, backend, bucket));
  await t.test('If-Match on reads', (t) => ifMatchTests(t, backend, bucket));
  await t.test('uploads and parts are listed across pages', (t) => paginationTests(t, backend, bucket));
  await t.test('what RGW refuses is mapped sensibly', (t) => refusalTests(t, backend, bucket));
  await t.test('reset connections and secrets in messages', (t) => connectionTests(t, server, bucket));
  await t.test('absent keys: one HeadBucket tells a missing key from a missing bucket for a while', (t) => absentKeyTests(t, server));
  await t.test('one client, two buckets at once: every request goes to its own bucket', (t) => twoBucketTests(t, server, {}));
  await t.test('the same through the SDK alone (no lean requests)', (t) => twoBucketTests(t, server, { lean: false }));
  await t.test('lean puts, copies and deletes store what the SDK reads back, for hostile keys too', (t) => leanTests(t, server, bucket));
  await t.test('lean copies: an <Error> or nothing sent with status 200 is a transient failure', (t) => leanEmbeddedErrorTests(t));
}

/**
 * Requests of one command class to two buckets in flight together, through
 * one client. The SDK's cached middleware stack (cacheMiddleware) shares one
 * context between such sends and writes each one's endpoint into it after an
 * await: objects then landed in the other bucket.
 */
async function twoBucketTests(t: Test, server: S3Server, options: Partial<S3BackendOptions>): Promise<void> {
  const backend = backendFor(server, options);
  const buckets = [freshBucketName(), freshBucketName()] as const;
  t.teardown(async () => {
    for (const bucket of buckets) await cleanUp(t, backend, bucket);
    await backend.close();
  });
  for (const bucket of buckets) await backend.createBucket(bucket);
  const PER_BUCKET = 40;
  await Promise.all(Array.from({ length: PER_BUCKET * 2 }, async (_, i) => {
    const bucket = buckets[i % 2] as string;
    await backend.put(bucket, `put-${i}`, Buffer.from(bucket));
    await backend.copy({ bucket, key: `put-${i}` }, { bucket, key: `copy-${i}` });
  }));
  for (const [n, bucket] of buckets.entries()) {
    const page = await backend.listPage(bucket, {});
    const want = Array.from({ length: PER_BUCKET }, (_, j) => j * 2 + n).flatMap((i) => [`copy-${i}`, `put-${i}`]).sort();
    t.same(page.objects.map((o) => o.key).sort(), want, `${bucket}: its own puts and copies, no other`);
    const bodies = await Promise.all(page.objects.map(async (o) => (await readAll((await backend.get(bucket, o.key)).body)).toString()));
    t.ok(bodies.every((b) => b === bucket), `${bucket}: every body names it`);
  }
}

/** Counts the requests `backend` sends lean (lean.ts), signed without the SDK, through its handler's `send`. */
function countLean(backend: S3Backend): () => number {
  const handler = (backend as unknown as { client: S3Client }).client.config.requestHandler as unknown as GetHandler;
  let sent = 0;
  const send = handler.send.bind(handler);
  handler.send = (request, options) => {
    sent++;
    return send(request, options);
  };
  return () => {
    const n = sent;
    sent = 0;
    return n;
  };
}

async function leanTests(t: Test, server: S3Server, bucket: string): Promise<void> {
  const lean = backendFor(server);
  const sdk = backendFor(server, { lean: false });
  t.teardown(() => Promise.all([lean.close(), sdk.close()]));
  const sent = countLean(lean);
  const keys = [
    'plain', 'with space', 'uni/ü-文字', "punct !'()*~", 'plus+and%2Fpercent', 'query?hash#amp&eq=;:@$,', 'a//b', 'dot/./seg/../x',
    'ctl\x01key', `long/${'k'.repeat(1000)}`,
  ];
  for (const key of keys) {
    const body = Buffer.from(`body of ${key}`);
    const put = await lean.put(bucket, key, body, { metadata: { colour: 'blue', note: 'grün & süß' }, contentType: 'text/x-lean' });
    const head = await sdk.head(bucket, key);
    t.equal(head.etag, put.etag, `${key}: put, etag`);
    t.same([head.size, head.contentType, head.metadata], [body.length, 'text/x-lean', { colour: 'blue', note: 'grün & süß' }], `${key}: size, type, metadata`);
    t.same(await readAll((await sdk.get(bucket, key)).body), body, `${key}: body`);
    const kept = await lean.copy({ bucket, key }, { bucket, key: `${key}.copy` });
    const copyHead = await sdk.head(bucket, `${key}.copy`);
    t.same([copyHead.etag, copyHead.metadata?.['colour']], [kept.etag, 'blue'], `${key}: copy keeps the metadata`);
    await lean.copy({ bucket, key }, { bucket, key }, { metadata: { colour: 'red' }, contentType: 'application/x-lean' });
    const replaced = await sdk.head(bucket, key);
    t.same([replaced.metadata, replaced.contentType], [{ colour: 'red' }, 'application/x-lean'], `${key}: a copy onto itself replaces the metadata`);
    await lean.delete(bucket, `${key}.copy`);
    await t.rejects(sdk.head(bucket, `${key}.copy`), { name: 'NotFoundError' }, `${key}: deleted`);
  }
  t.equal(sent(), keys.length * 4, 'every put, copy and delete went lean');

  await t.rejects(lean.copy({ bucket, key: 'missing' }, { bucket, key: 'to' }), { name: 'NotFoundError', reason: 'NoSuchKey', message: /CopyObject from s3:\/\/.*\/missing/ });
  await t.rejects(lean.put(freshBucketName(), 'k', Buffer.from('x')), { name: 'NotFoundError', reason: 'NoSuchBucket' });
  await lean.delete(bucket, 'never-there');
  t.equal(sent(), 3, 'failures come back the way the SDK reports them');
  const wrong = backendFor(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' } });
  t.teardown(() => wrong.close());
  const denied = await wrong.put(bucket, 'k', Buffer.from('x')).then(() => undefined, (e: unknown) => e as Error);
  t.match(denied, { name: 'AccessDeniedError', reason: 'SignatureDoesNotMatch' }, 'a wrong secret is refused');
  t.notMatch(String(denied?.message), /wrong-secret/, 'and never named');

  // Everything else goes through the SDK.
  await lean.put(bucket, 'tagged', Buffer.from('x'), { tags: { a: 'b' } });
  await lean.put(bucket, 'stream', Readable.from([Buffer.from('x')]), { size: 1 });
  await lean.put(bucket, 'big', Buffer.alloc(LEAN_PUT_MAX_BYTES + 1));
  const { etag } = await lean.head(bucket, 'tagged');
  await lean.copy({ bucket, key: 'tagged' }, { bucket, key: 'tagged.copy' }, { ifMatch: etag });
  await lean.copy({ bucket, key: 'tagged' }, { bucket, key: 'tagged.typed' }, { contentType: 'text/x-only' });
  t.equal(sent(), 0, 'tags, streams, big bodies, conditions and a new type alone: through the SDK');
}

/** A server answering every request with status 200 and `body`. */
async function answer200(body: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function leanEmbeddedErrorTests(t: Test): Promise<void> {
  const cases: [string, string, string][] = [
    ['an <Error> document', '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>\n', 'SlowDown'],
    ['an empty body', '', 'InternalError'],
  ];
  for (const [label, body, reason] of cases) {
    const server = await answer200(body);
    const backend = new S3Backend({ endpoint: server.endpoint, credentials: { accessKeyId: 'any', secretAccessKey: 'any-secret' } });
    const sent = countLean(backend);
    await t.rejects(backend.copy({ bucket: 'b', key: 'from' }, { bucket: 'b', key: 'to' }), { name: 'TransientError', reason }, label);
    t.equal(sent(), 1, `${label}: sent lean`);
    await backend.close();
    await server.close();
  }
}

async function absentKeyTests(t: Test, server: S3Server): Promise<void> {
  const counter = await RequestCounter.start(server.endpoint);
  const backend = backendFor(server, { endpoint: counter.endpoint });
  const bucket = freshBucketName();
  t.teardown(async () => {
    await backend.close();
    await counter.close();
  });
  await backend.createBucket(bucket);
  counter.take();
  for (let i = 0; i < 5; i++) await t.rejects(backend.head(bucket, `absent-${i}`), { name: 'NotFoundError', reason: 'NoSuchKey' }, `absent-${i}: no such key`);
  t.same(counter.take(), { HEAD: 5 + 1 }, 'five absent keys: five HEADs and one HeadBucket');
  const other = freshBucketName();
  await backend.createBucket(other);
  await backend.listPage(other, { maxKeys: 1 });
  counter.take();
  await t.rejects(backend.head(other, 'absent'), { name: 'NotFoundError', reason: 'NoSuchKey' }, 'no such key');
  t.same(counter.take(), { HEAD: 1 }, 'a bucket just listed: no HeadBucket');
  await backend.deleteBucket(other);
  await backend.deleteBucket(bucket);
  await t.rejects(backend.head(bucket, 'absent-0'), { name: 'NotFoundError', reason: 'NoSuchBucket' }, 'a bucket deleted through the backend is missing at once');
}

async function sizeTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  const cases: [string, Readable, string][] = [
    ['short', Readable.from([Buffer.from('abc')]), 'SizeMismatch'],
    // The extra bytes come in a later chunk, after the declared size was reached.
    ['long', Readable.from([Buffer.from('abcdefghij'), Buffer.from('kl')]), 'SizeMismatch'],
    ['failing', failingStream(), 'BodyStreamError'],
  ];
  for (const [label, stream, reason] of cases) {
    const started = Date.now();
    await t.rejects(backend.put(bucket, label, stream, { size: 10 }), { name: 'OtherError', reason }, `a ${label} stream fails`);
    t.ok(Date.now() - started < 5000, `the ${label} stream fails at once, not on a server timeout`);
    await t.rejects(backend.head(bucket, label), { name: 'NotFoundError', reason: 'NoSuchKey' }, `the ${label} stream stored nothing`);
  }
  await backend.put(bucket, 'exact', Readable.from([Buffer.from('abc'), Buffer.from('defghij')]), { size: 10 });
  t.equal((await readAll((await backend.get(bucket, 'exact')).body)).toString(), 'abcdefghij', 'an exact stream is stored');
  await backend.delete(bucket, 'exact');
}

function failingStream(): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) this.destroy(new Error('disk went away'));
      else this.push(Buffer.from('abcd'));
      sent = true;
    },
  });
}

async function metadataTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  const metadata = {
    empty: '',
    padded: '  both ends  ',
    controls: 'tab\there\nline',
    rfc2047: '=?UTF-8?B?eA==?=',
    unicode: 'Grüße, 東京 ✓',
  };
  await backend.put(bucket, 'meta', Buffer.from('m'), { metadata, contentType: 'text/x-first' });
  t.same((await backend.head(bucket, 'meta')).metadata, metadata, 'head returns the exact values');
  await backend.copy({ bucket, key: 'meta' }, { bucket, key: 'meta-copy' }, { contentType: 'text/x-second' });
  const info = await backend.head(bucket, 'meta-copy');
  t.same([info.metadata, info.contentType], [metadata, 'text/x-second'], 'a copy changing only the content type keeps the metadata');
  await backend.deleteMany(bucket, ['meta', 'meta-copy']);
}

async function xmlKeyTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  const keys = ['xml/cr\rlf\n', 'xml/ctl\x01\x1f', 'xml/ leading', 'xml/trailing\t', 'xml/plain', 'xml/amp&<lt>'];
  for (const key of keys) await backend.put(bucket, key, Buffer.from(key));
  const listed = (await backend.listPage(bucket, { prefix: 'xml/' })).objects.map((o) => o.key);
  t.same(listed.sort(), [...keys].sort(), 'the listing returns CR, control characters and blanks exactly');
  const result = await backend.deleteMany(bucket, [...keys, 'xml/missing\x02']);
  t.same([result.deleted.length, result.errors], [keys.length + 1, []], 'deleteMany deletes them all in one call');
  t.same((await backend.listPage(bucket, { prefix: 'xml/' })).objects, [], 'nothing is left');
}

async function ifMatchTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  const { etag } = await backend.put(bucket, 'matched', Buffer.from('0123456789'));
  const got = await backend.get(bucket, 'matched', { ifMatch: etag, range: { start: 2, end: 4 } });
  t.equal((await readAll(got.body)).toString(), '23', 'a read with the current etag is served');
  await t.rejects(backend.get(bucket, 'matched', { ifMatch: 'bad0bad0bad0bad0bad0bad0bad0bad0' }), { name: 'PreconditionFailedError' },
    'a read with another etag fails');
  await t.rejects(backend.get(bucket, 'matched', { ifMatch: 'bad0', range: { start: 10 } }), { name: 'PreconditionFailedError' },
    'so does a read at the end, which S3 cannot express');
  const source = { bucket, key: 'matched' };
  await t.rejects(backend.copy(source, { bucket, key: 'matched-copy' }, { ifMatch: 'bad0bad0bad0bad0bad0bad0bad0bad0' }),
    { name: 'PreconditionFailedError' }, 'a copy from a source with another etag fails (RGW ignores x-amz-copy-source-if-match)');
  await backend.copy(source, { bucket, key: 'matched-copy' }, { ifMatch: etag });
  t.equal((await backend.head(bucket, 'matched-copy')).size, 10, 'a copy from the expected source is made');
  await backend.deleteMany(bucket, ['matched', 'matched-copy']);
}

async function paginationTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  const key = 'paged/parts';
  const uploadId = await backend.createMultipart(bucket, key);
  const numbers = Array.from({ length: BEYOND_ONE_PAGE }, (_, i) => i + 1);
  await forEachLimit(numbers, 16, (n) => backend.uploadPart(bucket, key, uploadId, n, Buffer.from([n % 256])));
  const parts = await backend.listParts(bucket, key, uploadId);
  t.same(parts.map((p) => p.partNumber), numbers, `listParts returns all ${BEYOND_ONE_PAGE} parts in order`);
  await backend.abortMultipart(bucket, key, uploadId);

  const ids = new Set<string>();
  await forEachLimit(numbers, 16, async (n) => ids.add(await backend.createMultipart(bucket, `paged/u${n % 7}`)));
  const uploads = await backend.listMultipartUploads(bucket, { prefix: 'paged/u' });
  t.same([uploads.length, new Set(uploads.map((u) => u.uploadId)).size], [BEYOND_ONE_PAGE, BEYOND_ONE_PAGE],
    `listMultipartUploads returns all ${BEYOND_ONE_PAGE} uploads once each`);
  t.ok(uploads.every((u) => ids.has(u.uploadId)), 'and only ours');
  await forEachLimit(uploads, 16, (u) => backend.abortMultipart(bucket, u.key, u.uploadId));
}

async function refusalTests(t: Test, backend: S3Backend, bucket: string): Promise<void> {
  await backend.put(bucket, 'refused', Buffer.from('r'));
  await t.rejects(backend.restore(bucket, 'refused', { days: 1 }), { name: 'UnsupportedError', status: 501 },
    'RestoreObject (501 NotImplemented) is Unsupported');
  await t.rejects(backend.putAcl(bucket, 'refused', 'aws-exec-read'), { name: 'OtherError', reason: 'InvalidArgument' },
    "RGW refuses the canned ACL 'aws-exec-read'");
  await backend.putAcl(bucket, 'refused', 'bucket-owner-full-control');
  t.equal(await backend.getAcl(bucket, 'refused'), 'private',
    "'bucket-owner-full-control' on the bucket owner's own object grants nothing more, so it reads as 'private'");
  await t.rejects(backend.put(bucket, 'x'.repeat(1025), Buffer.from('x')), { name: 'OtherError', reason: 'KeyTooLong' },
    'a key over 1,024 bytes is refused before it is sent');
  await backend.delete(bucket, 'refused');
}

async function connectionTests(t: Test, server: S3Server, bucket: string): Promise<void> {
  const resetting = await startFailingServer('reset');
  const reset = new S3Backend({ endpoint: resetting.url, credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
  t.teardown(async () => {
    await reset.close();
    await resetting.close();
  });
  await t.rejects(reset.get(bucket, 'k'), { name: 'TransientError' }, 'a reset connection is Transient');

  const secret = `very-secret-${randomBytes(4).toString('hex')}`;
  const denied = backendFor(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: secret } });
  t.teardown(() => denied.close());
  for (const call of [() => denied.head(bucket, 'some key'), () => denied.put(bucket, 'some key', Buffer.from('x'))]) {
    const error = await call().catch((e: unknown) => e);
    t.ok(isStorageError(error, 'AccessDenied'), 'a wrong secret is AccessDenied');
    t.notMatch(String((error as Error).message), secret, 'the message does not contain the secret');
    t.match(String((error as Error).message), `s3://${bucket}/some key: `, 'the message names the object');
  }
  t.notMatch(denied.label, secret, 'nor does the label');
}
