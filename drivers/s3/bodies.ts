/**
 * Streams around request and response bodies of the s3 backend: an upload
 * stream held to its declared size, and downloads cut to the range asked
 * for when a server sends more. Bytes pass through untouched, never copied.
 */
import { Readable, Transform } from 'node:stream';
import { OtherError } from '../errors.js';

export interface SizedBody {
  /** The stream to hand to the request. */
  body: Readable;
  /** Aborts the request when the source breaks its promise. */
  signal: AbortSignal;
  /** Why the request was aborted, if it was. */
  failure(): OtherError | undefined;
}

/**
 * Holds a caller's stream to the size it declared. The HTTP layer sends a
 * Content-Length and pipes the stream: a short stream would leave the
 * request waiting for bytes until the server gives up, a long one would be
 * cut silently at the declared length, and a failing one would hang. Here
 * each of those aborts the request at once and says why.
 */
export function sizedBody(source: Readable, size: number, what: string): SizedBody {
  const controller = new AbortController();
  let failure: OtherError | undefined;
  let seen = 0;
  const fail = (error: OtherError) => {
    failure ??= error;
    controller.abort(failure);
  };
  const mismatch = (detail: string) =>
    new OtherError(`${what}: the stream body ${detail} than the declared size of ${size} bytes`, { reason: 'SizeMismatch' });
  // The chunk that completes the size is held back until the source ends, so
  // the server cannot finish the request before an overlong stream is seen.
  let last: Buffer | undefined;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > size) {
        fail(mismatch('is longer'));
        return done();
      }
      if (seen < size) return done(null, chunk);
      last = chunk;
      done();
    },
    flush(done) {
      if (seen < size) fail(mismatch(`ended after ${seen} bytes, shorter`));
      else if (last !== undefined) this.push(last);
      done();
    },
  });
  source.once('error', (cause: unknown) => {
    fail(new OtherError(`${what}: reading the stream body failed`, { cause, reason: 'BodyStreamError' }));
  });
  source.pipe(body);
  return { body, signal: controller.signal, failure: () => failure };
}

export function emptyBody(): Readable {
  return new Readable({
    read() {
      this.push(null);
    },
  });
}

interface Span {
  start: number;
  end: number;
}

/**
 * The part `wanted` of a body that holds `sent` (which must contain it). HTTP
 * lets a server ignore Range and some misread it (s3rver sends the whole
 * object for `bytes=0-0`): the caller still gets exactly what it asked for.
 */
export function sliceBody(body: Readable, sent: Span, wanted: Span, what: string): Readable {
  if (wanted.start < sent.start || wanted.end > sent.end) {
    body.destroy();
    throw new OtherError(`${what}: the server sent bytes [${sent.start}, ${sent.end}) for the range [${wanted.start}, ${wanted.end})`, {
      reason: 'RangeNotServed',
    });
  }
  let skip = wanted.start - sent.start;
  let left = wanted.end - wanted.start;
  const slice = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.min(skip, chunk.length);
      skip -= from;
      const part = chunk.subarray(from, from + left);
      left -= part.length;
      if (part.length > 0) this.push(part);
      if (left === 0) {
        this.push(null);
        body.unpipe(slice);
        body.destroy();
      }
      done();
    },
  });
  body.once('error', (e) => slice.destroy(e));
  if (left === 0) {
    body.destroy();
    return emptyBody();
  }
  return body.pipe(slice);
}
