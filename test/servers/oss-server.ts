/**
 * A loopback server that speaks the Aliyun OSS REST protocol, path style
 * (what ali-oss sends with sldEnable), from memory. No OSS server exists for
 * this machine, and S3 servers reject OSS signatures, so the oss backend is
 * tested against this: it checks every request's OSS signature — V1
 * (Authorization: OSS id:sig, or OSSAccessKeyId/Expires/Signature in a URL)
 * or V4 (OSS4-HMAC-SHA256, header or URL) — against known credentials, as OSS
 * does (oss/auth.ts), and answers with OSS's status codes, headers and XML. A
 * wrong signature is 403 SignatureDoesNotMatch, an unknown key 403
 * InvalidAccessKeyId.
 *
 * What it is not: a full OSS. No ACL enforcement, no lifecycle, no CRC64
 * headers, no virtual-hosted style; restores finish after `restoreDelayMs`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './oss/auth.js';
import * as bucketOps from './oss/buckets.js';
import type { ServerCtx } from './oss/context.js';
import { OssFailure, errorXml, header, parseUrl, type OssRequest, type Reply } from './oss/http.js';
import * as multipartOps from './oss/multipart.js';
import * as objectOps from './oss/objects.js';
import { Store } from './oss/store.js';

export interface OssServerOptions {
  accessKeyId?: string;
  accessKeySecret?: string;
  /** How long a restore of an archived object takes; default 0 (done at once). */
  restoreDelayMs?: number;
  /** Send the x-oss-err header on body-less HEAD errors, as OSS does; default true. */
  headErrorHeader?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
}

export interface OssServer {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  region: string;
  /** Every request received, in order. */
  requests: LoggedRequest[];
  /** The next `count` requests fail with `status` (and an OSS error body) before any other check. */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

type Handler = (ctx: ServerCtx) => Reply;

/** Which handler serves a request: by method, object or bucket level, and sub-resource. */
function route(req: OssRequest): Handler | undefined {
  const q = req.query;
  const has = (name: string) => q.has(name);
  if (req.bucket === undefined) return req.method === 'GET' ? bucketOps.listBuckets : undefined;
  if (req.key === undefined) {
    switch (req.method) {
      case 'PUT':
        return has('versioning') ? bucketOps.putBucketVersioning : has('acl') ? undefined : bucketOps.putBucket;
      case 'DELETE':
        return bucketOps.deleteBucket;
      case 'POST':
        return has('delete') ? bucketOps.deleteMultiple : undefined;
      case 'GET':
        if (has('bucketInfo')) return bucketOps.getBucketInfo;
        if (has('versions')) return bucketOps.listVersions;
        if (has('uploads')) return multipartOps.listUploads;
        return bucketOps.listObjects;
      default:
        return undefined;
    }
  }
  switch (req.method) {
    case 'GET':
      if (has('acl')) return objectOps.getObjectAcl;
      if (has('tagging')) return objectOps.getTagging;
      if (has('uploadId')) return multipartOps.listParts;
      return (ctx) => objectOps.getObject(ctx, false);
    case 'HEAD':
      return (ctx) => objectOps.getObject(ctx, true);
    case 'PUT':
      if (has('acl')) return objectOps.putObjectAcl;
      if (has('tagging')) return objectOps.putTagging;
      if (has('partNumber') && has('uploadId')) return multipartOps.uploadPart;
      return objectOps.putObject;
    case 'POST':
      if (has('uploads')) return multipartOps.initiate;
      if (has('uploadId')) return multipartOps.complete;
      if (has('append')) return objectOps.appendObject;
      if (has('restore')) return objectOps.restoreObject;
      return undefined;
    case 'DELETE':
      if (has('tagging')) return objectOps.deleteTagging;
      if (has('uploadId')) return multipartOps.abort;
      return objectOps.deleteObject;
    default:
      return undefined;
  }
}

function checkContentMd5(req: OssRequest): void {
  const md5 = header(req, 'content-md5');
  if (md5 !== undefined && createHash('md5').update(req.body).digest('base64') !== md5) {
    throw new OssFailure(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, reply: Reply, requestId: string, head: boolean): void {
  const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body);
  res.writeHead(reply.status, {
    'x-oss-request-id': requestId,
    Server: 'AliyunOSS',
    ...(!head && { 'Content-Length': body.length }),
    ...reply.headers,
  });
  res.end(head ? undefined : body);
}

function failureReply(failure: OssFailure, requestId: string, head: boolean, headErrorHeader: boolean): Reply {
  const xml = errorXml(failure, requestId);
  const headers: Record<string, string> = { ...failure.headers, 'x-oss-ec': '0000-00000000' };
  if (head && headErrorHeader) headers['x-oss-err'] = Buffer.from(xml).toString('base64');
  return { status: failure.status, headers: { 'Content-Type': 'application/xml', ...headers }, body: xml };
}

function statusCode(status: number): string {
  if (status === 503) return 'ServiceUnavailable';
  if (status >= 500) return 'InternalError';
  if (status === 429) return 'SlowDown';
  return 'FaultInjected';
}

export async function startOssServer(opts: OssServerOptions = {}): Promise<OssServer> {
  const accessKeyId = opts.accessKeyId ?? `LTAI${randomBytes(8).toString('hex')}`;
  const accessKeySecret = opts.accessKeySecret ?? randomBytes(20).toString('base64');
  const region = 'oss-test-local';
  // V4 scopes name the region without its "oss-" prefix.
  const auth = new Authenticator(accessKeyId, accessKeySecret, region.replace(/^oss-/, ''));
  const store = new Store();
  const requests: LoggedRequest[] = [];
  const faults = { count: 0, status: 500 };
  const owner = { ID: accessKeyId, DisplayName: accessKeyId };

  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomBytes(12).toString('hex').toUpperCase();
    const method = raw.method ?? 'GET';
    const head = method === 'HEAD';
    const url = raw.url ?? '/';
    const q = url.indexOf('?');
    requests.push({ method, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1) });
    try {
      const body = await readBody(raw);
      if (faults.count > 0) {
        faults.count -= 1;
        throw new OssFailure(faults.status, statusCode(faults.status), 'Injected fault.');
      }
      let parsed: ReturnType<typeof parseUrl>;
      try {
        parsed = parseUrl(url);
      } catch {
        throw new OssFailure(400, 'InvalidURI', 'Could not parse the specified URI.');
      }
      const req: OssRequest = { method, ...parsed, headers: raw.headers, body, requestId };
      auth.check(req);
      checkContentMd5(req);
      const handler = route(req);
      if (handler === undefined) throw new OssFailure(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      send(res, handler({ store, req, owner, restoreDelayMs: opts.restoreDelayMs ?? 0 }), requestId, head);
    } catch (e) {
      const failure = e instanceof OssFailure ? e : new OssFailure(500, 'InternalError', `Internal error: ${(e as Error).message}`);
      send(res, failureReply(failure, requestId, head, opts.headErrorHeader ?? true), requestId, head);
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    // A host name, not the IP: ali-oss rewrites Host for IP endpoints, which path style cannot survive.
    endpoint: `http://localhost:${port}`,
    accessKeyId,
    accessKeySecret,
    region,
    requests,
    failNext(count: number, status: number) {
      faults.count = count;
      faults.status = status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
