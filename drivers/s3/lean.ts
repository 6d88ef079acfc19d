/**
 * Lean requests: the s3 backend's most frequent small writes — PutObject of
 * a small in-memory body, CopyObject, DeleteObject — signed here (SigV4,
 * @smithy/signature-v4, the SDK's own signer) and sent on the request
 * handler's keep-alive pool (get-handler.ts), without the SDK's middleware
 * stack.
 *
 * Why: each SDK send walks some twenty middlewares (endpoint rules, schema
 * serialisation, retry and auth plumbing, response deserialisation). On a
 * loopback Ceph RGW that took ~0.6–1 ms of CPU per request, more than the
 * gateway needed to serve a 4 KiB PUT. A mount renaming a directory or
 * creating small files makes one such request per file, on the one JS
 * thread that also answers FUSE.
 *
 * Scope: plain-HTTP endpoints addressed path-style at the root (a gateway
 * on loopback or the LAN: RGW, MinIO), and the requests' common forms only —
 * metadata and a content type; no ACL, storage class, tags, conditions or
 * versions, bodies up to LEAN_PUT_MAX_BYTES. The backend sends everything
 * else through the SDK. Failures come back in the SDK's shape (name and
 * Code, $metadata.httpStatusCode; a network failure with its code), so
 * translateS3Error maps them exactly as it maps the SDK's.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Body, CopyOptions, Metadata, ObjectRef, PutOptions, WriteResult } from '../contract.js';
import { copySource, metadataHeaders, unquoteEtag, uriEscape } from '../wire/s3-format.js';
import { decodeEntities, parseEmbeddedError } from '../wire/s3-xml.js';
import type { GetRequest, GetResponse } from './get-handler.js';

/** Bodies sent lean at most; a bigger PUT gains nothing from it (its bytes cost more than the SDK does). */
export const LEAN_PUT_MAX_BYTES = 1024 * 1024;

/** The fields of a write the lean path can carry. */
export interface LeanFields {
  metadata?: Metadata | undefined;
  contentType?: string | undefined;
}

/** The fields of a put the lean path can send; undefined when it cannot (a stream, a big body, an ACL, tags, a condition…). */
export function leanPut(body: Body, options: PutOptions = {}): LeanFields | undefined {
  if (!Buffer.isBuffer(body) || body.length > LEAN_PUT_MAX_BYTES) return undefined;
  const { ifMatch, ifNoneMatch, acl, storageClass, tags } = options;
  if (ifMatch !== undefined || ifNoneMatch !== undefined || acl !== undefined || storageClass !== undefined || tags !== undefined) return undefined;
  return { metadata: options.metadata, contentType: options.contentType };
}

/**
 * How the lean path sends a copy: keeping the source's metadata (replace
 * undefined) or replacing it; undefined when it cannot (a source version,
 * a condition, a new content type alone, which needs the source's metadata).
 */
export function leanCopy(source: ObjectRef, options: CopyOptions = {}): { replace: LeanFields | undefined } | undefined {
  if (source.versionId !== undefined || options.ifMatch !== undefined) return undefined;
  if (options.metadata === undefined) return options.contentType === undefined ? { replace: undefined } : undefined;
  return { replace: { metadata: options.metadata, contentType: options.contentType } };
}

/** What sends a request on a pooled connection (GetHandler.send). */
export interface LeanTransport {
  send(request: GetRequest): Promise<GetResponse>;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8')
  : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  : Buffer.from(data);

/** SHA-256, or HMAC-SHA-256 keyed with `secret`, as SignatureV4 wants its hash. */
class Sha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const sha256Hex = (body: Buffer): string => createHash('sha256').update(body).digest('hex');
const EMPTY_SHA256 = sha256Hex(Buffer.alloc(0));

/** Where lean requests go: the endpoint's host and port. */
export interface LeanEndpoint {
  hostname: string;
  port: number;
}

/** The endpoint lean requests can use, or undefined (https, virtual-hosted, a path prefix, credentials in the URL). */
export function leanEndpoint(endpoint: string | undefined, forcePathStyle: boolean | undefined): LeanEndpoint | undefined {
  if (endpoint === undefined || forcePathStyle === false) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (url.pathname !== '/' && url.pathname !== '') return undefined;
  return { hostname: url.hostname, port: url.port === '' ? 80 : Number(url.port) };
}

/** An S3 error in the shape the SDK gives it (translateS3Error reads name/Code and $metadata.httpStatusCode). */
function serverError(status: number, code: string | undefined, message: string | undefined, requestId: string | undefined): Error {
  const name = code ?? 'UnknownError';
  return Object.assign(new Error(message !== undefined && message !== '' ? message : name), {
    name,
    ...(code === undefined ? {} : { Code: code }),
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, ...(requestId === undefined ? {} : { requestId }) },
  });
}

/** The text of an `<Element>` in an S3 XML document (no nesting needed here). */
function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function writeResult(headers: Record<string, string>, etag: string | undefined): WriteResult {
  const result: WriteResult = { etag: unquoteEtag(etag) };
  const versionId = headers['x-amz-version-id'];
  if (versionId !== undefined) result.versionId = versionId;
  return result;
}

function fieldHeaders(fields: LeanFields): Record<string, string> {
  return {
    ...metadataHeaders(fields.metadata, 'x-amz-meta-'),
    ...(fields.contentType === undefined ? {} : { 'content-type': fields.contentType }),
  };
}

export class LeanS3 {
  private readonly signer: SignatureV4;
  private readonly host: string;

  constructor(
    private readonly endpoint: LeanEndpoint,
    region: string,
    credentials: () => Promise<Credentials>,
    private readonly transport: LeanTransport,
  ) {
    this.signer = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    this.host = endpoint.port === 80 ? endpoint.hostname : `${endpoint.hostname}:${endpoint.port}`;
  }

  /** PutObject of a small in-memory body. */
  async put(bucket: string, key: string, body: Buffer, fields: LeanFields): Promise<WriteResult> {
    const response = await this.send('PUT', bucket, key, {
      'content-length': String(body.length),
      'x-amz-content-sha256': sha256Hex(body),
      ...fieldHeaders(fields),
    }, body);
    await this.settle(response);
    return writeResult(response.headers, response.headers['etag']);
  }

  /** CopyObject; with `replace`, the copy's metadata and content type are these (MetadataDirective REPLACE). */
  async copy(source: ObjectRef, dest: ObjectRef, replace: LeanFields | undefined): Promise<WriteResult> {
    const response = await this.send('PUT', dest.bucket, dest.key, {
      'content-length': '0',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-copy-source': copySource(source),
      ...(replace === undefined ? {} : { 'x-amz-metadata-directive': 'REPLACE', ...fieldHeaders(replace) }),
    });
    const text = await this.settle(response);
    // A copy can fail after the 200 went out: the body is then an <Error> (the SDK turns that into a 503 too).
    const embedded = text.trimEnd().endsWith('</Error>') ? parseEmbeddedError(text) : undefined;
    if (embedded !== undefined) throw serverError(503, embedded.code, embedded.message, response.headers['x-amz-request-id']);
    const etag = element(text, 'ETag');
    if (etag === undefined) throw serverError(503, 'InternalError', 'S3 aborted request', response.headers['x-amz-request-id']);
    return writeResult(response.headers, etag);
  }

  /** DeleteObject (a missing key is no error for S3). */
  async delete(bucket: string, key: string): Promise<void> {
    await this.settle(await this.send('DELETE', bucket, key, { 'x-amz-content-sha256': EMPTY_SHA256 }));
  }

  private async send(method: 'PUT' | 'DELETE', bucket: string, key: string, headers: Record<string, string>, body?: Buffer): Promise<GetResponse> {
    const request: GetRequest = {
      method,
      protocol: 'http:',
      hostname: this.endpoint.hostname,
      port: this.endpoint.port,
      path: `/${uriEscape(bucket)}/${key.split('/').map(uriEscape).join('/')}`,
      query: {},
      headers: { host: this.host, ...headers },
      ...(body === undefined ? {} : { body }),
    };
    const signed = await this.signer.sign(request as never) as unknown as GetRequest;
    return this.transport.send({ ...signed, ...(body === undefined ? {} : { body }) });
  }

  /** Reads the whole body; a status other than 2xx becomes the S3 error its body names. */
  private async settle(response: GetResponse): Promise<string> {
    const text = await readText(response.body);
    const status = response.statusCode;
    if (status >= 200 && status < 300) return text;
    const requestId = response.headers['x-amz-request-id'];
    // A body-less error (a proxy's) has no code: translateS3Error then goes by the status.
    throw serverError(status, element(text, 'Code'), element(text, 'Message') ?? response.reason, requestId);
  }
}
