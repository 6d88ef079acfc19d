/**
 * The OSS test server's HTTP vocabulary: a parsed request (path-style
 * bucket and key, decoded query, body), replies, OSS's XML error format (the
 * base64 x-oss-err header on body-less HEAD replies), and XML in both
 * directions (fast-xml-parser). Handlers throw OssFailure; the server turns
 * it into the reply OSS would give.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

export interface OssRequest {
  method: string;
  bucket?: string;
  key?: string;
  /** Decoded query parameters, in order. */
  query: Map<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
}

export interface Reply {
  status: number;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
}

export class OssFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFoundKey = (key: string) => new OssFailure(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
export const notFoundBucket = (bucket: string) =>
  new OssFailure(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });
export const invalidArgument = (message: string, name?: string, value?: string) =>
  new OssFailure(400, 'InvalidArgument', message, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' });

export function header(req: OssRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Splits a raw URL into path segments and the query, decoding with decodeURIComponent only ('+' stays '+'). */
export function parseUrl(raw: string): { bucket?: string; key?: string; query: Map<string, string> } {
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new Map<string, string>();
  if (q >= 0) {
    for (const pair of raw.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      query.set(name, eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1)));
    }
  }
  const match = /^\/([^/]+)(?:\/(.*))?$/s.exec(path);
  if (path === '/' || match === null) return { query };
  const bucket = decodeURIComponent(match[1] ?? '');
  const rest = match[2];
  return rest === undefined || rest === '' ? { bucket, query } : { bucket, key: decodeURIComponent(rest), query };
}

const builder = new XMLBuilder({ ignoreAttributes: true, format: false, suppressEmptyNode: false });

/** An XML reply: `{ Root: { Child: 'text', List: [{...}, {...}] } }`. */
export function xmlReply(tree: Record<string, unknown>, headers: Record<string, string | number> = {}): Reply {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(tree) as string}`;
  return { status: 200, headers: { 'Content-Type': 'application/xml', ...headers }, body };
}

export function errorXml(failure: OssFailure, requestId: string): string {
  const tree = { Error: { Code: failure.code, Message: failure.message, RequestId: requestId, HostId: 'localhost', ...failure.extra } };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(tree) as string}`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  // Numeric character references (&#13;) are XML; fast-xml-parser decodes them only with this.
  htmlEntities: true,
  isArray: (name) => ['Object', 'Part', 'Tag'].includes(name),
});

/** Parses a request body; malformed XML is OSS's MalformedXML. */
export function parseXml(body: Buffer): Record<string, unknown> {
  try {
    const tree = parser.parse(body.toString('utf8'), true) as unknown;
    if (typeof tree === 'object' && tree !== null) return tree as Record<string, unknown>;
  } catch {
    // falls through to the OSS error below
  }
  throw new OssFailure(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
}

/** The text of a parsed element ('' when absent). */
export function textOf(node: unknown): string {
  return typeof node === 'string' ? node : node === undefined || node === null ? '' : String(node);
}

export function asObject(node: unknown): Record<string, unknown> {
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as Record<string, unknown>) : {};
}

/** ISO 8601 as OSS writes dates in XML. */
export function isoDate(date: Date): string {
  return date.toISOString();
}

/** Keys in XML replies when the request asked for encoding-type=url. */
export function keyCoder(req: OssRequest): (key: string) => string {
  return req.query.get('encoding-type') === 'url' ? encodeURIComponent : (key) => key;
}
