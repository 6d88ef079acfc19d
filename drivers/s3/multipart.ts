/**
 * Multipart uploads of the s3 backend: create, upload (and copy) parts,
 * complete, abort, and the two paginated listings. Failures are loud: a part
 * that fails throws, and completing returns the real etag even where a
 * server leaves it out of its reply.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ObjectCannedACL,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type { CreateMultipartOptions, ObjectRef, PartInfo, PartResult, UploadInfo, WriteResult } from '../contract.js';
import { OtherError } from '../errors.js';
import type { ByteRange } from '../range.js';
import { copyRangeHeader, copySource, decodeListingKey, encodeMetadata, quoteEtag, unquoteEtag } from '../wire/s3-format.js';
import { listedPart, listedUpload } from '../wire/s3-listing.js';
import { s3Call, s3Url, translateS3Error } from './errors.js';
import { headObject, writeResult } from './objects.js';

export async function createMultipart(
  client: S3Client,
  bucket: string,
  key: string,
  options: CreateMultipartOptions = {},
): Promise<string> {
  const out = await s3Call({ op: 'CreateMultipartUpload', bucket, key }, () =>
    client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        Metadata: encodeMetadata(options.metadata),
        ContentType: options.contentType,
        ACL: options.acl as ObjectCannedACL | undefined,
        StorageClass: options.storageClass as StorageClass | undefined,
      }),
    ),
  );
  if (!out.UploadId) throw new OtherError(`${s3Url(bucket, key)}: CreateMultipartUpload returned no upload id`);
  return out.UploadId;
}

export async function uploadPart(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Buffer,
): Promise<PartResult> {
  const out = await s3Call({ op: `UploadPart ${partNumber}`, bucket, key }, () =>
    client.send(
      // A stream body travels as UNSIGNED-PAYLOAD: SHA-256 signing every part cost ~0.7 CPU-s/GiB here and as much in the server.
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: Readable.from([body]), ContentLength: body.length }),
    ),
  );
  return { partNumber, etag: unquoteEtag(out.ETag) };
}

/** S3's inclusive `bytes=a-b`; an open end needs the source's size, hence one HEAD. */
function copySourceRange(client: S3Client, source: ObjectRef, range: ByteRange): Promise<string | undefined> {
  const sizeOf = async () =>
    (await headObject(client, source.bucket, source.key, source.versionId === undefined ? {} : { versionId: source.versionId })).size;
  return copyRangeHeader(range, sizeOf, s3Url(source.bucket, source.key));
}

export async function uploadPartCopy(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  source: ObjectRef,
  range: ByteRange,
): Promise<PartResult> {
  const input = {
    Bucket: bucket,
    Key: key,
    UploadId: uploadId,
    PartNumber: partNumber,
    CopySource: copySource(source),
    CopySourceRange: await copySourceRange(client, source, range),
  };
  const out = await s3Call({ op: `UploadPartCopy ${partNumber} from ${s3Url(source.bucket, source.key)}`, bucket, key }, () =>
    client.send(new UploadPartCopyCommand(input)),
  );
  return { partNumber, etag: unquoteEtag(out.CopyPartResult?.ETag) };
}

export async function completeMultipart(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: PartResult[],
): Promise<WriteResult> {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  const out = await s3Call({ op: 'CompleteMultipartUpload', bucket, key }, () =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: quoteEtag(p.etag) })) },
      }),
    ),
  );
  const result = writeResult(out.ETag, out.VersionId);
  // RGW's reply carries an empty ETag; the object's HEAD has the real one.
  if (result.etag === '') {
    const info = await headObject(client, bucket, key, out.VersionId === undefined ? {} : { versionId: out.VersionId });
    result.etag = info.etag;
  }
  return result;
}

/** Idempotent: an upload that is already gone (or never was) is not an error. */
export async function abortMultipart(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (e) {
    const error = translateS3Error(e, { op: 'AbortMultipartUpload', bucket, key });
    if (error.reason !== 'NoSuchUpload') throw error;
  }
}

export async function listMultipartUploads(client: S3Client, bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
  const uploads: UploadInfo[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const out = await s3Call({ op: 'ListMultipartUploads', bucket, notFound: 'NoSuchBucket' }, () =>
      client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: options.prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
          EncodingType: 'url',
        }),
      ),
    );
    const encoded = out.EncodingType === 'url';
    for (const u of out.Uploads ?? []) if (u.Key !== undefined && u.UploadId !== undefined) uploads.push(listedUpload(u, { encoded }));
    // Stop on a truncated page without markers rather than loop forever.
    if (!out.IsTruncated || out.NextKeyMarker === undefined) return uploads;
    keyMarker = decodeListingKey(out.NextKeyMarker, encoded);
    uploadIdMarker = out.NextUploadIdMarker;
  }
}

export async function listParts(client: S3Client, bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
  const parts: PartInfo[] = [];
  let marker: string | undefined;
  for (;;) {
    const out = await s3Call({ op: 'ListParts', bucket, key }, () =>
      client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })),
    );
    for (const p of out.Parts ?? []) if (p.PartNumber !== undefined) parts.push(listedPart(p));
    if (!out.IsTruncated || !out.NextPartNumberMarker || out.NextPartNumberMarker === marker) return parts;
    marker = out.NextPartNumberMarker;
  }
}
