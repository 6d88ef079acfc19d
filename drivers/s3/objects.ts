/**
 * Single-object operations of the s3 backend: head, get (streamed, ranged),
 * put, server-side copy and delete. GET bodies are handed to the caller as
 * the SDK's socket stream, never buffered; no HEAD precedes a GET except to
 * answer a request S3 itself cannot express (an empty range, a read at EOF).
 */
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type ObjectCannedACL,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
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
import { OtherError, PreconditionFailedError, isStorageError, type StorageError } from '../errors.js';
import { httpRangeHeader, isEmptyRange, parseContentRange, resolveRange } from '../range.js';
import { conditionEtag, copySource, encodeMetadata, taggingHeader, unquoteEtag } from '../wire/s3-format.js';
import { bucketExistsRecently } from './buckets.js';
import { objectInfoFromHeaders } from './convert.js';
import { httpStatusOf, s3Call, s3Url, translateS3Error, type Where } from './errors.js';
import { emptyBody, sizedBody, sliceBody } from './bodies.js';

/**
 * Translates a failure of a request on one object. HEAD replies carry no
 * error code, so a bare 404 costs one HeadBucket to say which is missing
 * (at most one per BUCKET_SEEN_TTL_MS while the bucket exists).
 */
export async function objectError(client: S3Client, e: unknown, where: Where & { bucket: string }): Promise<StorageError> {
  const error = translateS3Error(e, where);
  if (!isStorageError(error, 'NotFound') || error.reason !== 'NotFound') return error;
  const notFound = (await bucketExistsRecently(client, where.bucket)) ? 'NoSuchKey' : 'NoSuchBucket';
  return translateS3Error(e, { ...where, notFound });
}

export async function headObject(client: S3Client, bucket: string, key: string, options: HeadOptions = {}): Promise<ObjectInfo> {
  try {
    const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: options.versionId }));
    return objectInfoFromHeaders(key, out, out.ContentLength ?? 0);
  } catch (e) {
    throw await objectError(client, e, { op: 'HeadObject', bucket, key });
  }
}

function checkEtag(bucket: string, key: string, wanted: string | undefined, actual: string): void {
  if (wanted === undefined || sameEtag(wanted, actual)) return;
  throw new PreconditionFailedError(`${s3Url(bucket, key)}: etag is ${actual}, not ${wanted}`, {
    reason: 'PreconditionFailed',
  });
}

/**
 * Serves the reads S3 has no ranged request for: an empty range, and a range
 * starting exactly at the end (S3 answers 416 there; POSIX read returns 0).
 */
async function getWithoutData(client: S3Client, bucket: string, key: string, options: GetOptions): Promise<ObjectBody | undefined> {
  const info = await headObject(client, bucket, key, options.versionId === undefined ? {} : { versionId: options.versionId });
  checkEtag(bucket, key, options.ifMatch, info.etag);
  const range = resolveRange(options.range, info.size, s3Url(bucket, key));
  // The object grew between the 416 and the HEAD: there is data now.
  if (range.start !== range.end) return undefined;
  return { info, range, body: emptyBody() };
}

function toObjectBody(bucket: string, key: string, out: GetObjectCommandOutput, options: GetOptions): ObjectBody {
  const body = out.Body;
  if (!(body instanceof Readable)) {
    throw new OtherError(`${s3Url(bucket, key)}: GetObject returned no readable body`, { reason: 'NoBody' });
  }
  const length = out.ContentLength ?? 0;
  const served = parseContentRange(out.ContentRange);
  const size = served?.total ?? (served === undefined ? length : served.end);
  const info = objectInfoFromHeaders(key, out, size);
  const sent = served === undefined ? { start: 0, end: length } : { start: served.start, end: Math.min(served.end, size) };
  try {
    // Servers that ignore If-Match still send the etag: refuse here rather than serve the wrong data.
    checkEtag(bucket, key, options.ifMatch, info.etag);
    const range = resolveRange(options.range, size, s3Url(bucket, key));
    if (sent.start === range.start && sent.end === range.end && length === range.end - range.start) return { info, range, body };
    // s3rver answers a range on an empty object with `bytes 0-0/0`, a length of 1 and no byte at all.
    if (range.start === range.end) {
      body.destroy();
      return { info, range, body: emptyBody() };
    }
    return { info, range, body: sliceBody(body, sent, range, s3Url(bucket, key)) };
  } catch (e) {
    body.destroy();
    throw e;
  }
}

export async function getObject(client: S3Client, bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
  if (options.range !== undefined && isEmptyRange(options.range)) {
    const empty = await getWithoutData(client, bucket, key, options);
    if (empty !== undefined) return empty;
  }
  const input = {
    Bucket: bucket,
    Key: key,
    Range: httpRangeHeader(options.range),
    VersionId: options.versionId,
    IfMatch: conditionEtag(options.ifMatch),
  };
  try {
    return toObjectBody(bucket, key, await client.send(new GetObjectCommand(input)), options);
  } catch (e) {
    if (isStorageError(e)) throw e;
    if (options.range === undefined || httpStatusOf(e) !== 416) throw await objectError(client, e, { op: 'GetObject', bucket, key });
    const atEnd = await getWithoutData(client, bucket, key, options);
    if (atEnd !== undefined) return atEnd;
    return toObjectBody(bucket, key, await s3Call({ op: 'GetObject', bucket, key }, () => client.send(new GetObjectCommand(input))), options);
  }
}

export async function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: Body,
  options: PutOptions = {},
): Promise<WriteResult> {
  const what = s3Url(bucket, key);
  const size = Buffer.isBuffer(body) ? body.length : options.size;
  if (size === undefined) throw new OtherError(`${what}: put of a stream needs options.size`, { reason: 'MissingSize' });
  const sized = Buffer.isBuffer(body) ? undefined : sizedBody(body, size, what);
  const input = {
    Bucket: bucket,
    Key: key,
    Body: sized?.body ?? body,
    ContentLength: size,
    Metadata: encodeMetadata(options.metadata),
    ContentType: options.contentType,
    IfMatch: conditionEtag(options.ifMatch),
    IfNoneMatch: options.ifNoneMatch,
    ACL: options.acl as ObjectCannedACL | undefined,
    StorageClass: options.storageClass as StorageClass | undefined,
    Tagging: taggingHeader(options.tags),
  };
  try {
    const out = await client.send(new PutObjectCommand(input), sized === undefined ? undefined : { abortSignal: sized.signal });
    return writeResult(out.ETag, out.VersionId);
  } catch (e) {
    throw sized?.failure() ?? translateS3Error(e, { op: 'PutObject', bucket, key });
  }
}

export function writeResult(etag: string | undefined, versionId: string | undefined): WriteResult {
  const result: WriteResult = { etag: unquoteEtag(etag) };
  if (versionId !== undefined) result.versionId = versionId;
  return result;
}

/**
 * Server-side copy. With `metadata` the copy's user metadata is replaced and
 * its content type is `contentType` (S3's REPLACE directive resets it too).
 * Two cases cost a HEAD of the source: a new content type alone (to keep
 * the source's metadata), and `ifMatch`, which is also checked here because
 * some servers (RGW 16) ignore x-amz-copy-source-if-match.
 */
export async function copyObject(client: S3Client, source: ObjectRef, dest: ObjectRef, options: CopyOptions = {}): Promise<WriteResult> {
  let metadata = options.metadata;
  if ((metadata === undefined && options.contentType !== undefined) || options.ifMatch !== undefined) {
    const info = await headObject(client, source.bucket, source.key, source.versionId === undefined ? {} : { versionId: source.versionId });
    checkEtag(source.bucket, source.key, options.ifMatch, info.etag);
    if (options.contentType !== undefined) metadata ??= info.metadata;
  }
  const input = {
    Bucket: dest.bucket,
    Key: dest.key,
    CopySource: copySource(source),
    MetadataDirective: metadata === undefined ? undefined : ('REPLACE' as const),
    Metadata: encodeMetadata(metadata),
    ContentType: options.contentType,
    CopySourceIfMatch: conditionEtag(options.ifMatch),
  };
  try {
    const out = await client.send(new CopyObjectCommand(input));
    return writeResult(out.CopyObjectResult?.ETag, out.VersionId);
  } catch (e) {
    throw translateS3Error(e, copyWhere(source, dest));
  }
}

/** A copy's failure: a 404 names neither side, so the message names both. */
export function copyWhere(source: ObjectRef, dest: ObjectRef): Where {
  return { op: `CopyObject from ${s3Url(source.bucket, source.key)}`, bucket: dest.bucket, key: dest.key };
}

/** Idempotent: S3 answers 204 for a missing key; a missing bucket is still an error. */
export function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  return missingKeyIsDeleted(bucket, key, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
}

/** Runs a DeleteObject; a NoSuchKey (some servers send one) counts as deleted. */
export async function missingKeyIsDeleted(bucket: string, key: string, remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (e) {
    const error = translateS3Error(e, { op: 'DeleteObject', bucket, key });
    if (error.reason !== 'NoSuchKey') throw error;
  }
}
