/**
 * OSS V4 request signatures (OSS4-HMAC-SHA256), computed independently of
 * ali-oss from OSS's documentation ("Include a V4 signature in the header")
 * and OSS's Python SDK:
 *
 *   CanonicalRequest = VERB \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n AdditionalHeaders \n HashedPayload
 *   StringToSign     = "OSS4-HMAC-SHA256" \n Timestamp \n Scope \n hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("aliyun_v4" + Secret, Date), Region), "oss"), "aliyun_v4_request")
 *   Signature        = hex(HMAC-SHA256(SigningKey, StringToSign))
 *
 * - CanonicalURI: "/bucket/key" (or "/"), RFC 3986-encoded, '/' kept.
 * - CanonicalQuery: every query parameter (not only sub-resources), name and
 *   value RFC 3986-encoded ('/' too), sorted by name, "k=v" or "k" when empty.
 * - CanonicalHeaders: content-type, content-md5, every x-oss-* header and the
 *   AdditionalHeaders, lower-cased, trimmed, sorted, each "name:value\n".
 * - HashedPayload: the x-oss-content-sha256 header, else UNSIGNED-PAYLOAD.
 * - Scope: "<yyyymmdd>/<region without oss->/oss/aliyun_v4_request".
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const V4_ALGORITHM = 'OSS4-HMAC-SHA256';

/** RFC 3986: only unreserved characters stay as they are. */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface V4Parts {
  method: string;
  bucket?: string;
  key?: string;
  /** Decoded query parameters (for a signed URL: without x-oss-signature). */
  query: ReadonlyMap<string, string>;
  headers: IncomingHttpHeaders | Record<string, string>;
  /** Lower-case names of the extra headers the signer chose to sign. */
  additionalHeaders: readonly string[];
}

function headerValue(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.join(',') : value ?? '').trim();
}

export function canonicalRequestV4(parts: V4Parts): string {
  const uri = uriEncode(parts.bucket === undefined ? '/' : `/${parts.bucket}/${parts.key ?? ''}`, true);
  const query = [...parts.query.entries()]
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join('&');
  const lower = new Map(Object.entries(parts.headers).map(([k, v]) => [k.toLowerCase(), headerValue(v)]));
  const signed = [...lower.keys()]
    .filter((k) => k === 'content-type' || k === 'content-md5' || k.startsWith('x-oss-') || parts.additionalHeaders.includes(k))
    .sort();
  const headers = signed.map((k) => `${k}:${lower.get(k) ?? ''}\n`).join('');
  const payload = lower.get('x-oss-content-sha256') || 'UNSIGNED-PAYLOAD';
  return [parts.method.toUpperCase(), uri, query, headers, parts.additionalHeaders.join(';'), payload].join('\n');
}

export function scopeV4(date: string, region: string): string {
  return `${date}/${region}/oss/aliyun_v4_request`;
}

export function stringToSignV4(timestamp: string, region: string, canonicalRequest: string): string {
  const hash = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  return [V4_ALGORITHM, timestamp, scopeV4(timestamp.slice(0, 8), region), hash].join('\n');
}

export function signV4(secret: string, date: string, region: string, toSign: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
  const key = hmac(hmac(hmac(hmac(`aliyun_v4${secret}`, date), region), 'oss'), 'aliyun_v4_request');
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** The fields of an "OSS4-HMAC-SHA256 Credential=…,AdditionalHeaders=…,Signature=…" header (spaces after commas allowed). */
export function parseV4Authorization(value: string): { credential: string; additionalHeaders: string[]; signature: string } | undefined {
  if (!value.startsWith(`${V4_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(V4_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signature = fields.get('Signature');
  if (credential === undefined || signature === undefined) return undefined;
  const additional = fields.get('AdditionalHeaders');
  return { credential, signature, additionalHeaders: additional ? additional.toLowerCase().split(';') : [] };
}
