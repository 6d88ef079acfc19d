/**
 * ObjectInfo from the headers of a HeadObject or GetObject reply, for the s3
 * backend. The wire forms themselves (etags, metadata values, listing keys,
 * copy sources) are S3's, shared with the other backends in
 * drivers/wire/s3-format.ts. No I/O here.
 */
import type { ObjectInfo } from '../contract.js';
import { decodeMetadata, unquoteEtag } from '../wire/s3-format.js';

/** The fields HeadObject and GetObject responses share. */
export interface ObjectHeaders {
  ContentLength?: number | undefined;
  ETag?: string | undefined;
  LastModified?: Date | undefined;
  Metadata?: Record<string, string> | undefined;
  ContentType?: string | undefined;
  StorageClass?: string | undefined;
  VersionId?: string | undefined;
  Restore?: string | undefined;
}

/** ObjectInfo from response headers; `size` is the whole object's size. */
export function objectInfoFromHeaders(key: string, out: ObjectHeaders, size: number): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size,
    etag: unquoteEtag(out.ETag),
    lastModified: out.LastModified ?? new Date(0),
    metadata: decodeMetadata(out.Metadata),
  };
  if (out.ContentType !== undefined) info.contentType = out.ContentType;
  if (out.StorageClass !== undefined) info.storageClass = out.StorageClass;
  if (out.VersionId !== undefined) info.versionId = out.VersionId;
  if (out.Restore !== undefined) info.extra = { restore: out.Restore };
  return info;
}
