/**
 * The minio backend against a real S3 server: Ceph RGW on loopback (no MinIO
 * server is packaged for this platform). The shared conformance suite runs
 * first; then what is particular to this backend: keys and tag values that
 * look like numbers (minio-js's own parsers would mangle them), stream bodies
 * of the wrong length, metadata encoding, and notifications — refused by RGW,
 * and parsed from a stand-in for MinIO's listen stream.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { MinioBackend } from '../../drivers/minio.js';
import type { MinioBackendOptions } from '../../drivers/minio.js';
import { isStorageError } from '../../drivers/errors.js';
import { runConformance } from '../conformance/index.js';
import type { ConformanceTarget } from '../conformance/target.js';
import { useRgw } from '../servers/rgw.js';
import type { S3Server } from '../servers/rgw.js';
import { startFailingServer } from '../helpers/failing-server.js';
import { readAll } from '../conformance/helpers.js';
import { removeBucket } from '../helpers/buckets.js';

/**
 * A stand-in for MinIO's listen endpoint, since no MinIO server runs here:
 * it holds each GET open and writes the JSON lines the test gives it.
 */
async function startFakeListenServer() {
  const streams = new Set<ServerResponse>();
  let query = '';
  const server = createServer((req, res) => {
    query = new URL(req.url ?? '/', 'http://fake').search;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const write = (line: string) => {
    for (const res of streams) res.write(line);
  };
  return {
    port: (server.address() as AddressInfo).port,
    lastQuery: () => query,
    openStreams: () => streams.size,
    send: (doc: unknown) => write(`${JSON.stringify(doc)}\n`),
    keepAlive: () => write(' \n'),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function freshBucketName(): string {
  return `minio-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function backendFor(server: S3Server, overrides: Partial<MinioBackendOptions> = {}): MinioBackend {
  const url = new URL(server.endpoint);
  return new MinioBackend({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    useSSL: url.protocol === 'https:',
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...overrides,
  });
}

/** Deletes every object left in `bucket`, then the bucket; quiet when it is already gone. */

async function makeTarget(t: Test, server: S3Server): Promise<ConformanceTarget> {
  const backend = backendFor(server);
  const bucket = freshBucketName();
  await backend.createBucket(bucket);
  const denied = backendFor(server, {
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: `wrong-${server.secretAccessKey}` },
  });
  const failingServer = await startFailingServer();
  const failing = new MinioBackend({
    endPoint: '127.0.0.1',
    port: failingServer.port,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any-secret' },
  });
  t.teardown(async () => {
    await removeBucket(backend, bucket);
    await Promise.all([backend.close(), denied.close(), failing.close()]);
    await failingServer.close();
  });
  return {
    name: 'minio (RGW)',
    backend,
    bucket,
    freshBucketName,
    denied,
    failing,
    serverLacks: {
      notifications: "Ceph RGW does not implement MinIO's ListenBucketNotification extension (checked separately below)",
    },
  };
}

const server = await useRgw();

await runConformance(t, 'minio (RGW)', async () => ('skipped' in server ? server : makeTarget(t, server)));

if (!('skipped' in server)) {
  await t.test('minio specifics on RGW', async (t) => {
    const backend = backendFor(server);
    const bucket = freshBucketName();
    await backend.createBucket(bucket);
    t.teardown(async () => {
      await removeBucket(backend, bucket);
      await backend.close();
    });

    await t.test('numeric-looking keys and tag values stay text', async (t) => {
      const keys = ['007', '1e3', '0x1F', '12345678901234567890', 'true', ' 42 '];
      for (const key of keys) await backend.put(bucket, key, Buffer.from(key));
      const page = await backend.listPage(bucket);
      t.same(page.objects.map((o) => o.key).sort(), [...keys].sort(), 'listPage returns every key as written');
      await backend.putTags(bucket, '007', { version: '007', size: '1e3' });
      t.same(await backend.getTags(bucket, '007'), { version: '007', size: '1e3' }, 'tag values come back as written');
      await backend.deleteMany(bucket, keys);
    });

    await t.test('a stream body must have the declared size', async (t) => {
      const short = backend.put(bucket, 'short', Readable.from([Buffer.from('abc')]), { size: 10 });
      await t.rejects(short, { name: 'OtherError', reason: 'SizeMismatch' }, 'a short stream fails instead of hanging');
      const long = backend.put(bucket, 'long', Readable.from([Buffer.from('abcdefghijkl')]), { size: 10 });
      await t.rejects(long, { name: 'OtherError', reason: 'SizeMismatch' }, 'a long stream fails');
      await t.rejects(backend.head(bucket, 'short'), { name: 'NotFoundError' }, 'no object was created');
      await backend.put(bucket, 'exact', Readable.from([Buffer.from('abc'), Buffer.from('defg')]), { size: 7 });
      t.equal((await readAll((await backend.get(bucket, 'exact')).body)).toString(), 'abcdefg', 'an exact stream is stored');
    });

    await t.test('metadata values HTTP cannot carry round-trip', async (t) => {
      const metadata = { empty: '', padded: '  both ends  ', controls: 'tab\there\nline', rfc2047: '=?UTF-8?B?eA==?=', unicode: 'Grüße, 東京 ✓' };
      await backend.put(bucket, 'meta', Buffer.from('m'), { metadata });
      t.same((await backend.head(bucket, 'meta')).metadata, metadata, 'head returns the exact values');
      const copy = await backend.copy({ bucket, key: 'meta' }, { bucket, key: 'meta-copy' }, { contentType: 'text/x-test' });
      t.ok(copy.etag, 'copy changing only the content type succeeds');
      const info = await backend.head(bucket, 'meta-copy');
      t.same(info.metadata, metadata, 'that copy keeps the metadata');
      t.equal(info.contentType, 'text/x-test', 'and takes the new content type');
    });

    await t.test('etag preconditions on get and copy', async (t) => {
      const { etag } = await backend.put(bucket, 'guarded', Buffer.from('v1'));
      const wrong = { name: 'PreconditionFailedError' };
      await t.rejects(backend.get(bucket, 'guarded', { ifMatch: 'bad0bad0bad0bad0bad0bad0bad0bad0' }), wrong, 'get with a wrong etag');
      const got = await backend.get(bucket, 'guarded', { ifMatch: etag });
      t.equal((await readAll(got.body)).toString(), 'v1', 'get with the right etag');
      const copy = (ifMatch: string) => backend.copy({ bucket, key: 'guarded' }, { bucket, key: 'guarded-copy' }, { ifMatch });
      await t.rejects(copy('bad0bad0bad0bad0bad0bad0bad0bad0'), wrong, 'copy from a source with another etag');
      await t.rejects(backend.head(bucket, 'guarded-copy'), { name: 'NotFoundError' }, 'the refused copy wrote nothing');
      t.equal((await copy(etag)).etag, etag, 'copy with the right etag');
    });

    await t.test('RGW refuses MinIO notifications as Unsupported', async (t) => {
      await t.rejects(backend.watch(bucket, {}, () => undefined), { kind: 'Unsupported', message: /not supported by minio/ });
    });

    await t.test('messages never carry the secret', async (t) => {
      const secret = `very-secret-${randomBytes(4).toString('hex')}`;
      const denied = backendFor(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: secret } });
      t.teardown(() => denied.close());
      const error = await denied.head(bucket, 'meta').catch((e: unknown) => e);
      t.ok(isStorageError(error, 'AccessDenied'), 'a wrong secret is AccessDenied');
      t.notMatch(String((error as Error).message), secret, 'the message does not contain the secret');
      t.match(String((error as Error).message), /^minio:\/\/[^ ]+\/meta: /, 'the message names the object');
    });
  });
}

/** A TCP relay to `port` that counts the connections made through it. */
async function countingRelay(port: number) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const relay = createNetServer((client) => {
    connections++;
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    // A reset on one side ends the other, as it would without the relay.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => relay.close(resolve));
    },
  };
}

await t.test('server failures are Transient; a 500 leaves the socket reusable', async (t) => {
  for (const mode of ['500', 'reset'] as const) {
    const failing = await startFailingServer(mode);
    const relay = await countingRelay(failing.port);
    const backend = new MinioBackend({ endPoint: '127.0.0.1', port: relay.port, credentials: { accessKeyId: 'k', secretAccessKey: 'secret-key' } });
    const calls: (() => Promise<unknown>)[] = [() => backend.get('bucket', 'key'), () => backend.listPage('bucket'), () => backend.put('bucket', 'key', Buffer.from('x'))];
    for (const call of [...calls, ...calls]) {
      await t.rejects(call(), { name: 'TransientError' }, `mode ${mode}: a failed request is Transient`);
    }
    if (mode === '500') t.equal(relay.connections(), 1, 'six failed requests in a row used one connection');
    await backend.close();
    await relay.close();
    await failing.close();
  }
});

await t.test('notifications from a stand-in for MinIO listen (no MinIO server here)', async (t) => {
  const fake = await startFakeListenServer();
  const backend = new MinioBackend({ endPoint: '127.0.0.1', port: fake.port, credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
  t.teardown(async () => {
    await backend.close();
    await fake.close();
  });
  const events: unknown[] = [];
  const watcher = await backend.watch('bucket', { prefix: 'dir/' }, (e) => events.push(e));
  t.match(fake.lastQuery(), /events=s3%3AObjectCreated%3A%2A/, 'the listen request asks for create events');
  t.match(fake.lastQuery(), /prefix=dir%2F/, 'and for the prefix');
  fake.send({ Records: [{ eventName: 's3:ObjectCreated:Put', s3: { object: { key: 'dir/a+b%2Bc', size: 5, eTag: 'abc' } } }] });
  fake.send({ Records: [{ eventName: 's3:ObjectRemoved:Delete', s3: { object: { key: 'dir/gone' } } }] });
  fake.keepAlive();
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.same(events, [
    { type: 'put', key: 'dir/a b+c', etag: 'abc', size: 5 },
    { type: 'delete', key: 'dir/gone' },
  ]);
  await watcher.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(fake.openStreams(), 0, 'close() ends the listen request');
});
