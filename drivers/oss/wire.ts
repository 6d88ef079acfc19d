/**
 * The one place the oss backend talks HTTP: an ali-oss client used at its
 * request level (it signs, builds path- or host-style URLs, keeps sockets
 * alive), with every reply handed back whatever its status, so that this
 * backend — not ali-oss's per-method helpers — decides what a status means.
 *
 * Why the request level: ali-oss's object helpers strip leading slashes, guess
 * content types from extensions, merge a missing bucket into "NoSuchKey" on
 * HEAD and on streamed GETs (whose error body they never read), accept only
 * one success status for restore, and cannot upload a part from a Buffer.
 * One client serves every bucket because each request names its bucket.
 *
 * Nothing here retries: ali-oss's retryMax stays 0; RetryingBackend retries.
 */
import { Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { parse as parseUrl } from 'node:url';
import OSS from 'ali-oss';
import { OtherError, type StorageError } from '../errors.js';
import type { Params } from './headers.js';
import { readError } from './xml.js';
import { replyError, thrownError, type ErrorDetail, type Where } from './translate.js';


export interface OssRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  bucket?: string;
  key?: string;
  /** Sub-resources: part of the signed resource (uploadId, partNumber, acl, …). */
  subres?: Params;
  /** Plain query parameters, not signed (prefix, max-keys, …). */
  query?: Params;
  headers?: Params;
  /** A Buffer body gets a Content-MD5, so the server verifies it. */
  content?: Buffer;
  stream?: Readable;
  /** Body size, for the timeout. */
  size?: number;
  /** Leave the reply body unread (GET of object data). */
  streaming?: boolean;
}

export interface OssReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, read (empty when `streaming`). */
  data: Buffer;
  /** The live response body when `streaming`: the caller must consume or destroy it. */
  body?: IncomingMessage;
}

/** The request-level surface of ali-oss 6.x that this backend uses (not in its typings). */
interface RawClient {
  request(params: Record<string, unknown>): Promise<{
    status: number;
    headers: IncomingHttpHeaders;
    data: Buffer | null;
    res: IncomingMessage;
  }>;
  parseXML(xml: string | Buffer): Promise<unknown>;
  signatureUrl(key: string, options: Record<string, unknown>, strictObjectNameValidation: boolean): string;
  signatureUrlV4(method: string, expires: number, request: { headers: Record<string, string> }, key: string): Promise<string>;
  urllib: { request(url: unknown, params: unknown): Promise<unknown> };
}

/**
 * urllib re-parses string URLs with WHATWG URL, which drops '.' and '..'
 * path segments (and their %2E forms): the key "a/./b" would travel as
 * "a/b" under a signature for "a/./b". Handing it a URL parsed by the legacy
 * parser, which keeps the path as ali-oss escaped it, avoids that.
 */
function keepDotSegments(client: RawClient): void {
  const inner = client.urllib;
  client.urllib = {
    request: (url, params) => inner.request(typeof url === 'string' ? parseUrl(url) : url, params),
  };
}

export interface WireOptions {
  /** Signature scheme: 'v4' (OSS4-HMAC-SHA256) needs the region; 'v1' is what OSS is retiring. */
  signatureVersion: 'v1' | 'v4';
  region?: string;
  endpoint?: string;
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  secure?: boolean;
  pathStyle?: boolean;
  /** Time allowed for a request without a body, and the base for one with a body. */
  timeoutMs?: number;
}

/** A request slower than this per byte of body is treated as stalled. */
const MIN_BODY_BYTES_PER_SECOND = 256 * 1024;
/** Enough for a listing of 1000 keys on a slow link; a body adds its own allowance. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** Sockets per host: parallel part transfers plus metadata calls without queueing behind each other. */
const MAX_SOCKETS = 64;

/** Reads a (small, error) reply body; a failure here leaves the detail out rather than masking the error. */
async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  } catch {
    return Buffer.concat(chunks);
  }
  return Buffer.concat(chunks);
}

export class OssWire {
  readonly endpointLabel: string;
  private readonly client: RawClient;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  private readonly signers = new Map<string, RawClient>();
  /** Per-request time limit before body allowances; also the idle limit of streamed bodies. */
  readonly timeoutMs: number;
  readonly signatureVersion: 'v1' | 'v4';

  constructor(private readonly options: WireOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.signatureVersion = options.signatureVersion;
    this.client = this.makeClient();
    this.endpointLabel = options.endpoint ?? options.region ?? 'oss-cn-hangzhou';
  }

  private makeClient(bucket?: string): RawClient {
    const o = this.options;
    const config = {
      accessKeyId: o.accessKeyId,
      accessKeySecret: o.accessKeySecret,
      // ali-oss warns about a token without a refresher unless an interval is set; nothing here refreshes it.
      ...(o.stsToken !== undefined && { stsToken: o.stsToken, refreshSTSTokenInterval: Number.MAX_SAFE_INTEGER }),
      ...(o.region !== undefined && { region: o.region }),
      ...(o.endpoint !== undefined && { endpoint: o.endpoint }),
      ...(o.secure !== undefined && { secure: o.secure }),
      ...(bucket !== undefined && { bucket }),
      sldEnable: o.pathStyle === true,
      authorizationV4: o.signatureVersion === 'v4',
      retryMax: 0,
      timeout: this.timeoutMs,
      agent: this.httpAgent,
      httpsAgent: this.httpsAgent,
    };
    try {
      const client = new OSS(config as OSS.Options) as unknown as RawClient;
      keepDotSegments(client);
      return client;
    } catch (e) {
      throw new OtherError(`oss: invalid client configuration: ${(e as Error).message}`, {
        cause: e,
        reason: 'InvalidConfig',
      });
    }
  }

  /** Sends one request; any HTTP status comes back as a reply, only transport failures throw. */
  async send(req: OssRequest, where: Where): Promise<OssReply> {
    const params: Record<string, unknown> = {
      method: req.method,
      ...(req.bucket !== undefined && { bucket: req.bucket }),
      ...(req.key !== undefined && { object: req.key }),
      ...(req.subres !== undefined && { subres: req.subres }),
      ...(req.query !== undefined && { query: req.query }),
      headers: { ...req.headers },
      ...(req.content !== undefined && { content: req.content }),
      ...(req.stream !== undefined && { stream: req.stream }),
      customResponse: req.streaming === true,
      timeout: this.timeoutFor(req.size ?? req.content?.length ?? 0),
    };
    try {
      const result = await this.client.request(params);
      const reply: OssReply = { status: result.status, headers: result.headers, data: result.data ?? Buffer.alloc(0) };
      if (req.streaming === true) reply.body = result.res;
      return reply;
    } catch (e) {
      throw thrownError(e, where);
    }
  }

  /** Sends one request and returns its reply when the status is one of `ok`; otherwise throws its StorageError. */
  async call(req: OssRequest, where: Where, ok: readonly number[] = [200]): Promise<OssReply> {
    const reply = await this.send(req, where);
    if (!ok.includes(reply.status)) throw await this.failure(reply, where);
    return reply;
  }

  /** The StorageError an error reply stands for (a streamed reply's body is read here). */
  async failure(reply: OssReply, where: Where): Promise<StorageError> {
    const body = reply.body === undefined ? reply.data : await readAll(reply.body);
    return replyError(reply.status, await this.errorDetail(body, reply.headers), where);
  }

  /** A body-less reply (HEAD) carries its error XML base64-encoded in x-oss-err. */
  private async errorDetail(body: Buffer, headers: IncomingHttpHeaders): Promise<ErrorDetail> {
    const fromHeader = headers['x-oss-err'];
    const xml = body.length > 0 ? body : typeof fromHeader === 'string' ? Buffer.from(fromHeader, 'base64') : undefined;
    if (xml === undefined) return {};
    try {
      return readError(await this.parseXml(xml, { op: 'error', url: '' }));
    } catch {
      return {};
    }
  }

  private timeoutFor(bodyBytes: number): number {
    return this.timeoutMs + Math.ceil((bodyBytes / MIN_BODY_BYTES_PER_SECOND) * 1000);
  }

  /** Parses an XML reply body with ali-oss's parser (xml2js: no root, single children unwrapped). */
  async parseXml(data: Buffer, where: Where): Promise<Record<string, unknown>> {
    try {
      const parsed = await this.client.parseXML(data);
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch (e) {
      throw new OtherError(`${where.url}: unreadable XML reply to ${where.op}`, { cause: e, reason: 'BadReply' });
    }
  }

  /** A query-signed URL made by ali-oss's own signer, in the client's signature version. */
  async signedUrl(bucket: string, key: string, method: 'GET' | 'PUT', expiresIn: number, contentType?: string): Promise<string> {
    let signer = this.signers.get(bucket);
    if (signer === undefined) {
      signer = this.makeClient(bucket);
      this.signers.set(bucket, signer);
    }
    const headers: Record<string, string> = contentType === undefined ? {} : { 'Content-Type': contentType };
    if (this.options.signatureVersion === 'v4') return signer.signatureUrlV4(method, expiresIn, { headers }, key);
    return signer.signatureUrl(key, { method, expires: expiresIn, ...headers }, false);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.signers.clear();
  }
}
