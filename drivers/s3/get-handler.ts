/**
 * The S3 client's request handler for plain-HTTP GETs: large socket reads
 * instead of the HTTP stack's 64 KiB ones.
 *
 * Receiving a GET body through node:http costs the JS thread a parser call,
 * a stream push and a Buffer per 64 KiB socket read. On loopback RGW a 1 GiB
 * GetObject took 0.80 s wall and 0.80 s of CPU that way, and 0.43 s wall and
 * 0.12 s of CPU reading up to 1 MiB at a time from the socket (`onread` with
 * one caller-supplied buffer). A mount reading a file cold does exactly this
 * while it also answers the kernel's reads on the same thread, so that CPU
 * decides how fast the file reads.
 *
 * Scope: GET requests without a body to http:// endpoints. Everything else
 * (PUT, HEAD, https, which `onread` does not serve) goes to the SDK's own
 * handler. The SDK still signs the request and reads the response: this
 * handler only moves bytes, so errors, retries and their mapping stay as
 * they are. Connections are kept alive in a pool per origin, at most
 * `maxSockets` each; a reused connection that the server closed before
 * answering is retried once on a new one (GET is idempotent).
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { ResponseParser, type ResponseHead } from '../wire/http-response.js';

/** The parts of the SDK's HttpRequest this handler reads. */
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

export interface GetHandlerOptions {
  /** Connections per origin at most; further requests wait for one. */
  maxSockets: number;
  connectTimeoutMs: number;
  /** A connection silent this long during an exchange is given up. */
  idleTimeoutMs: number;
  /** An idle pooled connection is closed after this long (servers close theirs after a few seconds too). */
  keepIdleMs?: number;
  /** Bytes per socket read. */
  readBytes?: number;
}

const DEFAULT_KEEP_IDLE_MS = 4_000;
const DEFAULT_READ_BYTES = 1024 * 1024;

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
  const lines = [`GET ${target} HTTP/1.1`];
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

const withCode = (message: string, code: string, name?: string): Error =>
  Object.assign(new Error(message), { code }, name === undefined ? {} : { name });

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

/** One GET: its request head, then the response as it arrives on whichever connection carries it. */
class Exchange {
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

  constructor(readonly request: string, private readonly resolve: (r: GetResponse) => void, private readonly reject: (e: Error) => void) {
    this.parser = new ResponseParser({
      head: (head) => this.onHead(head),
      body: (piece) => this.onBody(piece),
      end: () => this.onEnd(),
    });
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

/** A pooled keep-alive connection. */
class Connection {
  exchange: Exchange | undefined;
  /** Responses this connection carried (0: a fresh connection). */
  used = 0;
  closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket, private readonly pool: OriginPool) {
    socket.on('end', () => this.lost(withCode('the server closed the connection', 'ECONNRESET'), true));
    socket.on('close', () => this.lost(withCode('the connection closed', 'ECONNRESET'), true));
    socket.on('error', (error) => this.lost(error, false));
    socket.on('timeout', () => {
      this.lost(withCode(`no data from the server for ${pool.options.idleTimeoutMs} ms`, 'ETIMEDOUT', 'TimeoutError'), false);
    });
  }

  /** Data from the socket (a view of the shared read buffer). */
  onData(data: Buffer): void {
    const exchange = this.exchange;
    if (exchange === undefined) {
      this.abandon(); // bytes nobody asked for: the framing is lost
      return;
    }
    try {
      const used = exchange.parser.feed(data);
      if (used < data.length) this.abandon();
    } catch (error) {
      this.abandon();
      exchange.fail(error as Error);
    }
  }

  start(exchange: Exchange): void {
    clearTimeout(this.idleTimer);
    this.exchange = exchange;
    exchange.conn = this;
    this.socket.ref();
    this.socket.setTimeout(this.pool.options.idleTimeoutMs);
    this.socket.resume();
    this.socket.write(exchange.request);
  }

  /** The response is complete: back to the pool, or closed. */
  finished(keepAlive: boolean): void {
    this.exchange = undefined;
    this.used++;
    if (!keepAlive || this.closed) {
      this.abandon();
      return;
    }
    this.socket.setTimeout(0);
    this.socket.unref();
    this.idleTimer = setTimeout(() => this.abandon(), this.pool.options.keepIdleMs ?? DEFAULT_KEEP_IDLE_MS);
    this.idleTimer.unref();
    this.pool.release(this);
  }

  /** Closes the connection for good. */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.socket.destroy();
    this.pool.forget(this);
  }

  private lost(error: Error, ended: boolean): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    if (exchange !== undefined && ended && exchange.parser.inBody) {
      try {
        exchange.parser.finish(); // a body that runs to the close ends here
        this.abandon();
        return;
      } catch (e) {
        // A connection reset, as node:http reports it: transient, worth another try.
        error = withCode((e as Error).message, 'ECONNRESET');
      }
    }
    this.abandon();
    if (exchange === undefined) return;
    // A reused connection the server had closed before answering: the request never reached it.
    if (!exchange.parser.started && this.used > 0 && !this.pool.closed) {
      exchange.conn = undefined;
      this.pool.send(exchange, true);
      return;
    }
    exchange.fail(error);
  }
}

/** Connections to one host:port. */
class OriginPool {
  closed = false;
  private readonly idle: Connection[] = [];
  private readonly busy = new Set<Connection>();
  private readonly queue: { exchange: Exchange; fresh: boolean }[] = [];
  private connecting = 0;
  /** One read buffer for every socket: each read is copied out before the next can happen. */
  private readonly readBuffer: Buffer;

  constructor(private readonly host: string, private readonly port: number, readonly options: GetHandlerOptions) {
    this.readBuffer = Buffer.allocUnsafe(options.readBytes ?? DEFAULT_READ_BYTES);
  }

  /** Starts `exchange` on an idle connection or a new one (`fresh`: always a new one), or queues it. */
  send(exchange: Exchange, fresh = false): void {
    if (exchange.answered) return; // aborted while it waited
    if (this.closed) {
      exchange.fail(new Error('the S3 client was closed'));
      return;
    }
    const conn = fresh ? undefined : this.idle.pop();
    if (conn !== undefined) {
      this.busy.add(conn);
      conn.start(exchange);
      return;
    }
    if (this.busy.size + this.connecting >= this.options.maxSockets) {
      this.queue.push({ exchange, fresh });
      return;
    }
    this.connect(exchange);
  }

  release(conn: Connection): void {
    this.busy.delete(conn);
    const waiter = this.queue.shift();
    if (waiter !== undefined && !waiter.fresh) {
      this.busy.add(conn);
      conn.start(waiter.exchange);
      return;
    }
    this.idle.push(conn);
    if (waiter !== undefined) this.send(waiter.exchange, true);
  }

  forget(conn: Connection): void {
    this.busy.delete(conn);
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    this.next();
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) waiter.exchange.fail(new Error('the S3 client was closed'));
    for (const conn of [...this.idle, ...this.busy]) conn.abandon();
  }

  private next(): void {
    if (this.busy.size + this.connecting >= this.options.maxSockets) return;
    const waiter = this.queue.shift();
    if (waiter !== undefined) this.send(waiter.exchange, waiter.fresh);
  }

  private connect(exchange: Exchange): void {
    this.connecting++;
    let settled = false;
    let conn: Connection | undefined;
    const socket = net.connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      onread: {
        buffer: () => conn?.exchange?.readInto(this.readBuffer) ?? this.readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          conn?.onData(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true; // a body that is not read on pauses the socket itself (Exchange.onBody)
        },
      },
    });
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.connecting--;
      socket.destroy();
      exchange.fail(error);
      this.next();
    };
    const timer = setTimeout(() => {
      fail(withCode(`could not connect to ${this.host}:${this.port} within ${this.options.connectTimeoutMs} ms`, 'ETIMEDOUT', 'TimeoutError'));
    }, this.options.connectTimeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('error', fail);
      this.connecting--;
      conn = new Connection(socket, this);
      this.busy.add(conn);
      conn.start(exchange);
    });
  }
}

/** Wraps the SDK's handler: GETs to http:// endpoints come here, everything else goes on to it. */
export class GetHandler {
  private readonly pools = new Map<string, OriginPool>();

  constructor(private readonly inner: InnerHandler, private readonly options: GetHandlerOptions) {}

  get metadata(): unknown {
    return this.inner.metadata;
  }

  handle(request: GetRequest, options: HandlerOptions = {}): Promise<{ response: unknown }> {
    const own = request.method === 'GET' && request.protocol === 'http:' && request.body == null
      && request.username == null && request.password == null && !request.fragment;
    if (!own) return this.inner.handle(request as never, options);
    return this.get(request, options).then((response) => ({ response }));
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
      });
      signal?.addEventListener?.('abort', onAbort, { once: true });
      target.send(exchange);
    });
  }
}
