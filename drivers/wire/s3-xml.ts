/**
 * S3's XML documents, for backends that send and read them themselves
 * (minio; oss for the request bodies): listings, multipart answers, delete
 * results and tag sets read, and the DeleteObjects / CompleteMultipartUpload
 * bodies written, with the rule for which keys such a body can carry.
 *
 * Every value stays text (minio-js's own parsers turn "007" into 7 and trim
 * keys), entities are decoded exactly, and keys listed with
 * `encoding-type=url` are decoded. Pure: no I/O here.
 */
import { XMLParser } from 'fast-xml-parser';
import type { ListPage, PartInfo, UploadInfo, VersionInfo } from '../contract.js';
import { OtherError } from '../errors.js';
import { decodeListingKey, unquoteEtag } from './s3-format.js';
import { listedObject, listedPart, listedUpload, listedVersion, type EntryReader, type ListedFields } from './s3-listing.js';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? _m;
  });
}

/** Elements that repeat in the documents we read: always arrays, even when one is present. */
const REPEATED = new Set(['Contents', 'CommonPrefixes', 'Upload', 'Part', 'Version', 'DeleteMarker', 'Error', 'Tag', 'Bucket']);

const parser = new XMLParser({
  parseTagValue: false,
  trimValues: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  processEntities: false,
  tagValueProcessor: (_name: string, value: string) => decodeEntities(value),
  isArray: (name: string) => REPEATED.has(name),
});

type Node = Record<string, unknown>;

function parse(text: string, root: string): Node {
  const doc = parser.parse(text) as Node;
  const node = doc[root];
  if (node === undefined) throw new Error(`unexpected response: no <${root}> element`);
  // An empty element parses as '' — treat it as a node without children.
  return typeof node === 'object' && node !== null ? (node as Node) : {};
}

function text(node: Node, name: string): string | undefined {
  const value = node[name];
  return typeof value === 'string' ? value : undefined;
}

function list(node: Node, name: string): Node[] {
  const value = node[name];
  return Array.isArray(value) ? value.map((v) => (typeof v === 'object' && v !== null ? (v as Node) : {})) : [];
}

function truthy(node: Node, name: string): boolean {
  return text(node, name) === 'true';
}

/** The text children of an entry, under S3's element names. */
function fields(node: Node): ListedFields {
  return Object.fromEntries(Object.entries(node).filter(([, v]) => typeof v === 'string')) as ListedFields;
}

/** Keys of a reply are URL-encoded when the reply says so (servers may ignore the request). */
function readerOf(root: Node): EntryReader {
  return { encoded: text(root, 'EncodingType') === 'url' };
}

export function parseListObjectsV2(xml: string): ListPage {
  const root = parse(xml, 'ListBucketResult');
  const reader = readerOf(root);
  const page: ListPage = {
    objects: list(root, 'Contents').map((entry) => listedObject(fields(entry), reader)),
    prefixes: list(root, 'CommonPrefixes').map((p) => decodeListingKey(text(p, 'Prefix') ?? '', reader.encoded)),
  };
  const token = text(root, 'NextContinuationToken');
  if (truthy(root, 'IsTruncated') && token) page.nextToken = token;
  return page;
}

/** Where the next page of a listing by key and id (uploads, versions) starts. */
export interface KeyIdMarker {
  keyMarker: string;
  idMarker: string;
}

/** One page of a listing by key and id; `next` when it is truncated. */
export interface KeyIdPage<T> {
  items: T[];
  next?: KeyIdMarker;
}

function keyIdPage<T>(root: Node, reader: EntryReader, items: T[], idMarker: string): KeyIdPage<T> {
  if (!truthy(root, 'IsTruncated')) return { items };
  const keyMarker = decodeListingKey(text(root, 'NextKeyMarker') ?? '', reader.encoded);
  return { items, next: { keyMarker, idMarker: text(root, idMarker) ?? '' } };
}

export function parseListUploads(xml: string): KeyIdPage<UploadInfo> {
  const root = parse(xml, 'ListMultipartUploadsResult');
  const reader = readerOf(root);
  return keyIdPage(root, reader, list(root, 'Upload').map((u) => listedUpload(fields(u), reader)), 'NextUploadIdMarker');
}

export function parseListParts(xml: string): { parts: PartInfo[]; nextMarker?: string } {
  const root = parse(xml, 'ListPartsResult');
  const parts = list(root, 'Part').map((p) => listedPart(fields(p)));
  const marker = text(root, 'NextPartNumberMarker');
  return truthy(root, 'IsTruncated') && marker ? { parts, nextMarker: marker } : { parts };
}

export function parseListVersions(xml: string): KeyIdPage<VersionInfo> {
  const root = parse(xml, 'ListVersionsResult');
  const reader = readerOf(root);
  const versions = [
    ...list(root, 'Version').map((v) => listedVersion(fields(v), reader, false)),
    ...list(root, 'DeleteMarker').map((v) => listedVersion(fields(v), reader, true)),
  ];
  return keyIdPage(root, reader, versions, 'NextVersionIdMarker');
}

export interface ServerError {
  code: string;
  message: string;
}

/** The per-key failures of a quiet DeleteObjects. Keys there are not URL-encoded. */
export function parseDeleteErrors(xml: string): (ServerError & { key: string })[] {
  const root = parse(xml, 'DeleteResult');
  return list(root, 'Error').map((e) => ({
    key: text(e, 'Key') ?? '',
    code: text(e, 'Code') ?? '',
    message: text(e, 'Message') ?? '',
  }));
}

/** An `<Error>` document sent with status 200 (CopyObject, CompleteMultipartUpload can). */
export function parseEmbeddedError(xml: string): ServerError | undefined {
  const doc = parser.parse(xml) as Node;
  const error = doc['Error'];
  const node = Array.isArray(error) ? (error[0] as Node | undefined) : undefined;
  if (node === undefined) return undefined;
  return { code: text(node, 'Code') ?? 'InternalError', message: text(node, 'Message') ?? '' };
}

/** The ETag of CopyObjectResult, CopyPartResult or CompleteMultipartUploadResult. */
export function parseResultEtag(xml: string, root: string): string {
  return unquoteEtag(text(parse(xml, root), 'ETag'));
}

export function parseUploadId(xml: string): string {
  const id = text(parse(xml, 'InitiateMultipartUploadResult'), 'UploadId');
  if (!id) throw new Error('unexpected response: no UploadId');
  return id;
}

export function parseTagSet(xml: string): Record<string, string> {
  const root = parse(xml, 'Tagging');
  const tagSet = root['TagSet'];
  const tags: Record<string, string> = {};
  if (typeof tagSet !== 'object' || tagSet === null) return tags;
  for (const tag of list(tagSet as Node, 'Tag')) tags[text(tag, 'Key') ?? ''] = text(tag, 'Value') ?? '';
  return tags;
}

// Request bodies.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };

/** Element text: markup escaped, and CR as a reference (a literal CR would be read back as LF). */
export function escapeXml(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Whether a key can travel in an XML request body (DeleteObjects): not when
 * it holds what XML 1.0 cannot carry at all, not even as a reference (most
 * control characters, U+FFFE/U+FFFF, lone surrogates; RGW answers 400 for the
 * whole batch), nor when it starts or ends with white space, which some
 * servers trim, deleting another key and reporting success. Such keys are
 * deleted one request each.
 */
export function xmlBatchable(key: string): boolean {
  return (
    !/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key) &&
    !/^\s|\s$/.test(key)
  );
}

/**
 * The keys of a deleteMany, split into those one DeleteObjects body can carry
 * (`batchable`, by default xmlBatchable) and those to delete one request
 * each. More than `maxBatch` keys (S3: 1,000) are refused before any request.
 */
export function splitDeleteBatch(
  keys: readonly string[],
  maxBatch: number,
  where: string,
  batchable: (key: string) => boolean = xmlBatchable,
): { batch: string[]; single: string[] } {
  if (keys.length > maxBatch) {
    throw new OtherError(`${where}: deleteMany takes at most ${maxBatch} keys, not ${keys.length}`, { reason: 'TooManyKeys' });
  }
  return { batch: keys.filter(batchable), single: keys.filter((key) => !batchable(key)) };
}

/** S3's namespace; OSS documents its bodies without one. */
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

function element(name: string, namespace: string | undefined, body: string): string {
  return `${PROLOG}<${name}${namespace === undefined ? '' : ` xmlns="${namespace}"`}>${body}</${name}>`;
}

/** A quiet DeleteObjects body: only failures are answered. Keys must be `xmlBatchable`. */
export function deleteObjectsXml(keys: readonly string[], namespace?: string): string {
  const objects = keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('');
  return element('Delete', namespace, `<Quiet>true</Quiet>${objects}`);
}

/** A CompleteMultipartUpload body; each etag is written as given (callers quote it as their server wants). */
export function completeMultipartXml(parts: readonly { partNumber: number; etag: string }[], namespace?: string): string {
  const body = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`).join('');
  return element('CompleteMultipartUpload', namespace, body);
}

/** A Tagging body (PutObjectTagging). */
export function taggingXml(tags: Record<string, string>, namespace?: string): string {
  const body = Object.entries(tags)
    .map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`)
    .join('');
  return element('Tagging', namespace, `<TagSet>${body}</TagSet>`);
}
