/**
 * An HTTP/1.1 response parser for one response on a keep-alive connection:
 * status line and headers, then the body framed by Content-Length, chunked
 * transfer coding, or the end of the connection. Fed whatever the socket
 * delivers, in pieces of any size; hands the body on as views of the input
 * (the caller copies what it keeps). Pure: no I/O here.
 *
 * Strict where being lenient would be unsafe (a malformed or oversized head,
 * a bad chunk size, conflicting lengths all throw HttpProtocolError: the
 * connection is then unusable and must be closed) and lenient only about
 * what does not change the framing (bare LF line ends, header case).
 */

export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
  readonly code = 'EPROTO';
}

export interface ResponseHead {
  statusCode: number;
  reason: string;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** False when the server will close the connection after this response (or the body runs to the close). */
  keepAlive: boolean;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  /** A piece of the body: a view of the fed buffer, valid only during the call. */
  body(piece: Buffer): void;
  /** The body is complete (the connection may carry the next exchange). */
  end(): void;
}

/** Largest status line plus headers accepted (S3 responses carry a few KiB at most). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size line accepted (hex size plus chunk extensions). */
const MAX_CHUNK_LINE = 4096;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'until-close' | 'done';

const CRLF_END = Buffer.from('\r\n\r\n');
const LF_END = Buffer.from('\n\n');

export class ResponseParser {
  private state: State = 'head';
  private pending: Buffer = Buffer.alloc(0);
  private left = 0;

  /** `noBody`: the request was HEAD (a response to it has headers only). */
  constructor(private readonly sink: ResponseSink, private readonly noBody = false) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** True once any byte of the response arrived (an interim 100 Continue aside). */
  get started(): boolean {
    return this.state !== 'head' || this.pending.length > 0;
  }

  /** Bytes of a Content-Length body still to come (0 for other framings). */
  get bodyLeft(): number {
    return this.state === 'length' ? this.left : 0;
  }

  /** True once the head is parsed and before the body is complete. */
  get inBody(): boolean {
    return this.state !== 'head' && this.state !== 'done';
  }

  /**
   * Consumes `data`; returns how many bytes of it belonged to this response
   * (less than data.length only once done: the rest is not this response's).
   */
  feed(data: Buffer): number {
    let at = 0;
    while (at < data.length && this.state !== 'done') {
      at = this.step(data, at);
    }
    return at;
  }

  /** The connection ended: completes a body that runs to the close; otherwise throws if the response is incomplete. */
  finish(): void {
    if (this.state === 'until-close') {
      this.complete();
      return;
    }
    if (this.state !== 'done') {
      throw new HttpProtocolError(this.state === 'head' && this.pending.length === 0
        ? 'the server closed the connection before responding'
        : `the server closed the connection in the middle of the response (${this.state})`);
    }
  }

  private step(data: Buffer, at: number): number {
    switch (this.state) {
      case 'head':
        return this.readHead(data, at);
      case 'length': {
        const n = Math.min(this.left, data.length - at);
        this.sink.body(data.subarray(at, at + n));
        this.left -= n;
        if (this.left === 0) this.complete();
        return at + n;
      }
      case 'until-close':
        this.sink.body(data.subarray(at));
        return data.length;
      case 'chunk-size':
        return this.readLine(data, at, MAX_CHUNK_LINE, (line) => this.chunkSize(line));
      case 'chunk-data': {
        const n = Math.min(this.left, data.length - at);
        this.sink.body(data.subarray(at, at + n));
        this.left -= n;
        if (this.left === 0) this.state = 'chunk-crlf';
        return at + n;
      }
      case 'chunk-crlf':
        return this.readLine(data, at, 2, (line) => {
          if (line.length !== 0) throw new HttpProtocolError('a chunk is longer than its declared size');
          this.state = 'chunk-size';
        });
      case 'trailers':
        return this.readLine(data, at, MAX_HEAD_BYTES, (line) => {
          if (line.length === 0) this.complete();
        });
      default:
        return data.length;
    }
  }

  /** Accumulates up to the blank line ending the head, then parses it. */
  private readHead(data: Buffer, at: number): number {
    const before = this.pending.length;
    const joined = before === 0 ? data.subarray(at) : Buffer.concat([this.pending, data.subarray(at)]);
    const crlf = joined.indexOf(CRLF_END);
    const lf = joined.indexOf(LF_END);
    const ends = [crlf < 0 ? -1 : crlf + 4, lf < 0 ? -1 : lf + 2].filter((e) => e >= 0);
    if (ends.length === 0) {
      if (joined.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`the response head is over ${MAX_HEAD_BYTES} bytes`);
      this.pending = Buffer.from(joined); // a copy: `data` is only valid during this call
      return data.length;
    }
    const end = Math.min(...ends);
    if (end > MAX_HEAD_BYTES) throw new HttpProtocolError(`the response head is over ${MAX_HEAD_BYTES} bytes`);
    this.pending = Buffer.alloc(0);
    const consumed = at + end - before;
    const head = parseHead(joined.subarray(0, end).toString('latin1'));
    if (head.statusCode >= 100 && head.statusCode < 200) return consumed; // 100 Continue and other interim responses
    this.frame(head);
    this.sink.head(head);
    if (this.state === 'done') this.sink.end();
    return consumed;
  }

  /** Chooses how the body is framed (RFC 9112 §6.3). */
  private frame(head: ResponseHead): void {
    const { statusCode, headers } = head;
    if (this.noBody || statusCode === 204 || statusCode === 304) {
      this.state = 'done';
      return;
    }
    const coding = headers['transfer-encoding'];
    if (coding !== undefined) {
      const codings = coding.split(',').map((c) => c.trim().toLowerCase());
      if (codings[codings.length - 1] !== 'chunked') {
        head.keepAlive = false;
        this.state = 'until-close';
        return;
      }
      if (codings.length > 1) throw new HttpProtocolError(`unsupported transfer coding "${coding}"`);
      this.state = 'chunk-size';
      return;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const values = new Set(length.split(',').map((v) => v.trim()));
      const only = [...values][0] ?? '';
      if (values.size !== 1 || !/^\d{1,16}$/.test(only)) throw new HttpProtocolError(`bad Content-Length "${length}"`);
      this.left = Number(only);
      this.state = this.left === 0 ? 'done' : 'length';
      return;
    }
    head.keepAlive = false;
    this.state = 'until-close';
  }

  private chunkSize(line: Buffer): void {
    const text = line.toString('latin1');
    const size = text.split(';', 1)[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,13}$/.test(size)) throw new HttpProtocolError(`bad chunk size line "${text.slice(0, 40)}"`);
    this.left = parseInt(size, 16);
    this.state = this.left === 0 ? 'trailers' : 'chunk-data';
  }

  /** Reads one line (without its CR LF or LF) and hands it to `take`; partial lines wait in `pending`. */
  private readLine(data: Buffer, at: number, max: number, take: (line: Buffer) => void): number {
    const nl = data.indexOf(0x0a, at);
    if (nl < 0) {
      this.pending = Buffer.concat([this.pending, data.subarray(at)]);
      if (this.pending.length > max + 2) throw new HttpProtocolError('a chunk framing line is too long');
      return data.length;
    }
    let line = this.pending.length === 0 ? data.subarray(at, nl) : Buffer.concat([this.pending, data.subarray(at, nl)]);
    this.pending = Buffer.alloc(0);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > max) throw new HttpProtocolError('a chunk framing line is too long');
    take(line);
    return nl + 1;
  }

  private complete(): void {
    this.state = 'done';
    this.sink.end();
  }
}

/** Parses a status line and header fields. */
export function parseHead(text: string): ResponseHead {
  const lines = text.split(/\r?\n/);
  const status = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/.exec(lines[0] ?? '');
  if (status === null) throw new HttpProtocolError(`not an HTTP/1.x status line: "${(lines[0] ?? '').slice(0, 60)}"`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || /^[ \t]/.test(line)) throw new HttpProtocolError(`malformed header line "${line.slice(0, 60)}"`);
    const name = line.slice(0, colon).toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new HttpProtocolError(`malformed header name "${name.slice(0, 60)}"`);
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const connection = (headers['connection'] ?? '').toLowerCase().split(',').map((t) => t.trim());
  const http10 = status[1] === '0';
  return {
    statusCode: Number(status[2]),
    reason: status[3] ?? '',
    headers,
    keepAlive: http10 ? connection.includes('keep-alive') : !connection.includes('close'),
  };
}
