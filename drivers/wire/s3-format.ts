/**
 * S3's wire forms of the contract's values, written once for every backend
 * that speaks S3 or a dialect of it (s3, minio, oss): entity tags, user
 * metadata in headers, URL-encoded listing keys, copy sources, tag headers,
 * the byte range of a part copy, and S3's key order. Pure: no I/O here
 * beyond the size lookup a caller hands to `copyRangeHeader`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Metadata, ObjectRef } from '../contract.js';
import { OtherError } from '../errors.js';
import { checkRange, isEmptyRange, type ByteRange } from '../range.js';

// Entity tags.

/** Servers send entity tags quoted (weak ones with W/); the contract carries them bare. */
export function unquoteEtag(etag: string | undefined): string {
  if (etag === undefined) return '';
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag;
  return bare.length >= 2 && bare.startsWith('"') && bare.endsWith('"') ? bare.slice(1, -1) : bare;
}

/** The quoted form of an etag, as CompleteMultipartUpload lists parts and If-Match carries them. */
export function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/**
 * An etag as the conditional headers of a write (If-Match,
 * x-amz-copy-source-if-match) carry it: bare. RFC 7232 wants quotes, but AWS
 * and MinIO accept either form and RGW 16 matches If-Match on PUT only without.
 */
export function conditionEtag(etag: string | undefined): string | undefined {
  return etag === undefined || etag === '*' ? etag : unquoteEtag(etag);
}

// User metadata.

/**
 * Header values must be printable ASCII, and servers trim surrounding blanks.
 * Anything else travels as an RFC 2047 encoded word (what AWS itself returns
 * for non-ASCII metadata), and so does a value that merely looks like one, so
 * every value comes back exactly as written.
 */
const ENCODED_WORD = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/i;
const HEADER_SAFE = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

export function encodeMetadataValue(value: string): string {
  if (HEADER_SAFE.test(value) && !ENCODED_WORD.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function decodeMetadataValue(value: string): string {
  const match = ENCODED_WORD.exec(value);
  return match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : value;
}

/** Metadata as header values by lower-cased name (HTTP names are case-blind), without a prefix. */
export function encodeMetadata(metadata: Metadata | undefined): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  return metadataHeaders(metadata, '');
}

export function decodeMetadata(metadata: Record<string, string> | undefined): Metadata {
  const out: Metadata = {};
  for (const [name, value] of Object.entries(metadata ?? {})) out[name.toLowerCase()] = decodeMetadataValue(value);
  return out;
}

/** `<prefix><name>` headers for `metadata`, e.g. with prefix 'x-amz-meta-'. */
export function metadataHeaders(metadata: Metadata | undefined, prefix: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) headers[prefix + name.toLowerCase()] = encodeMetadataValue(value);
  return headers;
}

/** The metadata in the `<prefix>*` headers of a reply (Node lower-cases header names). */
export function metadataFromHeaders(headers: IncomingHttpHeaders, prefix: string): Metadata {
  const metadata: Metadata = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    metadata[name.slice(prefix.length)] = decodeMetadataValue(Array.isArray(value) ? value.join(', ') : value);
  }
  return metadata;
}

// Keys in URLs, listings and headers.

/**
 * Keys in listings are requested with EncodingType=url, because XML 1.0
 * cannot carry most control characters and turns CR into LF. AWS writes a
 * space as '+', RGW as '%20'; a literal '+' is always '%2B'. Decoded only
 * when the reply says it is encoded: some servers ignore the request.
 */
export function decodeListingKey(value: string, encoded: boolean): string {
  if (!encoded) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch (e) {
    throw new OtherError(`listing returned a key that is not valid URL-encoded UTF-8: ${value}`, {
      cause: e,
      reason: 'InvalidKey',
    });
  }
}

/** RFC 3986 escaping, as SigV4 wants it: encodeURIComponent leaves !'()* alone, which some servers decode oddly. */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The copy-source header value (x-amz-copy-source, x-oss-copy-source):
 * `/bucket/key`, the key escaped segment by segment (or whole, slashes too,
 * as OSS's own clients send it), then the version.
 */
export function copySource(source: ObjectRef, options: { escapeSlashes?: boolean } = {}): string {
  const key = options.escapeSlashes === true ? uriEscape(source.key) : source.key.split('/').map(uriEscape).join('/');
  const path = `/${uriEscape(source.bucket)}/${key}`;
  return source.versionId === undefined ? path : `${path}?versionId=${uriEscape(source.versionId)}`;
}

/** A tag set as the x-amz-tagging / x-oss-tagging header (query-string form); none for no tags. */
export function taggingHeader(tags: Record<string, string> | undefined): string | undefined {
  if (tags === undefined || Object.keys(tags).length === 0) return undefined;
  return Object.entries(tags)
    .map(([k, v]) => `${uriEscape(k)}=${uriEscape(v)}`)
    .join('&');
}

/**
 * S3's key order: by UTF-8 bytes, computed without encoding. UTF-16 order
 * differs from code-point (= UTF-8 byte) order only where a surrogate (a code
 * point above U+FFFF) meets a unit in U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return codePointRank(x) - codePointRank(y);
    return x - y;
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

// Part copies.

/**
 * The inclusive `bytes=first-last` of a part copied from `range` of a source;
 * undefined for the whole source. An open end needs the source's size, asked
 * of `sizeOf` (one HEAD) only then. An empty range, or one starting at or past
 * the end, is refused here: S3 cannot copy nothing into a part.
 */
export async function copyRangeHeader(range: ByteRange, sizeOf: () => Promise<number>, where: string): Promise<string | undefined> {
  const refuse = (why: string) => new OtherError(`${where}: ${why}`, { reason: 'InvalidRange' });
  checkRange(range);
  if (isEmptyRange(range)) throw refuse('a part cannot be copied from an empty range');
  if (range.end !== undefined) return `bytes=${range.start}-${range.end - 1}`;
  if (range.start === 0) return undefined;
  const size = await sizeOf();
  if (range.start >= size) throw refuse(`range start ${range.start} is at or beyond the end of the source (size ${size})`);
  return `bytes=${range.start}-${size - 1}`;
}
