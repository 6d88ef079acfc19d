/**
 * Multipart primitives of the minio backend, each one S3 request sent through
 * minio-js's generic request (the client has no public, correct call for
 * them: its composeObject ignores a non-zero range start and reuses part
 * numbers, its abort/uploadPart do not escape the upload id).
 */
import { Readable } from 'node:stream';
import type { CreateMultipartOptions, ObjectRef, PartInfo, PartResult, UploadInfo, WriteResult } from '../contract.js';
import { S3_LIMITS } from '../base-backend.js';
import { checkPartNumber } from '../checks.js';
import type { ByteRange } from '../range.js';
import { copyRangeHeader, copySource, quoteEtag, unquoteEtag } from '../wire/s3-format.js';
import { S3_NAMESPACE, completeMultipartXml, parseListParts, parseListUploads, parseResultEtag, parseUploadId } from '../wire/s3-xml.js';
import { header } from './connection.js';
import { guarded, query } from './context.js';
import type { MinioContext } from './context.js';
import { translate } from './errors.js';
import { writeHeaders } from './headers.js';
import { allKeyIdPages } from './listing.js';
import { headObject, throwEmbeddedError, writeResult } from './objects.js';

export function createMultipart(ctx: MinioContext, bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
  const where = ctx.namer.url(bucket, key);
  return guarded(ctx, where, async () => {
    const headers = writeHeaders(options, where);
    const { text } = await ctx.conn.sendForText({ method: 'POST', bucketName: bucket, objectName: key, query: 'uploads', headers });
    return parseUploadId(text);
  });
}

export function uploadPart(ctx: MinioContext, bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
  const where = ctx.namer.url(bucket, key);
  return guarded(ctx, where, async () => {
    checkPartNumber(partNumber, S3_LIMITS.maxParts, where);
    const q = query({ partNumber, uploadId });
    // Streamed, so unsigned (UNSIGNED-PAYLOAD): signing every part with SHA-256 cost ~0.7 CPU-s/GiB here and as much in the server.
    const res = await ctx.conn.sendStream({ method: 'PUT', bucketName: bucket, objectName: key, query: q }, Readable.from([body]), body.length);
    res.resume();
    return { partNumber, etag: unquoteEtag(header(res, 'etag')) };
  });
}

/** The inclusive `bytes=a-b` of a copy range; an open end needs the source's size (one HEAD). */
function copyRange(ctx: MinioContext, where: string, source: ObjectRef, range: ByteRange): Promise<string | undefined> {
  const sizeOf = async () =>
    (await headObject(ctx, source.bucket, source.key, source.versionId === undefined ? {} : { versionId: source.versionId })).size;
  return copyRangeHeader(range, sizeOf, where);
}

export function uploadPartCopy(
  ctx: MinioContext,
  target: { bucket: string; key: string; uploadId: string; partNumber: number },
  source: ObjectRef,
  range: ByteRange,
): Promise<PartResult> {
  const where = `${ctx.namer.url(target.bucket, target.key)} (part ${target.partNumber} from ${ctx.namer.url(source.bucket, source.key)})`;
  return guarded(ctx, where, async () => {
    checkPartNumber(target.partNumber, S3_LIMITS.maxParts, where);
    const headers: Record<string, string> = { 'x-amz-copy-source': copySource(source) };
    const rangeHeader = await copyRange(ctx, where, source, range);
    if (rangeHeader !== undefined) headers['x-amz-copy-source-range'] = rangeHeader;
    const q = query({ partNumber: target.partNumber, uploadId: target.uploadId });
    const { res, text } = await ctx.conn.sendForText({ method: 'PUT', bucketName: target.bucket, objectName: target.key, query: q, headers });
    throwEmbeddedError(text, res);
    return { partNumber: target.partNumber, etag: parseResultEtag(text, 'CopyPartResult') };
  });
}

export function completeMultipart(ctx: MinioContext, bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
  const where = ctx.namer.url(bucket, key);
  return guarded(ctx, where, async () => {
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const listed = sorted.map((p) => ({ partNumber: p.partNumber, etag: quoteEtag(p.etag) }));
    const body = Buffer.from(completeMultipartXml(listed, S3_NAMESPACE), 'utf8');
    const spec = { method: 'POST' as const, bucketName: bucket, objectName: key, query: query({ uploadId }), headers: { 'content-type': 'application/xml' } };
    const { res, text } = await ctx.conn.sendForText(spec, body);
    throwEmbeddedError(text, res);
    const etag = parseResultEtag(text, 'CompleteMultipartUploadResult');
    // RGW answers with an empty ETag here; the object's HEAD has the real one.
    return writeResult(res, etag || (await headObject(ctx, bucket, key)).etag);
  });
}

export async function abortMultipart(ctx: MinioContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const where = ctx.namer.url(bucket, key);
  try {
    await ctx.conn.sendAndDrain({ method: 'DELETE', bucketName: bucket, objectName: key, query: query({ uploadId }) }, '', [200, 204]);
  } catch (e) {
    const error = translate(e, where, ctx.namer);
    if (error.reason !== 'NoSuchUpload') throw error;
  }
}

export function listMultipartUploads(ctx: MinioContext, bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
  return guarded(ctx, ctx.namer.url(bucket, options.prefix), () => allKeyIdPages(ctx, bucket, 'uploads', options.prefix, parseListUploads));
}

export function listParts(ctx: MinioContext, bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
  return guarded(ctx, ctx.namer.url(bucket, key), async () => {
    const parts: PartInfo[] = [];
    let marker: string | undefined;
    do {
      const q = query({ uploadId, 'part-number-marker': marker });
      const page = parseListParts((await ctx.conn.sendForText({ method: 'GET', bucketName: bucket, objectName: key, query: q })).text);
      parts.push(...page.parts);
      marker = page.nextMarker;
    } while (marker !== undefined);
    return parts;
  });
}
