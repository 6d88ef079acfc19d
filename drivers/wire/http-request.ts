/**
 * The head of an HTTP/1.1 request from the SDK's HttpRequest, byte for byte
 * what SigV4 signed: the path as given, the query with keys sorted and
 * percent-encoded as SigV4 canonicalises it, every header as set. A target or
 * header that would split the request is refused, never sent.
 */

/** The parts of the SDK's HttpRequest a request head is made of. */
export interface GetRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
  username?: string;
  password?: string;
  fragment?: string;
}

/** RFC 3986 unreserved characters stay; everything else is percent-encoded (as SigV4 canonicalises). */
const escapeUri = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The query string of a request: keys sorted, a null value as a bare key. */
export function queryString(query: Record<string, string | string[] | null> | undefined): string {
  if (query === undefined) return '';
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const name = escapeUri(key);
    if (Array.isArray(value)) for (const v of value) parts.push(`${name}=${escapeUri(v)}`);
    else if (value === null || value === undefined) parts.push(name);
    else parts.push(`${name}=${escapeUri(value)}`);
  }
  return parts.join('&');
}

const CONTROL = /[\0-\x1f\x7f]/;

/** The request head; refuses a target or header that would split it. */
export function requestHead(request: GetRequest): string {
  const query = queryString(request.query);
  const target = query === '' ? request.path : `${request.path}?${query}`;
  if (CONTROL.test(target) || target.includes(' ')) throw new Error('refusing a request target with spaces or control characters');
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new Error(`this handler sends GET and HEAD only, not ${request.method}`);
  const lines = [`${request.method} ${target} HTTP/1.1`];
  let host = false;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\0\r\n]/.test(String(value))) {
      throw new Error(`refusing a malformed request header ${JSON.stringify(name)}`);
    }
    if (name.toLowerCase() === 'host') host = true;
    lines.push(`${name}: ${value}`);
  }
  if (!host) lines.push(`host: ${request.hostname}${request.port === undefined ? '' : `:${request.port}`}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
