/**
 * HTTP headers ↔ the contract's object attributes for the minio backend:
 * user metadata (`x-amz-meta-*`), content type, storage class, tags, and the
 * ObjectInfo of a HEAD/GET answer. The value forms are S3's
 * (drivers/wire/s3-format.ts): metadata values HTTP cannot carry byte-exactly
 * travel as RFC 2047 encoded words and are decoded on the way back.
 */
import type { IncomingMessage } from 'node:http';
import type { Metadata, ObjectInfo } from '../contract.js';
import { isHeaderToken } from '../checks.js';
import { OtherError } from '../errors.js';
import { metadataFromHeaders, metadataHeaders as prefixedMetadata, taggingHeader, unquoteEtag } from '../wire/s3-format.js';

const META_PREFIX = 'x-amz-meta-';

/** `x-amz-meta-<name>` headers for `metadata`; a name that is no header name is refused before sending. */
export function metadataHeaders(metadata: Metadata | undefined, where: string): Record<string, string> {
  for (const name of Object.keys(metadata ?? {})) {
    if (!isHeaderToken(name.toLowerCase())) {
      throw new OtherError(`${where}: metadata name '${name}' is not a valid HTTP header name`, { reason: 'InvalidMetadata' });
    }
  }
  return prefixedMetadata(metadata, META_PREFIX);
}

export interface WriteAttributes {
  metadata?: Metadata;
  contentType?: string;
  storageClass?: string;
  tags?: Record<string, string>;
}

/** Request headers carrying the attributes of a new object (PUT, CreateMultipartUpload, copy REPLACE). */
export function writeHeaders(attrs: WriteAttributes, where: string): Record<string, string> {
  const headers = metadataHeaders(attrs.metadata, where);
  if (attrs.contentType !== undefined) headers['content-type'] = attrs.contentType;
  if (attrs.storageClass !== undefined) headers['x-amz-storage-class'] = attrs.storageClass;
  const tagging = taggingHeader(attrs.tags);
  if (tagging !== undefined) headers['x-amz-tagging'] = tagging;
  return headers;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The object's size from a GET/HEAD answer: the total of Content-Range when ranged. */
export function sizeFromHeaders(headers: IncomingMessage['headers']): number {
  const total = /\/(\d+)$/.exec(first(headers['content-range']) ?? '');
  return Number(total?.[1] ?? first(headers['content-length']) ?? 0);
}

export function infoFromHeaders(key: string, headers: IncomingMessage['headers']): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: sizeFromHeaders(headers),
    etag: unquoteEtag(first(headers['etag'])),
    lastModified: new Date(first(headers['last-modified']) ?? 0),
    metadata: metadataFromHeaders(headers, META_PREFIX),
  };
  const contentType = first(headers['content-type']);
  if (contentType !== undefined) info.contentType = contentType;
  const storageClass = first(headers['x-amz-storage-class']);
  if (storageClass !== undefined) info.storageClass = storageClass;
  const versionId = first(headers['x-amz-version-id']);
  if (versionId !== undefined) info.versionId = versionId;
  return info;
}
