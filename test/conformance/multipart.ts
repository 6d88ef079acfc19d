/**
 * Multipart uploads: create, upload three parts (two of the minimum part size
 * and a small last one), list them, complete, and get the exact bytes back
 * with an S3 `-3` etag; abort (the upload is gone, aborting an unknown upload
 * succeeds); a too-small middle part fails clearly; and UploadPartCopy builds
 * an object from ranges of another object (non-zero starts) plus a part.
 */
import type { PartResult } from '../../drivers/contract.js';
import { deleteKeys, expectError, expectUnsupported, getBody, lacks, randomBody, type Ctx, type Tap } from './helpers.js';

const SMALL = 1024;

export async function multipartTests(t: Tap, ctx: Ctx): Promise<void> {
  if (!ctx.backend.capabilities.multipart) {
    await expectUnsupported(t, () => ctx.backend.createMultipart(ctx.bucket, `${ctx.root}mp/x`), 'createMultipart');
    return;
  }
  await t.test('create, parts, list, complete', (t) => completeTests(t, ctx));
  await t.test('abort', (t) => abortTests(t, ctx));
  await t.test('a too-small middle part', (t) => tooSmallTests(t, ctx));
  await t.test('uploadPartCopy', (t) => partCopyTests(t, ctx));
}

async function completeTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}mp/complete`;
  const partSize = backend.limits.minPartSize;
  const datas = [randomBody(partSize), randomBody(partSize), randomBody(SMALL)];
  const uploadId = await backend.createMultipart(bucket, key, { metadata: { Origin: 'multipart' }, contentType: 'application/x-mp' });
  t.ok(uploadId.length > 0, 'createMultipart returns an upload id');
  const listsUploads = !lacks(t, ctx, 'listMultipartUploads');
  if (listsUploads) {
    const listed = await backend.listMultipartUploads(bucket, { prefix: key });
    t.ok(listed.some((u) => u.uploadId === uploadId && u.key === key), 'listMultipartUploads lists the upload');
  }

  const parts = await Promise.all(datas.map((data, i) => backend.uploadPart(bucket, key, uploadId, i + 1, data)));
  t.same(parts.map((p) => p.partNumber), [1, 2, 3], 'uploadPart returns the part numbers');
  t.ok(parts.every((p) => p.etag.length > 0 && !p.etag.includes('"')), 'part etags have no quotes');
  if (!lacks(t, ctx, 'listParts')) {
    const infos = await backend.listParts(bucket, key, uploadId);
    t.same(infos.map((p) => [p.partNumber, p.size, p.etag]), parts.map((p, i) => [p.partNumber, datas[i]!.length, p.etag]),
      'listParts gives each part number, size and etag');
  }

  const done = await backend.completeMultipart(bucket, key, uploadId, parts);
  const head = await backend.head(bucket, key);
  const whole = Buffer.concat(datas);
  t.equal(head.size, whole.length, 'the object has the summed size');
  t.ok((await getBody(ctx, key)).equals(whole), 'the object holds the parts in order, byte for byte');
  t.equal(done.etag, head.etag, 'completeMultipart returns the etag head gives');
  if (!lacks(t, ctx, 'multipartEtag')) t.match(head.etag, /^[0-9a-f]{32}-3$/, "the etag has S3's '-3' multipart form");
  t.same([head.metadata, head.contentType], [{ origin: 'multipart' }, 'application/x-mp'], 'metadata given at create is kept');
  if (listsUploads) {
    const after = await backend.listMultipartUploads(bucket, { prefix: key });
    t.notOk(after.some((u) => u.uploadId === uploadId), 'the completed upload is no longer listed');
  }
  await backend.delete(bucket, key);
}

async function abortTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}mp/aborted`;
  if (lacks(t, ctx, 'abortMultipart')) return;
  await backend.abortMultipart(bucket, key, 'no-such-upload-id');
  t.pass('aborting an unknown upload succeeds');
  const uploadId = await backend.createMultipart(bucket, key);
  await backend.uploadPart(bucket, key, uploadId, 1, randomBody(SMALL));
  await backend.abortMultipart(bucket, key, uploadId);
  if (!lacks(t, ctx, 'listParts')) {
    await expectError(t, () => backend.listParts(bucket, key, uploadId), { kind: 'NotFound' }, 'listParts of an aborted upload');
  }
  await expectError(t, () => backend.uploadPart(bucket, key, uploadId, 2, randomBody(SMALL)), { kind: 'NotFound' },
    'uploadPart to an aborted upload');
  if (!lacks(t, ctx, 'listMultipartUploads')) {
    const listed = await backend.listMultipartUploads(bucket, { prefix: key });
    t.notOk(listed.some((u) => u.uploadId === uploadId), 'the aborted upload is no longer listed');
  }
  await expectError(t, () => backend.head(bucket, key), { kind: 'NotFound', reason: 'NoSuchKey' }, 'an aborted upload makes no object');
  await backend.abortMultipart(bucket, key, uploadId);
  t.pass('aborting it again succeeds');
}

async function tooSmallTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const key = `${ctx.root}mp/too-small`;
  if (lacks(t, ctx, 'partSizeRule')) return;
  const sizes = [backend.limits.minPartSize, SMALL, SMALL];
  const uploadId = await backend.createMultipart(bucket, key);
  const parts: PartResult[] = [];
  for (const [i, size] of sizes.entries()) parts.push(await backend.uploadPart(bucket, key, uploadId, i + 1, randomBody(size)));
  await expectError(t, () => backend.completeMultipart(bucket, key, uploadId, parts), { kind: 'Other', reason: 'EntityTooSmall' },
    `completing with a ${SMALL}-byte middle part fails`);
  await expectError(t, () => backend.head(bucket, key), { kind: 'NotFound' }, 'no object was made');
  await backend.abortMultipart(bucket, key, uploadId);
}

async function partCopyTests(t: Tap, ctx: Ctx): Promise<void> {
  const { backend, bucket } = ctx;
  const source = `${ctx.root}mp/copy-source`;
  const key = `${ctx.root}mp/copied`;
  const partSize = backend.limits.minPartSize;
  if (!backend.capabilities.uploadPartCopy) {
    await expectUnsupported(t, async () => {
      const id = await backend.createMultipart(bucket, key);
      try {
        await backend.uploadPartCopy(bucket, key, id, 1, { bucket, key: source }, { start: 0, end: 1 });
      } finally {
        await backend.abortMultipart(bucket, key, id);
      }
    }, 'uploadPartCopy');
    return;
  }
  if (lacks(t, ctx, 'uploadPartCopy')) return;
  const src = randomBody(2 * partSize + 4096);
  await backend.put(bucket, source, src);
  // Ranges that start inside the source: a client that drops the start copies the wrong bytes.
  const ranges = [
    { start: 1000, end: 1000 + partSize },
    { start: partSize + 7, end: 2 * partSize + 7 },
  ];
  const tail = randomBody(SMALL);
  const uploadId = await backend.createMultipart(bucket, key);
  const parts: PartResult[] = [];
  for (const [i, range] of ranges.entries()) {
    parts.push(await backend.uploadPartCopy(bucket, key, uploadId, i + 1, { bucket, key: source }, range));
  }
  parts.push(await backend.uploadPart(bucket, key, uploadId, 3, tail));
  await backend.completeMultipart(bucket, key, uploadId, parts);
  const expected = Buffer.concat([...ranges.map((r) => src.subarray(r.start, r.end)), tail]);
  const body = await getBody(ctx, key);
  t.equal(body.length, expected.length, 'the copied object has the summed size');
  t.ok(body.equals(expected), 'two ranged part copies and an uploaded part, byte for byte');
  await deleteKeys(ctx, [source, key]);
}
