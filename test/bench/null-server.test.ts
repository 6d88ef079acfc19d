/**
 * The benchmark's null S3 server, driven through the s3 backend and the
 * transfer helpers exactly as a bucketfs mount drives it: small objects
 * round-trip (their MD5 is checked on the way back), large ones are
 * discarded but keep their size and a true etag, ranges serve the same
 * bytes every time, listings paginate and group by delimiter, copies keep
 * or replace metadata, multipart uploads (with server-side part copies)
 * complete, abort and list. Also the aws-chunked decoder, fed byte by byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { S3Backend } from '../../drivers/s3.js';
import { downloadObject, multipartEtag, uploadObject } from '../../drivers/transfer.js';
import { readAll } from '../conformance/helpers.js';
import { AwsChunkedDecoder } from './null-server-body.js';
import { startNullServer } from './null-server.js';

const MiB = 2 ** 20;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();

t.test('null server through the s3 backend', async (t) => {
  const server = await startNullServer();
  t.teardown(() => server.stop());
  const { endpoint, region, accessKeyId, secretAccessKey } = server.s3;
  const backend = new S3Backend({ endpoint, region, credentials: { accessKeyId, secretAccessKey } });
  t.teardown(() => backend.close());
  const bucket = 'nullb';
  await backend.createBucket(bucket);

  t.test('small objects round-trip with their metadata', async (t) => {
    const body = randomBytes(5000);
    const put = await backend.put(bucket, 'dir/small', body, { metadata: { mode: '33188' }, contentType: 'text/plain' });
    t.equal(put.etag, md5(body).toString('hex'));
    const info = await backend.head(bucket, 'dir/small');
    t.match(info, { size: 5000, etag: put.etag, metadata: { mode: '33188' } });
    t.same(await readAll((await backend.get(bucket, 'dir/small')).body), body);
    t.same(await readAll((await backend.get(bucket, 'dir/small', { range: { start: 10, end: 20 } })).body), body.subarray(10, 20));
    const dir = await mkdtemp(join(tmpdir(), 'null-server-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await downloadObject(backend, bucket, 'dir/small', join(dir, 'f'));
    t.same(await readFile(join(dir, 'f')), body);
  });

  t.test('large objects: bodies discarded, size and etag kept, ranges deterministic', async (t) => {
    const body = randomBytes(40 * MiB);
    const streamed = await backend.put(bucket, 'big-put', Readable.from([body.subarray(0, 20 * MiB), body.subarray(20 * MiB)]), { size: body.length });
    t.equal(streamed.etag, md5(body).toString('hex'), 'a streamed PUT is answered with the MD5 of its body');
    const multi = await uploadObject(backend, bucket, 'big-mp', body, { partSize: 8 * MiB });
    const parts = [0, 1, 2, 3, 4].map((i) => md5(body.subarray(i * 8 * MiB, (i + 1) * 8 * MiB)));
    t.equal(multi.etag, multipartEtag(parts));
    t.match(await backend.head(bucket, 'big-mp'), { size: 40 * MiB, etag: multi.etag });
    const range = { start: 3 * MiB - 7, end: 5 * MiB + 11 };
    const a = await readAll((await backend.get(bucket, 'big-mp', { range })).body);
    const b = await readAll((await backend.get(bucket, 'big-mp', { range: { start: range.start + 5, end: range.end } })).body);
    t.equal(a.length, range.end - range.start);
    t.same(a.subarray(5), b, 'the same offsets serve the same bytes');
    t.equal((await readAll((await backend.get(bucket, 'big-mp')).body)).length, 40 * MiB);
    t.equal((await readAll((await backend.get(bucket, 'big-mp', { range: { start: 40 * MiB, end: 41 * MiB } })).body)).length, 0, 'a range at the end is empty');
    await t.rejects(backend.get(bucket, 'big-mp', { ifMatch: 'not-it' }), { code: 'PreconditionFailed' });
  });

  t.test('multipart with part copies, abort and listing of uploads', async (t) => {
    const id = await backend.createMultipart(bucket, 'assembled');
    const p1 = await backend.uploadPartCopy(bucket, 'assembled', id, 1, { bucket, key: 'big-mp' }, { start: 0, end: 5 * MiB });
    const p2 = await backend.uploadPart(bucket, 'assembled', id, 2, Buffer.from('tail'));
    t.match(await backend.listMultipartUploads(bucket), [{ key: 'assembled', uploadId: id }]);
    await backend.completeMultipart(bucket, 'assembled', id, [p1, p2]);
    t.equal((await backend.head(bucket, 'assembled')).size, 5 * MiB + 4);
    const aborted = await backend.createMultipart(bucket, 'gone');
    await backend.abortMultipart(bucket, 'gone', aborted);
    t.same(await backend.listMultipartUploads(bucket), []);
  });

  t.test('listings, copies, deletes', async (t) => {
    await Promise.all(Array.from({ length: 25 }, (_, i) => backend.put(bucket, `l/d${i % 3}/f${String(i).padStart(2, '0')}`, Buffer.from('x'))));
    await backend.put(bucket, 'l/top', Buffer.from('y'));
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await backend.listPage(bucket, { prefix: 'l/', delimiter: '/', maxKeys: 2, ...(token === undefined ? {} : { token }) });
      seen.push(...page.prefixes, ...page.objects.map((o) => o.key));
      token = page.nextToken;
    } while (token !== undefined);
    t.same(seen.sort(), ['l/d0/', 'l/d1/', 'l/d2/', 'l/top']);
    const flat = await backend.listPage(bucket, { prefix: 'l/d1/' });
    t.equal(flat.objects.length, 8);
    await backend.copy({ bucket, key: 'dir/small' }, { bucket, key: 'copied' });
    t.match(await backend.head(bucket, 'copied'), { size: 5000, metadata: { mode: '33188' } });
    await backend.copy({ bucket, key: 'dir/small' }, { bucket, key: 'copied' }, { metadata: { mode: '33261' } });
    t.match(await backend.head(bucket, 'copied'), { metadata: { mode: '33261' } });
    await backend.deleteMany(bucket, flat.objects.map((o) => o.key));
    await backend.delete(bucket, 'copied');
    t.equal((await backend.listPage(bucket, { prefix: 'l/d1/' })).objects.length, 0);
    await t.rejects(backend.head(bucket, 'copied'), { code: 'NotFound' });
  });
});

t.test('aws-chunked framing decodes whatever way it is split', async (t) => {
  const payload = randomBytes(3000);
  const framed = Buffer.concat([
    Buffer.from('800;chunk-signature=abc\r\n'), payload.subarray(0, 0x800), Buffer.from('\r\n'),
    Buffer.from(`${(3000 - 0x800).toString(16)};chunk-signature=def\r\n`), payload.subarray(0x800), Buffer.from('\r\n'),
    Buffer.from('0;chunk-signature=0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
  ]);
  for (const step of [1, 2, 7, framed.length]) {
    const out: Buffer[] = [];
    const decoder = new AwsChunkedDecoder((d) => out.push(Buffer.from(d)));
    for (let i = 0; i < framed.length; i += step) decoder.push(framed.subarray(i, i + step));
    t.same(Buffer.concat(out), payload, `pushed ${step} bytes at a time`);
  }
});
