/**
 * Request and reply bodies of exact length. A stream put must deliver exactly
 * the size it declared (or the request fails with the reason, not a network
 * error); a streamed reply must deliver exactly the bytes it announced.
 */
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { Body } from '../contract.js';
import { OtherError, TransientError, isStorageError } from '../errors.js';
import type { Where } from './translate.js';
import type { OssRequest } from './wire.js';

/** Passes bytes through and fails when more or fewer than `expected` arrive. */
export class ExactLength extends Transform {
  private seen = 0;

  constructor(
    private readonly expected: number,
    private readonly where: Where,
    private readonly onMismatch: (message: string) => Error = (m) => new TransientError(m, { reason: 'BodyLengthMismatch' }),
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected) done(this.mismatch());
    else done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(this.seen === this.expected ? null : this.mismatch());
  }

  private mismatch(): Error {
    return this.onMismatch(`${this.where.url}: ${this.seen} bytes where ${this.expected} were expected`);
  }
}

const EMPTY = Buffer.alloc(0);

export interface SentBody extends Pick<OssRequest, 'content' | 'stream' | 'size'> {
  /** Why the body failed while being sent, if it did. */
  failure: () => Error | undefined;
}

/** The request body: a Buffer as it is (with Content-MD5), a stream checked against its declared size. */
export async function bodyOf(body: Body, size: number | undefined, url: string): Promise<SentBody> {
  if (Buffer.isBuffer(body)) return { content: body, failure: () => undefined };
  if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
    body.destroy();
    throw new OtherError(`${url}: a stream body needs its exact size in options.size`, { reason: 'MissingSize' });
  }
  // urllib would send an empty stream chunked; an empty Buffer is exact.
  if (size === 0) {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (chunk.length > 0) throw new OtherError(`${url}: the stream has data but options.size is 0`, { reason: 'SizeMismatch' });
    }
    return { content: EMPTY, failure: () => undefined };
  }
  let failed: Error | undefined;
  const guard = new ExactLength(size, { op: 'PutObject', url }, (m) => new OtherError(m, { reason: 'SizeMismatch' }));
  const fail = (e: Error) => {
    failed ??= isStorageError(e) ? e : new OtherError(`${url}: the body stream failed: ${e.message}`, { cause: e, reason: 'BodyStreamError' });
  };
  guard.once('error', fail);
  pipeline(body, guard, (e) => e && fail(e));
  return { stream: guard, size, failure: () => failed };
}
