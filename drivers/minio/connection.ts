/**
 * The wire of the minio backend: one keep-alive agent, the minio `Client`s
 * that sign and send every request, and the transport hook that turns every
 * HTTP error response into an `HttpStatusError` carrying status and S3 code.
 * Nothing here knows the storage contract; errors are translated in errors.ts.
 *
 * Why the transport hook: minio-js drops the HTTP status of the errors it
 * parses, and for the statuses it considers retryable (500, 502, 503, 429…)
 * it neither parses nor drains the body (the keep-alive socket is lost). Seeing
 * every response once, here, gives one error shape for all of them and keeps
 * sockets reusable.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Client } from 'minio';

export interface ConnectionOptions {
  endPoint: string;
  port: number;
  useSSL: boolean;
  region: string;
  pathStyle: boolean;
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
}

/** What minio's generic request takes (its `RequestOption`, narrowed to what we use). */
export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  bucketName?: string;
  objectName?: string;
  /** Already URI-encoded query, e.g. `uploadId=abc&partNumber=2`. */
  query?: string;
  headers?: Record<string, string>;
}

/** A non-2xx answer of the server, before translation into the contract's kinds. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    /** The S3 error code from the body; for body-less answers (HEAD) the one minio-js would use. */
    readonly code: string | undefined,
    readonly serverMessage: string,
    readonly requestId: string | undefined,
    /** True when the server sent no error document (HEAD, or a bare proxy error). */
    readonly bodiless: boolean,
  ) {
    super(`HTTP ${status}${code ? ` ${code}` : ''}${serverMessage ? `: ${serverMessage}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

/** Error documents are small; anything past this is drained unread. */
const MAX_ERROR_BODY = 64 * 1024;

/** Codes minio-js assigns to body-less answers; bucketExists() relies on 'NotFound'. */
const BODILESS_CODES: Record<number, string> = {
  403: 'AccessDenied',
  404: 'NotFound',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
};

function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m?.[1];
}

function readErrorBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    res.on('data', (chunk: Buffer) => {
      if (length < MAX_ERROR_BODY) chunks.push(chunk);
      length += chunk.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8', 0, MAX_ERROR_BODY)));
    res.on('error', reject);
  });
}

async function toHttpStatusError(res: IncomingMessage): Promise<HttpStatusError> {
  const status = res.statusCode ?? 0;
  const body = await readErrorBody(res);
  const requestId = res.headers['x-amz-request-id'] as string | undefined;
  const code = xmlField(body, 'Code');
  if (code !== undefined) return new HttpStatusError(status, code, xmlField(body, 'Message') ?? '', requestId, false);
  return new HttpStatusError(status, BODILESS_CODES[status], res.statusMessage ?? '', requestId, true);
}

/**
 * How long a server may stay silent before answering with a status line. Long
 * enough for a server-side copy of a 5 GiB part; a server silent for longer
 * is gone, and the request fails (Transient) instead of hanging forever.
 * Once the answer has begun, reading it is the caller's pace, so the limit stops.
 */
const RESPONSE_TIMEOUT_MS = 5 * 60 * 1000;

function responseTimeout(): Error {
  return Object.assign(new Error(`no answer from the server within ${RESPONSE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' });
}

/**
 * Wraps http(s).request so that an error response never reaches minio-js: the
 * body is read (the socket goes back to the pool) and the request emits an
 * HttpStatusError instead, which minio-js passes through as the rejection.
 */
function errorInterceptingTransport(base: typeof http | typeof https): Pick<typeof http, 'request'> {
  const request = (options: http.RequestOptions, callback?: (res: IncomingMessage) => void): http.ClientRequest => {
    const req = base.request(options, (res) => {
      req.setTimeout(0);
      if ((res.statusCode ?? 0) < 300) {
        callback?.(res);
        return;
      }
      toHttpStatusError(res).then(
        (error) => req.emit('error', error),
        (error: unknown) => req.emit('error', error),
      );
    });
    req.setTimeout(RESPONSE_TIMEOUT_MS, () => req.destroy(responseTimeout()));
    return req;
  };
  return { request: request as typeof http.request };
}

/** Sockets kept open per server: enough for parallel part uploads and readahead. */
const MAX_SOCKETS = 64;

export class Connection {
  readonly region: string;
  /** Signs payloads with their SHA-256 (minio-js's default on plain HTTP); for Buffers. */
  private readonly client: Client;
  /** Signs with UNSIGNED-PAYLOAD, so a stream is sent without being read twice or buffered. */
  private readonly streamingClient: Client;
  private readonly agent: http.Agent;

  constructor(private readonly options: ConnectionOptions) {
    this.region = options.region;
    this.agent = options.useSSL
      ? new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })
      : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
    this.client = this.makeClient();
    this.streamingClient = this.makeClient();
    this.streamingClient.enableSHA256 = false;
  }

  private makeClient(): Client {
    const o = this.options;
    return new Client({
      endPoint: o.endPoint,
      port: o.port,
      useSSL: o.useSSL,
      region: o.region,
      pathStyle: o.pathStyle,
      accessKey: o.accessKey,
      secretKey: o.secretKey,
      ...(o.sessionToken === undefined ? {} : { sessionToken: o.sessionToken }),
      transport: errorInterceptingTransport(o.useSSL ? https : http),
      transportAgent: this.agent,
      // Bounded retries are the job of the retry decorator, done once, above every backend.
      retryOptions: { disableRetry: true },
    });
  }

  /** The minio client, for the operations it implements correctly itself. */
  get minio(): Client {
    return this.client;
  }

  /** Sends a request with a small (or no) payload; resolves with the 2xx response, body unread. */
  send(spec: RequestSpec, payload: Buffer | string = '', expected: number[] = [200]): Promise<IncomingMessage> {
    return this.client.makeRequestAsync({ ...spec, headers: { ...spec.headers } }, payload, expected, this.region);
  }

  /** Sends `body` as the payload without buffering it; `size` must be its exact length. */
  sendStream(spec: RequestSpec, body: Readable, size: number, expected: number[] = [200]): Promise<IncomingMessage> {
    const headers = { ...spec.headers, 'content-length': String(size) };
    return this.streamingClient.makeRequestStreamAsync({ ...spec, headers }, body, '', expected, this.region);
  }

  /** Sends, then reads the whole (small, XML) response body. */
  async sendForText(spec: RequestSpec, payload: Buffer | string = '', expected: number[] = [200]): Promise<{ res: IncomingMessage; text: string }> {
    const res = await this.send(spec, payload, expected);
    return { res, text: await readText(res) };
  }

  /** Sends and discards the response body, so the socket is reused. */
  async sendAndDrain(spec: RequestSpec, payload: Buffer | string = '', expected: number[] = [200]): Promise<IncomingMessage> {
    const res = await this.send(spec, payload, expected);
    res.resume();
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

export async function readText(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One header value as a string (Node gives arrays only for set-cookie). */
export function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
