/**
 * OSS's header forms of the contract's values: user metadata (x-oss-meta-*,
 * in S3's encoding so non-ASCII values round-trip), write options, copy
 * sources, and ObjectInfo read back from HEAD/GET replies; the forms shared
 * with S3 are drivers/wire/s3-format.ts. Also the key rule OSS enforces.
 * No I/O here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Metadata, ObjectInfo, ObjectRef } from '../contract.js';
import { keyProblem } from '../checks.js';
import { OtherError } from '../errors.js';
import { copySource, metadataFromHeaders, metadataHeaders as prefixedMetadata, quoteEtag, taggingHeader, unquoteEtag } from '../wire/s3-format.js';
import { ossUrl } from './translate.js';

/** Header, query and sub-resource values of a request. */
export type Params = Record<string, string | number>;

const META_PREFIX = 'x-oss-meta-';

/** OSS object names: 1 to 1023 bytes of UTF-8, not starting with '/' or '\'. */
export const MAX_KEY_BYTES = 1023;

export function checkKey(bucket: string, key: string): void {
  const why = ossKeyProblem(key);
  if (why !== undefined) {
    throw new OtherError(`${ossUrl(bucket, key)}: invalid object name for OSS: ${why}`, { reason: 'InvalidKey' });
  }
}

function ossKeyProblem(key: string): string | undefined {
  if (key.startsWith('/') || key.startsWith('\\')) return "the name starts with '/' or '\\'";
  return keyProblem(key, MAX_KEY_BYTES);
}

/** Hex entity tags (MD5, or multipart "<md5>-N"): OSS writes them upper-case, S3 and the contract lower-case. */
const HEX_ETAG = /^[0-9a-f]{32}(-\d+)?$/i;

/** An etag as OSS sent it (quoted, upper-case hex) in the contract's form: bare, lower-case hex. */
export function etagIn(raw: string | undefined): string {
  const bare = unquoteEtag(raw);
  return HEX_ETAG.test(bare) ? bare.toLowerCase() : bare;
}

/** An etag in the form OSS compares (quoted, upper-case hex), for If-Match and CompleteMultipartUpload. */
export function etagOut(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const bare = unquoteEtag(etag);
  return quoteEtag(HEX_ETAG.test(bare) ? bare.toUpperCase() : bare);
}

/**
 * Storage classes by their S3 names, for callers written against S3: OSS
 * names its classes Standard, IA, Archive, ColdArchive and DeepColdArchive.
 * Archive is OSS's archive class needing a restore, as GLACIER is S3's.
 */
const S3_STORAGE_CLASSES: Record<string, string> = {
  STANDARD: 'Standard',
  STANDARD_IA: 'IA',
  GLACIER: 'Archive',
  DEEP_ARCHIVE: 'DeepColdArchive',
};

export function ossStorageClass(name: string): string {
  return S3_STORAGE_CLASSES[name] ?? name;
}

export function metadataHeaders(metadata: Metadata | undefined): Params {
  return prefixedMetadata(metadata, META_PREFIX);
}

/** Headers every write that creates an object may carry. */
export interface WriteHeaderOptions {
  metadata?: Metadata | undefined;
  contentType?: string | undefined;
  acl?: string | undefined;
  storageClass?: string | undefined;
  tags?: Record<string, string> | undefined;
}

/** Content type when the caller names none: ali-oss would otherwise guess one from the key's extension. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export function writeHeaders(options: WriteHeaderOptions): Params {
  const headers: Params = {
    'Content-Type': options.contentType ?? DEFAULT_CONTENT_TYPE,
    ...metadataHeaders(options.metadata),
  };
  if (options.acl !== undefined) headers['x-oss-object-acl'] = options.acl;
  if (options.storageClass !== undefined) headers['x-oss-storage-class'] = ossStorageClass(options.storageClass);
  const tagging = taggingHeader(options.tags);
  if (tagging !== undefined) headers['x-oss-tagging'] = tagging;
  return headers;
}

/** The x-oss-copy-source value: /bucket/key with the key URL-encoded (slashes too, as OSS's own clients send it), then the version. */
export function copySourceHeader(source: ObjectRef): string {
  return copySource(source, { escapeSlashes: true });
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** ObjectInfo from a HEAD or GET reply; `size` is the whole object's size. */
export function infoFromHeaders(key: string, headers: IncomingHttpHeaders, size: number): ObjectInfo {
  const modified = header(headers, 'last-modified');
  const info: ObjectInfo = {
    key,
    size,
    etag: etagIn(header(headers, 'etag')),
    lastModified: modified ? new Date(modified) : new Date(0),
    metadata: metadataFromHeaders(headers, META_PREFIX),
  };
  const contentType = header(headers, 'content-type');
  if (contentType !== undefined) info.contentType = contentType;
  const storageClass = header(headers, 'x-oss-storage-class');
  if (storageClass !== undefined) info.storageClass = storageClass;
  const versionId = header(headers, 'x-oss-version-id');
  if (versionId !== undefined && versionId !== 'null') info.versionId = versionId;
  const extra: Record<string, unknown> = {};
  const objectType = header(headers, 'x-oss-object-type');
  if (objectType !== undefined) extra['objectType'] = objectType;
  const restore = header(headers, 'x-oss-restore');
  if (restore !== undefined) extra['restore'] = restore;
  const next = header(headers, 'x-oss-next-append-position');
  if (next !== undefined) extra['nextAppendPosition'] = Number(next);
  if (Object.keys(extra).length > 0) info.extra = extra;
  return info;
}

/** The version a write created, when the bucket keeps versions. */
export function versionOf(headers: IncomingHttpHeaders): { versionId?: string } {
  const versionId = header(headers, 'x-oss-version-id');
  return versionId !== undefined && versionId !== 'null' ? { versionId } : {};
}
