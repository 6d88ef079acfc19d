/**
 * The oss backend (ali-oss). No OSS server runs on this machine and S3
 * servers reject OSS signatures, so the shared conformance suite runs against
 * test/servers/oss-server.ts, which verifies every OSS V1 signature with known
 * credentials; then what is particular to this backend. A second conformance
 * run goes to Aliyun OSS itself when OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET,
 * OSS_REGION and OSS_BUCKET are set (OSS_ENDPOINT optional); without them it
 * prints a SKIPPED line and passes, since it needs an Aliyun account by design.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { OssBackend, type OssBackendOptions } from '../../drivers/oss.js';
import { openRemote } from '../../drivers/remote.js';
import { runConformance } from '../conformance/index.js';
import { expectError, readAll } from '../conformance/helpers.js';
import type { ConformanceTarget } from '../conformance/target.js';
import { startFailingServer } from '../helpers/failing-server.js';
import { startOssServer, type OssServer, type OssServerOptions } from '../servers/oss-server.js';

const freshBucketName = () => `oss-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function backendFor(server: OssServer, overrides: Partial<OssBackendOptions> = {}): OssBackend {
  return new OssBackend({
    endpoint: server.endpoint,
    region: server.region,
    pathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, accessKeySecret: server.accessKeySecret },
    ...overrides,
  });
}

/** A server and a backend on a fresh bucket, closed when `t` ends. */
async function setup(t: Test, options: OssServerOptions = {}, backendOptions: Partial<OssBackendOptions> = {}) {
  const server = await startOssServer(options);
  const backend = backendFor(server, backendOptions);
  t.teardown(async () => {
    await backend.close();
    await server.close();
  });
  const bucket = freshBucketName();
  await backend.createBucket(bucket);
  return { server, backend, bucket };
}

for (const signatureVersion of ['v4', 'v1'] as const) {
  const name = `oss (test server, ${signatureVersion} signatures)`;
  await runConformance(t, name, async () => {
    const { server, backend, bucket } = await setup(t, {}, { signatureVersion });
    const failingServer = await startFailingServer('500');
    // The failing server answers on 127.0.0.1; path style needs a host name.
    const failing = backendFor(server, { signatureVersion, endpoint: `http://localhost:${failingServer.port}` });
    const denied = backendFor(server, { signatureVersion, credentials: { accessKeyId: server.accessKeyId, accessKeySecret: 'wrong-secret' } });
    t.teardown(async () => {
      await failing.close();
      await denied.close();
      await failingServer.close();
    });
    return { name, backend, bucket, freshBucketName, denied, failing };
  });
}

await t.test('conformance: oss (live)', async (t) => {
  const env = process.env;
  const [id, secret, region, bucket] = [env['OSS_ACCESS_KEY_ID'], env['OSS_ACCESS_KEY_SECRET'], env['OSS_REGION'], env['OSS_BUCKET']];
  if (!id || !secret || !region || !bucket) {
    // Credential-gated by design: it needs an Aliyun account, so it is not a CI failure.
    console.log('SKIPPED: oss (live): set OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_REGION, OSS_BUCKET to run against Aliyun OSS');
    t.pass('oss (live) skipped: no credentials');
    return;
  }
  await runConformance(t, 'oss (live)', async (): Promise<ConformanceTarget> => {
    const options: OssBackendOptions = {
      region,
      ...(env['OSS_ENDPOINT'] && { endpoint: env['OSS_ENDPOINT'] }),
      secure: true,
      credentials: { accessKeyId: id, accessKeySecret: secret, ...(env['OSS_STS_TOKEN'] && { stsToken: env['OSS_STS_TOKEN'] }) },
    };
    const backend = new OssBackend(options);
    const denied = new OssBackend({ ...options, credentials: { accessKeyId: id, accessKeySecret: `${secret}-wrong` } });
    const failing = new OssBackend({ ...options, endpoint: 'http://localhost:9', secure: false, pathStyle: true });
    t.teardown(async () => {
      await Promise.all([backend.close(), denied.close(), failing.close()]);
    });
    return {
      name: 'oss (live)',
      backend,
      bucket,
      freshBucketName,
      denied,
      failing,
      serverLacks: { restore: 'Aliyun takes about a minute to restore an Archive object; the suite reads it at once' },
    };
  });
});

t.test('signatures are checked: a wrong secret or key id is AccessDenied, saying why', async (t) => {
  const { server, bucket } = await setup(t);
  const wrongSecret = backendFor(server, { credentials: { accessKeyId: server.accessKeyId, accessKeySecret: 'nope' } });
  const wrongId = backendFor(server, { credentials: { accessKeyId: 'LTAInobody', accessKeySecret: server.accessKeySecret } });
  t.teardown(() => Promise.all([wrongSecret.close(), wrongId.close()]));
  await expectError(t, () => wrongSecret.put(bucket, 'k', Buffer.from('x')), { kind: 'AccessDenied', reason: 'SignatureDoesNotMatch', cause: true },
    'a wrong secret');
  await expectError(t, () => wrongId.listPage(bucket), { kind: 'AccessDenied', reason: 'InvalidAccessKeyId' }, 'an unknown key id');
  await expectError(t, () => wrongSecret.head(bucket, 'k'), { kind: 'AccessDenied', reason: 'SignatureDoesNotMatch' },
    'a HEAD, whose reason travels in x-oss-err');
  let message = '';
  await wrongSecret.put(bucket, 'k', Buffer.from('x')).catch((e: Error) => (message = e.message));
  t.notOk(message.includes('nope') || message.includes(server.accessKeySecret), 'the message holds no secret');
});

t.test('one request per call: no HEAD before GET, one PUT, one list', async (t) => {
  const { server, backend, bucket } = await setup(t);
  await backend.put(bucket, 'a/b.txt', Buffer.from('hello world'));
  const count = async (label: string, action: () => Promise<unknown>, expected: string[]) => {
    const before = server.requests.length;
    await action();
    t.same(server.requests.slice(before).map((r) => r.method), expected, label);
  };
  await count('get', async () => readAll((await backend.get(bucket, 'a/b.txt')).body), ['GET']);
  await count('ranged get', async () => readAll((await backend.get(bucket, 'a/b.txt', { range: { start: 2, end: 5 } })).body), ['GET']);
  await count('head', () => backend.head(bucket, 'a/b.txt'), ['HEAD']);
  await count('put', () => backend.put(bucket, 'c', Buffer.from('x')), ['PUT']);
  await count('listPage', () => backend.listPage(bucket, { prefix: 'a/' }), ['GET']);
  const last = server.requests.at(-1);
  t.match(last?.query, /list-type=2/, 'listPage uses ListObjectsV2');
  t.match(last?.query, /encoding-type=url/, 'listPage asks for URL-encoded keys');
  t.equal(last?.path, `/${bucket}/`, 'requests are path style');
});

t.test('OSS rules are enforced before any request', async (t) => {
  const { server, backend, bucket } = await setup(t);
  const before = server.requests.length;
  for (const key of ['/leading-slash', '\\leading-backslash', '', 'x'.repeat(1024)]) {
    await expectError(t, () => backend.put(bucket, key, Buffer.from('x')), { kind: 'Other', reason: 'InvalidKey' },
      `key ${JSON.stringify(key.slice(0, 20))} is refused`);
  }
  await expectError(t, () => backend.put(bucket, 'k', Buffer.from('x'), { ifMatch: 'abc' }), { kind: 'Unsupported', mentions: 'not supported by oss' },
    'If-Match on a write is refused: OSS has only x-oss-forbid-overwrite');
  await expectError(t, () => backend.putAcl(bucket, 'k', 'authenticated-read'), { kind: 'Other', mentions: 'not supported by oss' },
    "the S3-only ACL 'authenticated-read' is refused");
  t.equal(server.requests.length, before, 'none of these reached the server');
  const credentials = { accessKeyId: 'a', accessKeySecret: 'b' };
  t.throws(() => new OssBackend({ endpoint: 'http://127.0.0.1:1', pathStyle: true, credentials }),
    /host name endpoint/, 'path style with an IP endpoint is refused at construction');
  t.throws(() => new OssBackend({ endpoint: 'http://localhost:1', credentials }), /need the bucket's region/,
    'V4 signatures without a region are refused at construction');
  t.equal(new OssBackend({ endpoint: 'https://oss-eu-central-1.aliyuncs.com', credentials }).label, 'oss https://oss-eu-central-1.aliyuncs.com',
    'an Aliyun endpoint gives the region');
  await expectError(t, () => backend.signedUrl(bucket, 'k', { method: 'GET', expiresIn: 8 * 24 * 3600 }), { kind: 'Other', reason: 'InvalidArgument' },
    'a V4 signed URL longer than 7 days is refused');
});

t.test('etags are lower-case hex like S3, though OSS writes them upper-case', async (t) => {
  const { backend, bucket } = await setup(t);
  const { etag } = await backend.put(bucket, 'e', Buffer.from('etag'));
  t.match(etag, /^[0-9a-f]{32}$/, 'put gives a lower-case MD5');
  const got = await backend.get(bucket, 'e', { ifMatch: etag });
  t.equal((await readAll(got.body)).toString(), 'etag', 'If-Match with the lower-case etag matches on the server');
  await expectError(t, () => backend.get(bucket, 'e', { ifMatch: '0'.repeat(32) }), { kind: 'PreconditionFailed' }, 'a wrong If-Match fails');
  const copy = await backend.copy({ bucket, key: 'e' }, { bucket, key: 'e2' }, { ifMatch: etag });
  t.equal(copy.etag, etag, 'a conditional copy gives the same etag');
});

t.test('metadata: non-ASCII and look-alike values round-trip through header encoding', async (t) => {
  const { backend, bucket } = await setup(t);
  const metadata = { unicode: '日本語 ✓', spaced: '  padded  ', lookalike: '=?UTF-8?B?aGk=?=', empty: '' };
  await backend.put(bucket, 'm', Buffer.from('x'), { metadata });
  t.same((await backend.head(bucket, 'm')).metadata, metadata, 'head returns the exact values');
});

t.test('stream bodies: the size must be exact, and nothing is stored otherwise', async (t) => {
  const { backend, bucket } = await setup(t);
  await expectError(t, () => backend.put(bucket, 'short', Readable.from([Buffer.from('abc')]), { size: 5 }), { kind: 'Other', reason: 'SizeMismatch' },
    'a stream shorter than its size');
  await expectError(t, () => backend.put(bucket, 'long', Readable.from([Buffer.from('abcdef')]), { size: 5 }), { kind: 'Other', reason: 'SizeMismatch' },
    'a stream longer than its size');
  const listed = await backend.listPage(bucket);
  t.same(listed.objects.map((o) => o.key), [], 'neither was stored');
  await backend.put(bucket, 'empty', Readable.from([]), { size: 0 });
  t.equal((await backend.head(bucket, 'empty')).size, 0, 'an empty stream with size 0 is stored');
});

t.test('deleteMany: keys XML cannot carry go one by one; the rest in one request', async (t) => {
  const { server, backend, bucket } = await setup(t);
  const keys = ['plain', 'ctrl\x01char', 'cr\rkey', 'amp & <tag>'];
  for (const key of keys) await backend.put(bucket, key, Buffer.from(key));
  const before = server.requests.length;
  const result = await backend.deleteMany(bucket, [...keys, 'never-written']);
  t.same([...result.deleted].sort(), [...keys, 'never-written'].sort(), 'every key counts as deleted');
  t.same(result.errors, []);
  t.same(server.requests.slice(before).map((r) => r.method), ['POST', 'DELETE', 'DELETE'], 'one batch, then two single deletes');
  t.same((await backend.listPage(bucket)).objects, [], 'nothing is left');
});

t.test('a HEAD 404 without x-oss-err is told apart by asking about the bucket', async (t) => {
  const { backend, bucket } = await setup(t, { headErrorHeader: false });
  await expectError(t, () => backend.head(bucket, 'missing'), { kind: 'NotFound', reason: 'NoSuchKey', mentions: 'missing' }, 'missing key');
  await expectError(t, () => backend.head(freshBucketName(), 'k'), { kind: 'NotFound', reason: 'NoSuchBucket' }, 'missing bucket');
});

t.test('server faults are Transient with their cause; the next request goes through', async (t) => {
  const { server, backend, bucket } = await setup(t);
  server.failNext(1, 503);
  await expectError(t, () => backend.put(bucket, 'k', Buffer.from('x')), { kind: 'Transient', reason: 'ServiceUnavailable', cause: true }, '503');
  server.failNext(1, 500);
  await expectError(t, () => backend.head(bucket, 'k'), { kind: 'Transient', cause: true }, '500 on a HEAD');
  await backend.put(bucket, 'k', Buffer.from('x'));
  t.equal((await backend.head(bucket, 'k')).size, 1, 'then requests succeed');
  const refused = backendFor(server, { endpoint: 'http://localhost:9' });
  t.teardown(() => refused.close());
  await expectError(t, () => refused.head(bucket, 'k'), { kind: 'Transient', reason: 'NetworkError', cause: true }, 'a refused connection');
});

t.test('a body that ends early fails the read as Transient', async (t) => {
  // A server that announces 100 bytes, sends 10 and hangs up.
  const liar = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Length': 100, ETag: '"0123456789ABCDEF0123456789ABCDEF"', 'Last-Modified': new Date().toUTCString() });
    res.write(Buffer.alloc(10));
    setTimeout(() => res.socket?.destroy(), 20);
  });
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
  const port = (liar.address() as AddressInfo).port;
  const backend = new OssBackend({
    endpoint: `http://localhost:${port}`,
    region: 'oss-test-local',
    pathStyle: true,
    credentials: { accessKeyId: 'a', accessKeySecret: 'b' },
  });
  t.teardown(async () => {
    await backend.close();
    liar.closeAllConnections();
    await new Promise((resolve) => liar.close(resolve));
  });
  const { body } = await backend.get('bucket', 'k');
  await expectError(t, () => readAll(body), { kind: 'Transient' }, 'reading the cut body');
});

for (const signatureVersion of ['v4', 'v1'] as const) {
  t.test(`${signatureVersion} signed URLs: the server checks them; tampered or expired ones are refused`, async (t) => {
    const { backend, bucket } = await setup(t, {}, { signatureVersion });
    await backend.put(bucket, 'dir/a b+c', Buffer.from('signed'));
    const url = await backend.signedUrl(bucket, 'dir/a b+c', { method: 'GET', expiresIn: 60 });
    t.match(url, signatureVersion === 'v4' ? /x-oss-signature-version=OSS4-HMAC-SHA256/ : /OSSAccessKeyId=/, `a ${signatureVersion} URL`);
    t.equal(await (await fetch(url)).text(), 'signed', 'a signed GET works for a key with space and plus');
    const tampered = url.replace(/([Ee]xpires=)(\d+)/, (_, name: string, n: string) => `${name}${Number(n) + 1}`);
    t.not(tampered, url);
    t.equal((await fetch(tampered)).status, 403, 'changing the expiry breaks the signature');
    const expired = await backend.signedUrl(bucket, 'dir/a b+c', { method: 'GET', expiresIn: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const reply = await fetch(expired);
    t.equal(reply.status, 403, 'an expired URL is refused');
    t.match(await reply.text(), /expired/, 'saying it expired');
    const putUrl = await backend.signedUrl(bucket, 'typed', { method: 'PUT', expiresIn: 60, contentType: 'text/plain' });
    const put = await fetch(putUrl, { method: 'PUT', body: 'typed body', headers: { 'Content-Type': 'text/plain' } });
    t.equal(put.status, 200, 'a signed PUT with its content type works');
    t.equal((await backend.head(bucket, 'typed')).contentType, 'text/plain', 'and stores the content type');
    const wrongType = await fetch(putUrl, { method: 'PUT', body: 'x', headers: { 'Content-Type': 'text/html' } });
    t.equal(wrongType.status, 403, 'another content type breaks the signature');
  });
}

t.test('OSS features: append positions, S3 storage class names, restore, versions by id', async (t) => {
  const { backend, bucket } = await setup(t, { restoreDelayMs: 300 });
  await backend.put(bucket, 'normal', Buffer.from('n'));
  await expectError(t, () => backend.append(bucket, 'normal', 1, Buffer.from('x')), { kind: 'Other', reason: 'ObjectNotAppendable' },
    'a normal object cannot be appended to');
  const first = await backend.append(bucket, 'log', 0, Buffer.from('one '), { metadata: { kind: 'log' }, contentType: 'text/plain' });
  await backend.append(bucket, 'log', first.nextPosition, Buffer.from('two'));
  const info = await backend.head(bucket, 'log');
  t.same([info.size, info.metadata, info.contentType, info.extra?.['objectType']], [7, { kind: 'log' }, 'text/plain', 'Appendable'],
    'the first append sets metadata and type; head reports an Appendable object');

  await backend.put(bucket, 'cold', Buffer.from('cold'), { storageClass: 'GLACIER' });
  t.equal((await backend.head(bucket, 'cold')).storageClass, 'Archive', "S3's GLACIER is stored as OSS's Archive");
  await backend.restore(bucket, 'cold', { days: 1 });
  await backend.restore(bucket, 'cold', { days: 1 });
  t.pass('a second restore while one runs succeeds (RestoreAlreadyInProgress)');
  t.match((await backend.head(bucket, 'cold')).extra, { restore: 'ongoing-request="true"' }, 'head shows the restore running');
  await expectError(t, () => backend.get(bucket, 'cold'), { kind: 'Other', reason: 'InvalidObjectState' }, 'not readable yet');
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.equal((await readAll((await backend.get(bucket, 'cold')).body)).toString(), 'cold', 'readable once the restore is done');
  await expectError(t, () => backend.restore(bucket, 'normal', { days: 1 }), { kind: 'Other', reason: 'OperationNotSupported' },
    'a Standard object cannot be restored');
});

t.test('through openRemote (retries, throttling, Driver): a multipart upload is verified against the OSS etag', async (t) => {
  const { server, bucket } = await setup(t);
  const query = `endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&pathStyle=true`;
  const remote = await openRemote(`oss://${bucket}/docs/?${query}`, {
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.accessKeySecret },
  });
  t.teardown(() => remote.close());
  // 250 KiB in OSS's smallest parts (100 KiB): three parts, so the etag has the "-3" form.
  const data = randomBytes(250 * 1024);
  const key = `${remote.prefix}big.bin`;
  const stored = await remote.container.uploadObject(data, key, { multipartThreshold: 100 * 1024, partSize: 100 * 1024 });
  t.match(stored.hash, /^[0-9a-f]{32}-3$/, 'a three-part upload, checked against its etag');
  t.ok((await readAll(await remote.container.openObject(key))).equals(data), 'the object reads back');
  t.same((await remote.container.listPage({ prefix: remote.prefix })).objects.map((o) => o.key), [key], 'listed under the prefix');
});
