/**
 * The entries of S3's listings (objects, versions, multipart uploads, parts)
 * as the contract's records, written once whether they arrive typed by the
 * AWS SDK or as text parsed from the XML (minio, oss): both use S3's element
 * names. Also the order S3 lists versions in. Pure: no I/O here.
 */
import type { ObjectInfo, PartInfo, UploadInfo, VersionInfo } from '../contract.js';
import { compareKeys, decodeListingKey, unquoteEtag } from './s3-format.js';

/** The fields of a listing entry, as the SDK types them or as XML text. */
export interface ListedFields {
  Key?: string | undefined;
  Size?: number | string | undefined;
  ETag?: string | undefined;
  LastModified?: Date | string | undefined;
  StorageClass?: string | undefined;
  VersionId?: string | undefined;
  IsLatest?: boolean | string | undefined;
  UploadId?: string | undefined;
  Initiated?: Date | string | undefined;
  PartNumber?: number | string | undefined;
}

/** How a backend reads the parts that differ: keys (URL-encoded or not) and etags (OSS's are upper-case). */
export interface EntryReader {
  encoded: boolean;
  etag?: (raw: string | undefined) => string;
}

function date(value: Date | string | undefined): Date {
  return value instanceof Date ? value : new Date(value ?? 0);
}

export function listedObject(entry: ListedFields, reader: EntryReader): ObjectInfo {
  const info: ObjectInfo = {
    key: decodeListingKey(entry.Key ?? '', reader.encoded),
    size: Number(entry.Size ?? 0),
    etag: (reader.etag ?? unquoteEtag)(entry.ETag),
    lastModified: date(entry.LastModified),
  };
  if (entry.StorageClass !== undefined) info.storageClass = entry.StorageClass;
  return info;
}

export function listedVersion(entry: ListedFields, reader: EntryReader, isDeleteMarker: boolean): VersionInfo {
  return {
    ...listedObject(entry, reader),
    versionId: entry.VersionId ?? 'null',
    isLatest: entry.IsLatest === true || entry.IsLatest === 'true',
    isDeleteMarker,
  };
}

export function listedUpload(entry: ListedFields, reader: EntryReader): UploadInfo {
  const upload: UploadInfo = { key: decodeListingKey(entry.Key ?? '', reader.encoded), uploadId: entry.UploadId ?? '' };
  if (entry.Initiated !== undefined) upload.initiated = date(entry.Initiated);
  return upload;
}

export function listedPart(entry: ListedFields, reader: Pick<EntryReader, 'etag'> = {}): PartInfo {
  const part: PartInfo = {
    partNumber: Number(entry.PartNumber),
    etag: (reader.etag ?? unquoteEtag)(entry.ETag),
    size: Number(entry.Size ?? 0),
  };
  if (entry.LastModified !== undefined) part.lastModified = date(entry.LastModified);
  return part;
}

/**
 * S3 lists versions per key in byte order, newest first. Replies group
 * versions and delete markers apart, losing that interleaving; this rebuilds it.
 */
export function compareVersions(a: VersionInfo, b: VersionInfo): number {
  return compareKeys(a.key, b.key) || Number(b.isLatest) - Number(a.isLatest) || b.lastModified.getTime() - a.lastModified.getTime();
}
