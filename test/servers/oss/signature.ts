/**
 * OSS V1 request signatures, computed independently of ali-oss from OSS's
 * documentation ("Include signatures in the Authorization header" and "Add
 * signatures to URLs"):
 *
 *   Signature = base64(HMAC-SHA1(AccessKeySecret,
 *       VERB + "\n" + Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n"
 *       + CanonicalizedOSSHeaders + CanonicalizedResource))
 *
 * - Date is the Date header (x-oss-date wins when present); a query-signed
 *   URL puts its Expires value there instead.
 * - CanonicalizedOSSHeaders: every x-oss-* header, name lower-cased, value
 *   trimmed, sorted by name, each as "name:value\n".
 * - CanonicalizedResource: "/", "/bucket/" or "/bucket/key" (the key
 *   decoded, as stored), then the sub-resources OSS signs — only those in
 *   SIGNED_SUBRESOURCES — sorted by name, "?a=1&b" (no "=" for empty values).
 *
 * The test server verifies every request with this; the backend signs with
 * ali-oss, so a signing bug on either side fails the tests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The query parameters OSS includes in the signed resource (from OSS's SDK list of signed sub-resources). */
export const SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName',
  'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live',
  'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId', 'udfImageDesc', 'udfApplication',
  'udfApplicationLog', 'restore', 'callback', 'callback-var', 'qosInfo', 'policy', 'stat', 'encryption',
  'versions', 'versioning', 'versionId', 'requestPayment', 'x-oss-request-payer', 'sequential', 'inventory',
  'inventoryId', 'continuation-token', 'asyncFetch', 'worm', 'wormId', 'wormExtend', 'x-oss-traffic-limit',
  'objectInfo', 'group', 'link', 'transferAcceleration', 'metaQuery', 'resourceGroup',
]);

export interface SignedParts {
  method: string;
  contentMd5: string;
  contentType: string;
  /** The Date (or x-oss-date) header, or a signed URL's Expires. */
  date: string;
  /** Request headers; only x-oss-* ones are signed. */
  headers: IncomingHttpHeaders | Record<string, string>;
  bucket?: string;
  key?: string;
  /** Decoded query parameters; only signed sub-resources are used. */
  query: ReadonlyMap<string, string>;
}

export function canonicalizedOssHeaders(headers: SignedParts['headers']): string {
  const lines: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-oss-') || value === undefined) continue;
    lines.push([lower, (Array.isArray(value) ? value.join(',') : String(value)).trim()]);
  }
  lines.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return lines.map(([name, value]) => `${name}:${value}\n`).join('');
}

export function canonicalizedResource(bucket: string | undefined, key: string | undefined, query: ReadonlyMap<string, string>): string {
  let resource = bucket === undefined ? '/' : `/${bucket}/${key ?? ''}`;
  const signed = [...query.entries()].filter(([name]) => SIGNED_SUBRESOURCES.has(name));
  signed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (signed.length > 0) resource += `?${signed.map(([name, value]) => (value === '' ? name : `${name}=${value}`)).join('&')}`;
  return resource;
}

export function stringToSign(parts: SignedParts): string {
  return [
    parts.method.toUpperCase(),
    parts.contentMd5,
    parts.contentType,
    parts.date,
    canonicalizedOssHeaders(parts.headers) + canonicalizedResource(parts.bucket, parts.key, parts.query),
  ].join('\n');
}

export function sign(secret: string, toSign: string): string {
  return createHmac('sha1', secret).update(Buffer.from(toSign, 'utf8')).digest('base64');
}

/** Constant-time comparison of two base64 signatures. */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
