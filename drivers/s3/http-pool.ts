/**
 * Keep-alive connections per origin for the request handler (get-handler.ts):
 * at most `maxSockets` each, further exchanges queued; every socket reads
 * with `onread` into the buffer its exchange asks for (a caller's buffer
 * while a body fills it, else one read buffer shared by the pool). An idle
 * connection is closed after keepIdleMs; one that the server closed before
 * answering a reused request sends that request again, once, on a new one
 * (every request sent here can be: GET, HEAD, and PUT or DELETE with the
 * body in memory, which change nothing more the second time).
 */
import net from 'node:net';
import type { ResponseParser } from '../wire/http-response.js';

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

/** What a connection carries: one request and its response (get-handler.ts's Exchange). */
export interface PooledExchange {
  /** The request head, sent as is. */
  readonly request: string;
  /** The request body, sent whole after the head (a PUT's). */
  readonly requestBody?: Uint8Array | undefined;
  readonly parser: ResponseParser;
  /** The connection carrying it (set when it starts; a retry moves it to another). */
  conn: Connection | undefined;
  /** True once the response started (or the exchange failed or was aborted). */
  readonly answered: boolean;
  /** Where the socket's next read goes. */
  readInto(shared: Buffer): Buffer;
  fail(error: Error): void;
}

export const withCode = (message: string, code: string, name?: string): Error =>
  Object.assign(new Error(message), { code }, name === undefined ? {} : { name });

/** A pooled keep-alive connection. */
export class Connection {
  exchange: PooledExchange | undefined;
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

  start(exchange: PooledExchange): void {
    clearTimeout(this.idleTimer);
    this.exchange = exchange;
    exchange.conn = this;
    this.socket.ref();
    this.socket.setTimeout(this.pool.options.idleTimeoutMs);
    this.socket.resume();
    const body = exchange.requestBody;
    if (body === undefined || body.byteLength === 0) {
      this.socket.write(exchange.request);
      return;
    }
    this.socket.cork();
    this.socket.write(exchange.request);
    this.socket.write(body);
    this.socket.uncork();
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
export class OriginPool {
  closed = false;
  private readonly idle: Connection[] = [];
  private readonly busy = new Set<Connection>();
  private readonly queue: { exchange: PooledExchange; fresh: boolean }[] = [];
  private connecting = 0;
  /** One read buffer for every socket: each read is copied out before the next can happen. */
  private readonly readBuffer: Buffer;

  constructor(private readonly host: string, private readonly port: number, readonly options: GetHandlerOptions) {
    this.readBuffer = Buffer.allocUnsafe(options.readBytes ?? DEFAULT_READ_BYTES);
  }

  /** Starts `exchange` on an idle connection or a new one (`fresh`: always a new one), or queues it. */
  send(exchange: PooledExchange, fresh = false): void {
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

  private connect(exchange: PooledExchange): void {
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
          return true; // a body that is not read on pauses the socket itself (PooledExchange.onBody)
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
