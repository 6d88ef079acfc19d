/**
 * The S3 client's request handler for plain-HTTP GETs and HEADs: large
 * socket reads instead of the HTTP stack's 64 KiB ones, and warm pooled
 * connections for the requests a mount makes most (HEAD per open and lookup,
 * LIST, GET).
 *
 * Receiving a GET body through node:http costs the JS thread a parser call,
 * a stream push and a Buffer per 64 KiB socket read. On loopback RGW a 1 GiB
 * GetObject took 0.80 s wall and 0.80 s of CPU that way, and 0.43 s wall and
 * 0.12 s of CPU reading up to 1 MiB at a time from the socket (`onread` with
 * one caller-supplied buffer). A mount reading a file cold does exactly this
 * while it also answers the kernel's reads on the same thread, so that CPU
 * decides how fast the file reads.
 *
 * Scope: from the SDK, GET and HEAD requests without a body to http://
 * endpoints. Everything else the SDK sends (PUT, POST, DELETE, https, which
 * `onread` does not serve) goes to the SDK's own handler. The SDK still signs
 * the request and reads the response: this handler only moves bytes, so
 * errors, retries and their mapping stay as they are. The lean requests
 * (lean.ts: small PUTs, copies, deletes signed without the SDK) come through
 * `send`. Connections are kept alive in a pool per origin (http-pool.ts); a
 * reused connection that the server closed before answering is retried once
 * on a new one (GET and HEAD are idempotent, and a PUT or DELETE from memory
 * does nothing more the second time).
 */
import { Readable } from 'node:stream';
import { requestHead, type GetRequest } from '../wire/http-request.js';
import { ResponseParser, type ResponseHead } from '../wire/http-response.js';
import { OriginPool, type Connection, type GetHandlerOptions, type PooledExchange } from './http-pool.js';

export type { GetRequest } from '../wire/http-request.js';
export type { GetHandlerOptions } from './http-pool.js';

export interface GetResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Readable;
}

interface AbortSignalLike {
  aborted: boolean;
  addEventListener?(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

export interface HandlerOptions {
  abortSignal?: AbortSignalLike;
  requestTimeout?: number;
}

/** The SDK's HttpHandler, as far as this module uses it. */
export interface InnerHandler {
  handle(request: never, options?: HandlerOptions): Promise<{ response: unknown }>;
  destroy?(): void;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): unknown;
  metadata?: unknown;
}

function abortError(): Error {
  return Object.assign(new Error('Request aborted'), { name: 'AbortError' });
}

/**
 * A response body. Readable like any stream; a caller that wants the bytes
 * in memory of its own can instead `fill` a buffer: while it waits, the
 * socket reads straight into that buffer (no copy at all).
 */
export class ResponseBody extends Readable {
  constructor(private readonly exchange: Exchange) {
    super({ highWaterMark: QUEUE_BYTES });
  }

  /**
   * Reads the next bytes of the body into `into` until it is full; resolves
   * with their count (less than its length only at the end of the body).
   * Not to be mixed with reading the stream.
   */
  fill(into: Buffer): Promise<number> {
    return this.exchange.fill(into);
  }

  override _read(): void {
    this.exchange.pull();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.exchange.dropped();
    done(error);
  }
}

/** Bytes a body holds for a reader that is not asking before the socket pauses. */
const QUEUE_BYTES = 1024 * 1024;

/** One request: its head (and body), then the response as it arrives on whichever connection carries it. */
class Exchange implements PooledExchange {
  readonly parser: ResponseParser;
  /** The connection carrying it (set when it starts; a retry moves it to another). */
  conn: Connection | undefined;
  body: ResponseBody | undefined;
  answered = false;
  private keepAlive = false;
  /** Body bytes received and not yet handed on (copies). */
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private streaming = false;
  private ended = false;
  private error: Error | undefined;
  /** A pending `fill` and how much of it is filled. */
  private target: { into: Buffer; filled: number; resolve: (n: number) => void; reject: (e: Error) => void } | undefined;

  constructor(
    readonly request: string,
    private readonly resolve: (r: GetResponse) => void,
    private readonly reject: (e: Error) => void,
    /** A HEAD: the response has no body, whatever its Content-Length says. */
    noBody = false,
    /** Sent whole after the head (a lean PUT's, lean.ts). */
    readonly requestBody?: Uint8Array,
  ) {
    this.parser = new ResponseParser({
      head: (head) => this.onHead(head),
      body: (piece) => this.onBody(piece),
      end: () => this.onEnd(),
    }, noBody);
  }

  /**
   * Where the socket's next read goes: the rest of the pending fill's buffer
   * (body bytes only), else the shared buffer. Node asks for the next
   * buffer right after each read is handled, so a fill stays pending until
   * its buffer is full, and the socket pauses between fills: every body
   * byte after the first read lands where the caller wants it.
   */
  readInto(shared: Buffer): Buffer {
    const left = this.parser.bodyLeft;
    const target = this.target;
    if (target === undefined || left === 0) return shared;
    return target.into.subarray(target.filled, target.filled + Math.min(left, target.into.length - target.filled));
  }

  fill(into: Buffer): Promise<number> {
    const filled = this.takeQueued(into);
    if (filled === into.length || this.ended) return Promise.resolve(filled);
    if (this.error !== undefined) return Promise.reject(this.error);
    return new Promise<number>((resolve, reject) => {
      this.target = { into, filled, resolve, reject };
      this.conn?.socket.resume();
    });
  }

  /** The stream wants data. */
  pull(): void {
    this.streaming = true;
    if (this.error !== undefined && this.queue.length === 0) {
      this.body?.destroy(this.error);
      return;
    }
    while (this.queue.length > 0) {
      const piece = this.queue.shift() as Buffer;
      this.queued -= piece.length;
      if (!(this.body as ResponseBody).push(piece)) return;
    }
    if (this.ended) this.body?.push(null);
    else this.conn?.socket.resume();
  }

  /** The reader let go of the body: a body left half read makes the connection useless. */
  dropped(): void {
    if (this.parser.done) return;
    this.error ??= new Error('the response body was destroyed before its end');
    this.conn?.abandon();
    const target = this.target;
    this.target = undefined;
    target?.reject(this.error);
  }

  /** The exchange failed: the response fails wherever it is. */
  fail(error: Error): void {
    if (!this.answered) {
      this.answered = true;
      this.conn?.abandon();
      this.reject(error);
      return;
    }
    if (this.parser.done || this.error !== undefined) return;
    this.error = error;
    // Closed at once: the socket may already hold the next read's buffer, a part of a fill's.
    this.conn?.abandon();
    const target = this.target;
    this.target = undefined;
    target?.reject(error);
    if (this.streaming && this.body !== undefined && !this.body.destroyed) this.body.destroy(error);
  }

  private onHead(head: ResponseHead): void {
    this.keepAlive = head.keepAlive;
    this.answered = true;
    this.body = new ResponseBody(this);
    this.resolve({ statusCode: head.statusCode, reason: head.reason, headers: head.headers, body: this.body });
  }

  private onBody(piece: Buffer): void {
    const target = this.target;
    if (target !== undefined) {
      // Read straight into the caller's buffer, or copied there from the shared one (the first read, or head and body in one).
      const direct = piece.buffer === target.into.buffer && piece.byteOffset === target.into.byteOffset + target.filled;
      const n = direct ? piece.length : piece.copy(target.into, target.filled);
      target.filled += n;
      if (n < piece.length) this.enqueue(piece.subarray(n));
      if (target.filled === target.into.length) {
        this.target = undefined;
        // Paused until the next fill: otherwise the socket's next read would go to the shared buffer, to be copied.
        if (!this.parser.done) this.conn?.socket.pause();
        target.resolve(target.filled);
      }
      return;
    }
    if (this.body === undefined || this.body.destroyed) return;
    // `piece` is a view of the shared read buffer: copied before the next read overwrites it.
    if (this.streaming && this.queue.length === 0) {
      if (!this.body.push(Buffer.from(piece))) this.conn?.socket.pause();
      return;
    }
    this.enqueue(piece);
  }

  private enqueue(piece: Buffer): void {
    this.queue.push(Buffer.from(piece));
    this.queued += piece.length;
    if (this.queued >= QUEUE_BYTES) this.conn?.socket.pause();
  }

  private takeQueued(into: Buffer): number {
    if (this.queued === 0) return 0;
    let n = 0;
    while (n < into.length && this.queue.length > 0) {
      const piece = this.queue[0] as Buffer;
      const k = piece.copy(into, n);
      n += k;
      if (k === piece.length) this.queue.shift();
      else this.queue[0] = piece.subarray(k);
    }
    this.queued -= n;
    if (this.queued < QUEUE_BYTES && !this.ended) this.conn?.socket.resume();
    return n;
  }

  private onEnd(): void {
    this.ended = true;
    const conn = this.conn;
    this.conn = undefined;
    conn?.finished(this.keepAlive);
    const target = this.target;
    this.target = undefined;
    target?.resolve(target.filled);
    if (this.streaming && this.queue.length === 0) this.body?.push(null);
  }
}

/** Requests the pool can carry: plain HTTP, no credentials or fragment in the URL. */
function onPool(request: GetRequest): boolean {
  return request.protocol === 'http:' && request.username == null && request.password == null && !request.fragment;
}

/** A PUT or DELETE whose body is in memory (or absent): the same request can be sent twice. */
function isReplayable(request: GetRequest): boolean {
  if (request.method !== 'PUT' && request.method !== 'DELETE') return false;
  const body = request.body;
  return body == null || typeof body === 'string' || body instanceof Uint8Array;
}

/** Node's error for a connection that closed before any byte of the response. */
function isHangUp(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 'ECONNRESET' && e.message === 'socket hang up';
}

/** Wraps the SDK's handler: GETs and HEADs to http:// endpoints come here, everything else goes on to it. */
export class GetHandler {
  private readonly pools = new Map<string, OriginPool>();

  constructor(private readonly inner: InnerHandler, private readonly options: GetHandlerOptions) {}

  get metadata(): unknown {
    return this.inner.metadata;
  }

  handle(request: GetRequest, options: HandlerOptions = {}): Promise<{ response: unknown }> {
    const own = (request.method === 'GET' || request.method === 'HEAD') && request.body == null && onPool(request);
    if (!own) return this.delegate(request, options);
    return this.get(request, options).then((response) => ({ response }));
  }

  /**
   * Sends a request signed elsewhere (lean.ts) on the pool: GET, HEAD, DELETE,
   * or a PUT whose body is in memory, to an http:// endpoint.
   */
  send(request: GetRequest, options: HandlerOptions = {}): Promise<GetResponse> {
    const body = request.body;
    if (!onPool(request) || (body != null && (request.method !== 'PUT' || !(body instanceof Uint8Array)))) {
      return Promise.reject(new Error(`cannot send a ${request.method} to ${request.protocol} on the pool`));
    }
    return this.get(request, options);
  }

  /**
   * The SDK's handler, with one more try for a PUT or DELETE whose body can
   * be sent again when the connection closed before any response ("socket
   * hang up": typically a kept-alive connection the server had just closed).
   * Sending such a request again changes nothing the first one did.
   */
  private async delegate(request: GetRequest, options: HandlerOptions): Promise<{ response: unknown }> {
    try {
      return await this.inner.handle(request as never, options);
    } catch (error) {
      if (!isReplayable(request) || !isHangUp(error) || options.abortSignal?.aborted === true) throw error;
      return this.inner.handle(request as never, options);
    }
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.inner.updateHttpClientConfig?.(key, value);
  }

  httpHandlerConfigs(): unknown {
    return this.inner.httpHandlerConfigs?.() ?? {};
  }

  destroy(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.inner.destroy?.();
  }

  private get(request: GetRequest, options: HandlerOptions): Promise<GetResponse> {
    const signal = options.abortSignal;
    if (signal?.aborted === true) return Promise.reject(abortError());
    let head: string;
    try {
      head = requestHead(request);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const host = request.hostname.startsWith('[') ? request.hostname.slice(1, -1) : request.hostname;
    const port = request.port ?? 80;
    const origin = `${host}:${port}`;
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new OriginPool(host, port, this.options);
      this.pools.set(origin, pool);
    }
    const target = pool;
    return new Promise<GetResponse>((resolve, reject) => {
      const onAbort = () => exchange.fail(abortError());
      const done = () => signal?.removeEventListener?.('abort', onAbort);
      const exchange = new Exchange(head, (response) => {
        response.body.once('close', done);
        resolve(response);
      }, (error) => {
        done();
        reject(error);
      }, request.method === 'HEAD', request.body == null ? undefined : request.body as Uint8Array);
      signal?.addEventListener?.('abort', onAbort, { once: true });
      target.send(exchange);
    });
  }
}
