/**
 * A "null" S3 server for the mount benchmark's ceiling table: an
 * S3-compatible HTTP server on loopback (node:http) that keeps no data. PUT
 * and UploadPart bodies are read, hashed (MD5, so etags are the real ones a
 * client checks) and thrown away; GETs serve deterministic bytes made from a
 * pattern buffer in memory (offset by a hash of the key), honouring Range.
 * What it does keep: key → size, etag, time, metadata; and the bodies of
 * small single-PUT objects (up to KEEP_BYTES), because a client that reads
 * those back in one piece checks them against their MD5 etag.
 *
 * Served: Create/Head/DeleteBucket, PutObject, CopyObject, HeadObject,
 * GetObject (Range, If-Match, If-None-Match), DeleteObject, DeleteObjects,
 * ListObjectsV2 (prefix, delimiter, max-keys, continuation), multipart
 * Create/UploadPart/UploadPartCopy/Complete/Abort and ListMultipartUploads.
 * Anything else answers 501 NotImplemented.
 *
 * AUTHENTICATION: none. Any request, signed or not, with any key, is
 * accepted. It listens on 127.0.0.1 only, for a benchmark's lifetime; never
 * expose it.
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { DEFAULT_DOWNLOAD_RANGE } from '../../drivers/transfer.js';
import type { BenchServer } from './server.js';
import { AwsChunkedDecoder } from './null-server-body.js';

/** Single-PUT objects up to the size a client downloads in one range (and so checks against the MD5 etag) keep their bytes. */
const KEEP_BYTES = DEFAULT_DOWNLOAD_RANGE;
const PATTERN_SPAN = 2 ** 20;
/** The span twice over, so a slice of up to PATTERN_SPAN bytes starting anywhere in the span is one subarray. */
const PATTERN = ((span: Buffer) => Buffer.concat([span, span]))(randomBytes(PATTERN_SPAN));
const REGION = 'us-east-1';

interface StoredObject {
  size: number;
  etag: string;
  modified: Date;
  /** Content-Type and x-amz-meta-* headers, as received. */
  headers: Record<string, string>;
  /** Only for small single-PUT objects. */
  body?: Buffer;
}

interface Part {
  size: number;
  etag: string;
}

interface Upload {
  bucket: string;
  key: string;
  id: string;
  initiated: Date;
  headers: Record<string, string>;
  parts: Map<number, Part>;
}

class NullError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const xmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const xmlUnescape = (s: string) =>
  s.replace(/&(#x?[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[e] !== undefined) return named[e];
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
const tag = (name: string, value: string | number | boolean) => `<${name}>${typeof value === 'string' ? xmlEscape(value) : String(value)}</${name}>`;
const xmlDoc = (root: string, inner: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
const md5hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The headers an object keeps: its content type and user metadata. */
function keptHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if ((name === 'content-type' || name.startsWith('x-amz-meta-')) && typeof value === 'string') out[name] = value;
  }
  return out;
}

/** Reads a request body (decoding aws-chunked framing), hashing it; keeps the bytes when `keep`. */
async function consume(req: IncomingMessage, keep: boolean): Promise<{ size: number; md5: string; body?: Buffer }> {
  const hash = createHash('md5');
  const kept: Buffer[] = [];
  let size = 0;
  const take = (data: Buffer) => {
    hash.update(data);
    size += data.length;
    if (keep && size <= KEEP_BYTES) kept.push(data);
  };
  const chunked = /aws-chunked/.test(req.headers['content-encoding'] ?? '') || /^STREAMING-/.test(String(req.headers['x-amz-content-sha256'] ?? ''));
  const decoder = chunked ? new AwsChunkedDecoder(take) : undefined;
  for await (const data of req) (decoder === undefined ? take : (d: Buffer) => decoder.push(d))(data as Buffer);
  const md5 = hash.digest('hex');
  return keep && size <= KEEP_BYTES ? { size, md5, body: Buffer.concat(kept) } : { size, md5 };
}

/** Deterministic bytes of `key` in [start, end): the pattern, shifted by a hash of the key. */
function patternStream(key: string, start: number, end: number): Readable {
  const shift = createHash('md5').update(key).digest().readUInt32BE(0) % PATTERN_SPAN;
  let at = start;
  return new Readable({
    highWaterMark: PATTERN_SPAN,
    read() {
      if (at >= end) return void this.push(null);
      const from = (shift + at) % PATTERN_SPAN;
      const length = Math.min(PATTERN_SPAN, end - at);
      at += length;
      this.push(PATTERN.subarray(from, from + length));
    },
  });
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → half-open [start, end), or undefined for the whole object. */
function parseRange(header: string | undefined, size: number, what: string): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  const range = a === '' ? { start: Math.max(0, size - Number(b)), end: size } : { start: Number(a), end: b === '' ? size : Math.min(size, Number(b) + 1) };
  if (range.start >= size) throw new NullError(416, 'InvalidRange', `${what}: range ${header} outside ${size} bytes`);
  return range;
}

export class NullS3 {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  private readonly sorted = new Map<string, string[]>();
  private readonly uploads = new Map<string, Upload>();

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://null');
    const [bucketPart = '', ...rest] = url.pathname.slice(1).split('/');
    const bucket = decodeURIComponent(bucketPart);
    const key = rest.map(decodeURIComponent).join('/');
    const q = url.searchParams;
    if (bucket === '') return this.send(res, 200, xmlDoc('ListAllMyBucketsResult', `<Buckets>${[...this.buckets.keys()].map((b) => `<Bucket>${tag('Name', b)}</Bucket>`).join('')}</Buckets>`));
    if (key === '') return this.bucketOp(req, res, bucket, q);
    const objects = this.objects(bucket);
    if (q.has('uploadId') || q.has('uploads')) return this.multipartOp(req, res, bucket, key, q);
    if (['tagging', 'acl', 'versionId', 'restore', 'attributes'].some((p) => q.has(p))) throw new NullError(501, 'NotImplemented', `not served by the null server: ${url.search}`);
    switch (req.method) {
      case 'PUT': return this.put(req, res, bucket, key);
      case 'GET':
      case 'HEAD': return this.get(req, res, `${bucket}/${key}`, key, objects.get(key));
      case 'DELETE':
        if (objects.delete(key)) this.sorted.delete(bucket);
        return this.send(res, 204);
      default: throw new NullError(405, 'MethodNotAllowed', `${req.method ?? '?'} on an object`);
    }
  }

  private objects(bucket: string): Map<string, StoredObject> {
    const objects = this.buckets.get(bucket);
    if (objects === undefined) throw new NullError(404, 'NoSuchBucket', `no bucket ${bucket}`);
    return objects;
  }

  private store(bucket: string, key: string, object: StoredObject): void {
    this.objects(bucket).set(key, object);
    this.sorted.delete(bucket);
  }

  private send(res: ServerResponse, status: number, xml?: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...headers, ...(xml === undefined ? { 'content-length': '0' } : { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) }) });
    res.end(xml);
  }

  private async bucketOp(req: IncomingMessage, res: ServerResponse, bucket: string, q: URLSearchParams): Promise<void> {
    if (req.method === 'PUT') {
      if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
      return this.send(res, 200);
    }
    const objects = this.objects(bucket);
    if (req.method === 'HEAD') return this.send(res, 200, undefined, { 'x-amz-bucket-region': REGION });
    if (req.method === 'DELETE') {
      if (objects.size > 0) throw new NullError(409, 'BucketNotEmpty', `bucket ${bucket} is not empty`);
      this.buckets.delete(bucket);
      return this.send(res, 204);
    }
    if (req.method === 'POST' && q.has('delete')) return this.deleteMany(req, res, bucket);
    if (req.method !== 'GET') throw new NullError(405, 'MethodNotAllowed', `${req.method ?? '?'} on a bucket`);
    if (q.has('uploads')) return this.send(res, 200, this.listUploads(bucket, q.get('prefix') ?? ''));
    if (q.has('location')) return this.send(res, 200, xmlDoc('LocationConstraint', ''));
    if (q.has('versioning')) return this.send(res, 200, xmlDoc('VersioningConfiguration', ''));
    if (q.get('list-type') === '2') return this.send(res, 200, this.listV2(bucket, q));
    throw new NullError(501, 'NotImplemented', 'only ListObjectsV2 lists');
  }

  private async deleteMany(req: IncomingMessage, res: ServerResponse, bucket: string): Promise<void> {
    const body = (await consume(req, true)).body?.toString('utf8') ?? '';
    const keys = [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => xmlUnescape(m[1] ?? ''));
    const objects = this.objects(bucket);
    for (const key of keys) objects.delete(key);
    this.sorted.delete(bucket);
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(body);
    this.send(res, 200, xmlDoc('DeleteResult', quiet ? '' : keys.map((k) => `<Deleted>${tag('Key', k)}</Deleted>`).join('')));
  }

  private sortedKeys(bucket: string): string[] {
    let keys = this.sorted.get(bucket);
    if (keys === undefined) {
      keys = [...this.objects(bucket).keys()].sort(byUtf8);
      this.sorted.set(bucket, keys);
    }
    return keys;
  }

  /** ListObjectsV2; the continuation token is the last key or common prefix returned (base64). */
  private listV2(bucket: string, q: URLSearchParams): string {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const maxKeys = Math.min(1000, Number(q.get('max-keys') ?? 1000));
    const token = q.get('continuation-token');
    const after = token === null ? (q.get('start-after') ?? '') : Buffer.from(token, 'base64').toString('utf8');
    const objects = this.objects(bucket);
    const contents: string[] = [];
    const prefixes: string[] = [];
    let last = '';
    let truncated = false;
    for (const key of this.sortedKeys(bucket)) {
      if (!key.startsWith(prefix) || byUtf8(key, after) <= 0) continue;
      // A common prefix already returned (it ends the previous page, or came just before) covers its keys.
      if (delimiter !== '' && after.endsWith(delimiter) && after.length > prefix.length && key.startsWith(after)) continue;
      const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
      const common = cut < 0 ? undefined : key.slice(0, cut + delimiter.length);
      if (common !== undefined && common === prefixes.at(-1)) continue;
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (common !== undefined) {
        prefixes.push(common);
        last = common;
        continue;
      }
      const o = objects.get(key) as StoredObject;
      contents.push(`<Contents>${tag('Key', key)}${tag('LastModified', o.modified.toISOString())}${tag('ETag', `"${o.etag}"`)}${tag('Size', o.size)}${tag('StorageClass', 'STANDARD')}</Contents>`);
      last = key;
    }
    const next = truncated ? tag('NextContinuationToken', Buffer.from(last).toString('base64')) : '';
    return xmlDoc('ListBucketResult', [
      tag('Name', bucket), tag('Prefix', prefix), delimiter === '' ? '' : tag('Delimiter', delimiter), tag('MaxKeys', maxKeys),
      tag('KeyCount', contents.length + prefixes.length), tag('IsTruncated', truncated), next, token === null ? '' : tag('ContinuationToken', token),
      ...contents, ...prefixes.map((p) => `<CommonPrefixes>${tag('Prefix', p)}</CommonPrefixes>`),
    ].join(''));
  }

  private async put(req: IncomingMessage, res: ServerResponse, bucket: string, key: string): Promise<void> {
    this.objects(bucket);
    const source = req.headers['x-amz-copy-source'];
    if (typeof source === 'string') {
      await consume(req, false);
      const from = this.copySource(source);
      const headers = req.headers['x-amz-metadata-directive'] === 'REPLACE' ? keptHeaders(req) : from.headers;
      const copy: StoredObject = { ...from, headers, modified: new Date() };
      this.store(bucket, key, copy);
      return this.send(res, 200, xmlDoc('CopyObjectResult', tag('ETag', `"${copy.etag}"`) + tag('LastModified', copy.modified.toISOString())));
    }
    const { size, md5, body } = await consume(req, true);
    this.store(bucket, key, { size, etag: md5, modified: new Date(), headers: keptHeaders(req), ...(body === undefined ? {} : { body }) });
    this.send(res, 200, undefined, { etag: `"${md5}"` });
  }

  private copySource(header: string): StoredObject {
    const path = decodeURIComponent(header.replace(/^\//, '').split('?')[0] ?? '');
    const slash = path.indexOf('/');
    const object = this.objects(path.slice(0, slash)).get(path.slice(slash + 1));
    if (object === undefined) throw new NullError(404, 'NoSuchKey', `copy source ${path} does not exist`);
    return object;
  }

  private get(req: IncomingMessage, res: ServerResponse, what: string, key: string, o: StoredObject | undefined): void {
    if (o === undefined) throw new NullError(404, 'NoSuchKey', `${what} does not exist`);
    const etag = `"${o.etag}"`;
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch.replace(/"/g, '') !== o.etag) throw new NullError(412, 'PreconditionFailed', `${what}: etag is ${o.etag}`);
    if (req.headers['if-none-match']?.replace(/"/g, '') === o.etag) return this.send(res, 304, undefined, { etag });
    const range = req.method === 'GET' ? parseRange(req.headers.range, o.size, what) : undefined;
    const { start, end } = range ?? { start: 0, end: o.size };
    res.writeHead(range === undefined ? 200 : 206, {
      'content-type': 'binary/octet-stream', ...o.headers, etag, 'last-modified': o.modified.toUTCString(), 'accept-ranges': 'bytes',
      'content-length': String(end - start), ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end - 1}/${o.size}` }),
    });
    if (req.method === 'HEAD') return void res.end();
    if (o.body !== undefined) return void res.end(o.body.subarray(start, end));
    patternStream(key, start, end).pipe(res);
  }

  private async multipartOp(req: IncomingMessage, res: ServerResponse, bucket: string, key: string, q: URLSearchParams): Promise<void> {
    if (req.method === 'POST' && q.has('uploads')) {
      const upload: Upload = { bucket, key, id: randomBytes(12).toString('hex'), initiated: new Date(), headers: keptHeaders(req), parts: new Map() };
      this.uploads.set(upload.id, upload);
      return this.send(res, 200, xmlDoc('InitiateMultipartUploadResult', tag('Bucket', bucket) + tag('Key', key) + tag('UploadId', upload.id)));
    }
    const upload = this.uploads.get(q.get('uploadId') ?? '');
    if (req.method === 'DELETE') {
      this.uploads.delete(q.get('uploadId') ?? '');
      return this.send(res, 204);
    }
    if (upload === undefined || upload.bucket !== bucket || upload.key !== key) throw new NullError(404, 'NoSuchUpload', `no upload ${q.get('uploadId') ?? ''} of ${bucket}/${key}`);
    if (req.method === 'PUT') return this.uploadPart(req, res, upload, Number(q.get('partNumber')));
    if (req.method === 'POST') return this.complete(req, res, upload);
    throw new NullError(501, 'NotImplemented', 'ListParts is not served by the null server');
  }

  private async uploadPart(req: IncomingMessage, res: ServerResponse, upload: Upload, n: number): Promise<void> {
    const source = req.headers['x-amz-copy-source'];
    if (typeof source !== 'string') {
      const { size, md5 } = await consume(req, false);
      upload.parts.set(n, { size, etag: md5 });
      return this.send(res, 200, undefined, { etag: `"${md5}"` });
    }
    await consume(req, false);
    const from = this.copySource(source);
    const range = parseRange(req.headers['x-amz-copy-source-range'] as string | undefined, from.size, source) ?? { start: 0, end: from.size };
    // No bytes to hash: an etag that still differs per source and range.
    const etag = md5hex(Buffer.from(`${from.etag}:${range.start}-${range.end}`));
    upload.parts.set(n, { size: range.end - range.start, etag });
    this.send(res, 200, xmlDoc('CopyPartResult', tag('ETag', `"${etag}"`) + tag('LastModified', new Date().toISOString())));
  }

  private async complete(req: IncomingMessage, res: ServerResponse, upload: Upload): Promise<void> {
    const body = (await consume(req, true)).body?.toString('utf8') ?? '';
    const numbers = [...body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
    const parts = numbers.map((n) => {
      const part = upload.parts.get(n);
      if (part === undefined) throw new NullError(400, 'InvalidPart', `part ${n} of upload ${upload.id} was not uploaded`);
      return part;
    });
    const etag = `${md5hex(Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex'))))}-${parts.length}`;
    this.uploads.delete(upload.id);
    this.store(upload.bucket, upload.key, { size: parts.reduce((s, p) => s + p.size, 0), etag, modified: new Date(), headers: upload.headers });
    this.send(res, 200, xmlDoc('CompleteMultipartUploadResult', tag('Bucket', upload.bucket) + tag('Key', upload.key) + tag('ETag', `"${etag}"`)));
  }

  private listUploads(bucket: string, prefix: string): string {
    const mine = [...this.uploads.values()].filter((u) => u.bucket === bucket && u.key.startsWith(prefix));
    const uploads = mine.map((u) => `<Upload>${tag('Key', u.key)}${tag('UploadId', u.id)}${tag('Initiated', u.initiated.toISOString())}</Upload>`);
    return xmlDoc('ListMultipartUploadsResult', tag('Bucket', bucket) + tag('Prefix', prefix) + tag('IsTruncated', false) + uploads.join(''));
  }
}

/** Serves the null S3 API on a free loopback port of this process; resolves to the port. */
export async function listenNull(): Promise<number> {
  const s3 = new NullS3();
  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    s3.handle(req, res).catch((e: unknown) => {
      const error = e instanceof NullError ? e : new NullError(500, 'InternalError', String(e));
      if (res.headersSent) return void res.destroy();
      req.resume();
      const xml = req.method === 'HEAD' ? undefined : xmlDoc('Error', tag('Code', error.code) + tag('Message', error.message));
      res.writeHead(error.status, xml === undefined ? {} : { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) });
      res.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Starts the null server in a child process of its own (null-server-main),
 * so hashing uploads never competes with the benchmark's own event loop;
 * `stop()` ends it, and it ends itself when this process goes away.
 */
export async function startNullServer(): Promise<BenchServer> {
  // Under tap this module runs as TypeScript (the child inherits the loader), from dist/ as JavaScript.
  const main = fileURLToPath(new URL(`./null-server-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const child = fork(main, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    void exited.then(() => reject(new Error('the null server exited before listening')));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    s3: { name: 'null server', endpoint, region: REGION, accessKeyId: 'null', secretAccessKey: 'null-server-accepts-any-signature' },
    description: `null S3 server (own process; discards bodies over ${KEEP_BYTES / 2 ** 20} MiB, serves a pattern from memory) at ${endpoint}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
