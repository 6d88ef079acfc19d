/**
 * OSS's XML bodies, both ways: the request bodies this backend sends
 * (DeleteMultipleObjects, CompleteMultipartUpload, tagging, versioning,
 * restore; S3's shapes, from drivers/wire/s3-xml.ts) and typed readers for
 * the xml2js trees ali-oss parses replies into (a single child is not wrapped
 * in an array; an empty element is ''), whose entries S3's own readers turn
 * into the contract's records (drivers/wire/s3-listing.ts). No I/O here.
 */
import type { ObjectInfo, PartInfo, PartResult, UploadInfo, VersionInfo } from '../contract.js';
import { decodeListingKey } from '../wire/s3-format.js';
import { listedObject, listedPart, listedUpload, listedVersion, type EntryReader, type ListedFields } from '../wire/s3-listing.js';
import { completeMultipartXml, deleteObjectsXml, escapeXml, taggingXml } from '../wire/s3-xml.js';
import { etagIn, etagOut } from './headers.js';

type Tree = Record<string, unknown>;

/** The text of an xml2js node ('' when absent). */
export function text(node: unknown): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'object' && node !== null && '_' in node) return String((node as { _: unknown })._);
  return '';
}

/** The children named so, as an array whatever their number. */
export function list(node: unknown): Tree[] {
  if (node === undefined || node === null || node === '') return [];
  return (Array.isArray(node) ? node : [node]).filter((n): n is Tree => typeof n === 'object' && n !== null);
}

function child(tree: Tree, name: string): Tree {
  const node = tree[name];
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as Tree) : {};
}

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

/** Keys must be xmlBatchable (drivers/wire/s3-xml.ts). */
export function deleteBody(keys: string[]): Buffer {
  return Buffer.from(deleteObjectsXml(keys));
}

export function completeBody(parts: PartResult[]): Buffer {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  return Buffer.from(completeMultipartXml(sorted.map((p) => ({ partNumber: p.partNumber, etag: etagOut(p.etag) ?? '' }))));
}

export function taggingBody(tags: Record<string, string>): Buffer {
  return Buffer.from(taggingXml(tags));
}

export function versioningBody(status: 'Enabled' | 'Suspended'): Buffer {
  return Buffer.from(`${PROLOG}<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>`);
}

export function restoreBody(days: number, tier?: string): Buffer {
  // OSS reads JobParameters only for Cold Archive objects; Archive restores take Days alone.
  const job = tier === undefined ? '' : `<JobParameters><Tier>${escapeXml(tier)}</Tier></JobParameters>`;
  return Buffer.from(`${PROLOG}<RestoreRequest><Days>${days}</Days>${job}</RestoreRequest>`);
}

/** Keys in replies to requests made with encoding-type=url. */
function key(tree: Tree, name: string, encoded: boolean): string {
  return decodeListingKey(text(tree[name]), encoded);
}

/** The text children of an entry, under S3's element names; absent and empty ones left out. */
function fields(node: Tree): ListedFields {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(node)) {
    const t = text(value);
    if (t !== '') out[name] = t;
  }
  return out;
}

function readerOf(tree: Tree): EntryReader {
  return { encoded: isUrlEncoded(tree), etag: etagIn };
}

function decodeOr(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isUrlEncoded(tree: Tree): boolean {
  return text(tree['EncodingType']) === 'url';
}

/** OSS adds each object's type (Normal, Multipart, Appendable) to a listing entry. */
function withType<T extends ObjectInfo>(info: T, node: Tree): T {
  const type = text(node['Type']);
  if (type) info.extra = { objectType: type };
  return info;
}

export interface ListResult {
  objects: ObjectInfo[];
  prefixes: string[];
  nextToken?: string;
}

/** A ListObjectsV2 reply (ListBucketResult). */
export function readListV2(tree: Tree): ListResult {
  const encoded = isUrlEncoded(tree);
  const result: ListResult = {
    objects: list(tree['Contents']).map((n) => withType(listedObject(fields(n), readerOf(tree)), n)),
    prefixes: list(tree['CommonPrefixes']).map((n) => key(n, 'Prefix', encoded)),
  };
  if (text(tree['IsTruncated']) === 'true') {
    // Like OSS's own SDKs: the token is URL-decoded when the reply is, without reading '+' as a space.
    const token = text(tree['NextContinuationToken']);
    result.nextToken = encoded ? decodeOr(token) : token;
  }
  return result;
}

export interface Page<T> {
  items: T[];
  truncated: boolean;
  next: Record<string, string>;
}

/** Follows a paged listing to its end; a page that does not advance ends it rather than looping. */
export async function allPages<T>(fetch: (marker: Record<string, string>) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let marker: Record<string, string> = {};
  for (;;) {
    const page = await fetch(marker);
    items.push(...page.items);
    const next = Object.fromEntries(Object.entries(page.next).filter(([, v]) => v !== ''));
    if (!page.truncated || Object.keys(next).length === 0 || JSON.stringify(next) === JSON.stringify(marker)) return items;
    marker = next;
  }
}

/** A ListMultipartUploads reply; `next` holds the markers of the following page. */
export function readUploads(tree: Tree): Page<UploadInfo> {
  const encoded = isUrlEncoded(tree);
  const items = list(tree['Upload']).map((n) => listedUpload(fields(n), readerOf(tree)));
  return {
    items,
    truncated: text(tree['IsTruncated']) === 'true',
    next: { 'key-marker': key(tree, 'NextKeyMarker', encoded), 'upload-id-marker': text(tree['NextUploadIdMarker']) },
  };
}

/** A ListParts reply. */
export function readParts(tree: Tree): Page<PartInfo> {
  const items = list(tree['Part']).map((n) => listedPart(fields(n), { etag: etagIn }));
  return {
    items,
    truncated: text(tree['IsTruncated']) === 'true',
    next: { 'part-number-marker': text(tree['NextPartNumberMarker']) },
  };
}

/** A ListObjectVersions reply: versions and delete markers, in the order OSS gives them. */
export function readVersions(tree: Tree): Page<VersionInfo> {
  const encoded = isUrlEncoded(tree);
  const reader = readerOf(tree);
  const versions = list(tree['Version']).map((n) => withType(listedVersion(fields(n), reader, false), n));
  const markers = list(tree['DeleteMarker']).map((n) => listedVersion(fields(n), reader, true));
  return {
    items: [...versions, ...markers],
    truncated: text(tree['IsTruncated']) === 'true',
    next: { 'key-marker': key(tree, 'NextKeyMarker', encoded), 'version-id-marker': text(tree['NextVersionIdMarker']) },
  };
}

/** Keys the quiet DeleteMultipleObjects reply reports as failed. */
export function readDeleteErrors(tree: Tree): { key: string; code: string; message: string }[] {
  const encoded = isUrlEncoded(tree);
  return list(tree['Error']).map((n) => ({
    key: key(n, 'Key', encoded),
    code: text(n['Code']),
    message: text(n['Message']),
  }));
}

export function readTags(tree: Tree): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const tag of list(child(tree, 'TagSet')['Tag'])) tags[text(tag['Key'])] = text(tag['Value']);
  return tags;
}

export function readAcl(tree: Tree): string {
  return text(child(tree, 'AccessControlList')['Grant']);
}

export interface BucketEntry {
  name: string;
  created?: Date;
  location?: string;
  storageClass?: string;
}

function bucketEntry(node: Tree): BucketEntry {
  const entry: BucketEntry = { name: text(node['Name']) };
  const created = text(node['CreationDate']);
  if (created) entry.created = new Date(created);
  const location = text(node['Location']);
  if (location) entry.location = location;
  const storageClass = text(node['StorageClass']);
  if (storageClass) entry.storageClass = storageClass;
  return entry;
}

/** A ListBuckets (GetService) reply. */
export function readBuckets(tree: Tree): Page<BucketEntry> {
  return {
    items: list(child(tree, 'Buckets')['Bucket']).map(bucketEntry),
    truncated: text(tree['IsTruncated']) === 'true',
    next: { marker: text(tree['NextMarker']) },
  };
}

/** A GetBucketInfo reply. */
export function readBucketInfo(tree: Tree): BucketEntry {
  return bucketEntry(child(tree, 'Bucket'));
}

/** The error code and message of an error reply body. */
export function readError(tree: Tree): { code?: string; message?: string } {
  const code = text(tree['Code']);
  const message = text(tree['Message']);
  return { ...(code && { code }), ...(message && { message }) };
}
