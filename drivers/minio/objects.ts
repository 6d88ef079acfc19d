/**
 * Object operations of the minio backend: head, get (ranged, streamed), put
 * (Buffer or exact-length stream), server-side copy, delete. Each is one
 * request in the common case; extra requests happen only on paths S3 cannot
 * answer in one: a HEAD 404 that does not say whether key or bucket is
 * missing, a range at or past the end, a copy that replaces only part of the
 * attributes or carries an etag condition (see checkSourceEtag).
 */
import type { IncomingMessage } from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import type {
  Body,
  CopyOptions,
  GetOptions,
  HeadOptions,
  ObjectBody,
  ObjectInfo,
  ObjectRef,
  PutOptions,
  WriteResult,
} from '../contract.js';
import { sameEtag } from '../checks.js';
import { NotFoundError, OtherError, PreconditionFailedError } from '../errors.js';
import type { StorageError } from '../errors.js';
import { checkRange, httpRangeHeader, isEmptyRange, parseContentRange } from '../range.js';
import type { ByteRange } from '../range.js';
import { conditionEtag, copySource, quoteEtag, unquoteEtag } from '../wire/s3-format.js';
import { parseEmbeddedError, parseResultEtag } from '../wire/s3-xml.js';
import { HttpStatusError, header } from './connection.js';
import type { RequestSpec } from './connection.js';
import { guarded, query } from './context.js';
import type { MinioContext } from './context.js';
import { translate } from './errors.js';
import { infoFromHeaders, writeHeaders } from './headers.js';

function versionQuery(versionId: string | undefined): string {
  return query({ versionId });
}

export function writeResult(res: IncomingMessage, etag = unquoteEtag(header(res, 'etag'))): WriteResult {
  const versionId = header(res, 'x-amz-version-id');
  return versionId === undefined ? { etag } : { etag, versionId };
}

/**
 * A HEAD answers 404 with no body whether the key or the bucket is missing.
 * On that error path only, one HEAD of the bucket tells the two apart.
 */
async function resolveHeadNotFound(ctx: MinioContext, bucket: string, key: string, error: StorageError): Promise<StorageError> {
  if (!(error.cause instanceof HttpStatusError) || !error.cause.bodiless || error.kind !== 'NotFound') return error;
  const bucketExists = await ctx.conn.minio.bucketExists(bucket).catch(() => true);
  return bucketExists
    ? new NotFoundError(`${ctx.namer.url(bucket, key)}: no such key`, { reason: 'NoSuchKey', status: 404, cause: error.cause })
    : new NotFoundError(`${ctx.namer.url(bucket)}: no such bucket`, { reason: 'NoSuchBucket', status: 404, cause: error.cause });
}

export async function headObject(ctx: MinioContext, bucket: string, key: string, options: HeadOptions = {}): Promise<ObjectInfo> {
  const spec: RequestSpec = { method: 'HEAD', bucketName: bucket, objectName: key, query: versionQuery(options.versionId) };
  try {
    const res = await ctx.conn.sendAndDrain(spec);
    return infoFromHeaders(key, res.headers);
  } catch (e) {
    throw await resolveHeadNotFound(ctx, bucket, key, translate(e, ctx.namer.url(bucket, key), ctx.namer));
  }
}

function checkedRange(where: string, range: ByteRange): void {
  try {
    checkRange(range);
  } catch (e) {
    throw new OtherError(`${where}: ${(e as Error).message}`, { reason: 'InvalidRange', cause: e });
  }
}

/**
 * A read at or past the end: S3 answers 416 (and cannot express an empty
 * range at all), so the size decides: at the end → empty body, past it → error.
 */
async function bodyAtEnd(ctx: MinioContext, bucket: string, key: string, options: GetOptions, start: number, cause?: unknown): Promise<ObjectBody> {
  const where = ctx.namer.url(bucket, key);
  const info = await headObject(ctx, bucket, key, options.versionId === undefined ? {} : { versionId: options.versionId });
  if (options.ifMatch !== undefined && !sameEtag(info.etag, options.ifMatch)) {
    throw new PreconditionFailedError(`${where}: etag is ${info.etag}, not ${options.ifMatch}`, { reason: 'PreconditionFailed', cause });
  }
  if (start > info.size) {
    throw new OtherError(`${where}: range start ${start} is beyond the end of the object (size ${info.size})`, {
      reason: 'InvalidRange',
      status: 416,
      cause,
    });
  }
  return { info, range: { start, end: start }, body: Readable.from([]) };
}

export async function getObject(ctx: MinioContext, bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
  const where = ctx.namer.url(bucket, key);
  const range = options.range;
  if (range !== undefined) checkedRange(where, range);
  if (range !== undefined && isEmptyRange(range)) return bodyAtEnd(ctx, bucket, key, options, range.start);
  const headers: Record<string, string> = {};
  const rangeHeader = httpRangeHeader(range);
  if (rangeHeader !== undefined) headers['range'] = rangeHeader;
  if (options.ifMatch !== undefined) headers['if-match'] = quoteEtag(options.ifMatch);
  const spec: RequestSpec = { method: 'GET', bucketName: bucket, objectName: key, headers, query: versionQuery(options.versionId) };
  let res: IncomingMessage;
  try {
    res = await ctx.conn.send(spec, '', [200, 206]);
  } catch (e) {
    const error = translate(e, where, ctx.namer);
    if (range !== undefined && error.reason === 'InvalidRange') return bodyAtEnd(ctx, bucket, key, options, range.start, e);
    throw error;
  }
  const info = infoFromHeaders(key, res.headers);
  const served = res.statusCode === 206 ? parseContentRange(header(res, 'content-range')) : undefined;
  return { info, range: served ? { start: served.start, end: served.end } : { start: 0, end: info.size }, body: res };
}

/** Passes a stream through, failing it if it is not exactly `size` bytes (a short body would hang the request). */
function exactLength(body: Readable, size: number, where: string): Readable {
  let seen = 0;
  const mismatch = (what: string) =>
    new OtherError(`${where}: the body stream ${what}, its declared size is ${size}`, { reason: 'SizeMismatch' });
  const check = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > size) done(mismatch('is longer'));
      else done(null, chunk);
    },
    flush(done: TransformCallback) {
      done(seen === size ? null : mismatch(`has only ${seen} bytes`));
    },
  });
  return pipeline(body, check, () => undefined);
}

function putHeaders(options: PutOptions, where: string): Record<string, string> {
  const headers = writeHeaders(options, where);
  // Bare (conditionEtag): RGW 16 compares a PUT's If-Match verbatim with the bare etag.
  const ifMatch = conditionEtag(options.ifMatch);
  if (ifMatch !== undefined) headers['if-match'] = ifMatch;
  if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
  return headers;
}

export function putObject(ctx: MinioContext, bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
  const where = ctx.namer.url(bucket, key);
  return guarded(ctx, where, async () => {
    const spec: RequestSpec = { method: 'PUT', bucketName: bucket, objectName: key, headers: putHeaders(options, where) };
    let res: IncomingMessage;
    if (Buffer.isBuffer(body)) {
      res = await ctx.conn.send(spec, body);
    } else {
      const size = options.size;
      if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
        throw new OtherError(`${where}: a stream body needs its exact length in options.size`, { reason: 'MissingSize' });
      }
      res = await ctx.conn.sendStream(spec, exactLength(body, size, where), size);
    }
    res.resume();
    return writeResult(res);
  });
}

/** Throws the error document some servers send with status 200 (copy, complete). */
export function throwEmbeddedError(text: string, res: IncomingMessage): void {
  const embedded = parseEmbeddedError(text);
  if (embedded !== undefined) {
    throw new HttpStatusError(res.statusCode ?? 200, embedded.code, embedded.message, header(res, 'x-amz-request-id'), false);
  }
}

/** Headers replacing the copy's attributes; what the caller left out is taken from the source (one HEAD). */
async function replaceHeaders(ctx: MinioContext, source: ObjectRef, options: CopyOptions, where: string): Promise<Record<string, string>> {
  let { metadata, contentType } = options;
  if (metadata === undefined || contentType === undefined) {
    const info = await headObject(ctx, source.bucket, source.key, source.versionId === undefined ? {} : { versionId: source.versionId });
    metadata ??= info.metadata ?? {};
    contentType ??= info.contentType;
  }
  const attrs = contentType === undefined ? { metadata } : { metadata, contentType };
  return { ...writeHeaders(attrs, where), 'x-amz-metadata-directive': 'REPLACE' };
}

/**
 * Copy preconditions: RGW 16 ignores x-amz-copy-source-if-match, so the
 * source's etag is also checked with a HEAD first (only when one is asked for).
 */
async function checkSourceEtag(ctx: MinioContext, source: ObjectRef, ifMatch: string, where: string): Promise<void> {
  const info = await headObject(ctx, source.bucket, source.key, source.versionId === undefined ? {} : { versionId: source.versionId });
  if (!sameEtag(info.etag, ifMatch)) {
    throw new PreconditionFailedError(`${where}: the source's etag is ${info.etag}, not ${unquoteEtag(ifMatch)}`, {
      reason: 'PreconditionFailed',
    });
  }
}

export function copyObject(ctx: MinioContext, source: ObjectRef, dest: ObjectRef, options: CopyOptions = {}): Promise<WriteResult> {
  const where = `${ctx.namer.url(dest.bucket, dest.key)} (copy of ${ctx.namer.url(source.bucket, source.key)})`;
  return guarded(ctx, where, async () => {
    if (options.ifMatch !== undefined) await checkSourceEtag(ctx, source, options.ifMatch, where);
    const replacing = options.metadata !== undefined || options.contentType !== undefined;
    const headers: Record<string, string> = {
      ...(replacing ? await replaceHeaders(ctx, source, options, where) : {}),
      'x-amz-copy-source': copySource(source),
    };
    if (options.ifMatch !== undefined) headers['x-amz-copy-source-if-match'] = quoteEtag(options.ifMatch);
    const { res, text } = await ctx.conn.sendForText({ method: 'PUT', bucketName: dest.bucket, objectName: dest.key, headers });
    throwEmbeddedError(text, res);
    return writeResult(res, parseResultEtag(text, 'CopyObjectResult') || unquoteEtag(header(res, 'etag')));
  });
}

export function deleteObject(ctx: MinioContext, bucket: string, key: string): Promise<void> {
  return guarded(ctx, ctx.namer.url(bucket, key), () => ctx.conn.minio.removeObject(bucket, key));
}

