/**
 * The head of an HTTP/1.1 request from the SDK's HttpRequest, byte for byte
 * what SigV4 signed: the path as given, the query with keys sorted and
 * percent-encoded as SigV4 canonicalises it, every header as set, and the
 * body's length when no header gives it. A target or header that would split
 * the request (a control character, a content-length that disagrees with the
 * body, a transfer coding) is refused, never sent.
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
/** Methods sent; a body is sent whole, from memory. */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** The request head; refuses a target or header that would split it. */
export function requestHead(request: GetRequest): string {
  const query = queryString(request.query);
  const target = query === '' ? request.path : `${request.path}?${query}`;
  if (CONTROL.test(target) || target.includes(' ')) throw new Error('refusing a request target with spaces or control characters');
  if (!METHODS.has(request.method)) throw new Error(`this handler sends ${[...METHODS].join(', ')} only, not ${request.method}`);
  const bodyBytes = request.body == null ? 0 : (request.body as Uint8Array).byteLength;
  const lines = [`${request.method} ${target} HTTP/1.1`];
  let host = false;
  let length = false;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\0\r\n]/.test(String(value))) {
      throw new Error(`refusing a malformed request header ${JSON.stringify(name)}`);
    }
    const lower = name.toLowerCase();
    if (lower === 'host') host = true;
    if (lower === 'transfer-encoding') throw new Error('refusing a request with a transfer coding: bodies are sent whole');
    if (lower === 'content-length') {
      // A length that disagrees with the body would split this request from the next on the connection.
      if (String(value).trim() !== String(bodyBytes)) throw new Error(`refusing a content-length of ${String(value)} for a body of ${bodyBytes} bytes`);
      length = true;
    }
    lines.push(`${name}: ${value}`);
  }
  if (!host) lines.push(`host: ${request.hostname}${request.port === undefined ? '' : `:${request.port}`}`);
  if (!length && (bodyBytes > 0 || request.method === 'PUT')) lines.push(`content-length: ${bodyBytes}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
