/**
 * Reading objects: HEAD and ranged GET, streamed. Owns the translation of the
 * half-open ByteRange into OSS's inclusive Range header, OSS's range quirks,
 * and the guards on streamed bodies (they must deliver exactly the bytes the
 * reply announced, or fail with a Transient error). Never buffers a body.
 *
 * OSS quirk: without `x-oss-range-behavior: standard` an out-of-range Range is
 * ignored and the whole object comes back with 200; with it, a start at or
 * past the end is 416 and an end past the end is clamped, as in S3.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { ExactLength } from './body.js';
import { sameEtag } from '../checks.js';
import type { GetOptions, HeadOptions, ObjectBody, ObjectInfo } from '../contract.js';
import { NotFoundError, OtherError, PreconditionFailedError, TransientError, isStorageError } from '../errors.js';
import { checkRange, httpRangeHeader, isEmptyRange, parseContentRange, resolveRange, type ByteRange } from '../range.js';
import { checkKey, etagOut, header, infoFromHeaders, type Params } from './headers.js';
import { at, ossUrl, type Where } from './translate.js';
import type { OssReply, OssWire } from './wire.js';

/** Answers whether a bucket exists, for a 404 that does not say which of bucket or key is missing. */
export type BucketProbe = (bucket: string) => Promise<void>;

export class OssReader {
  constructor(
    private readonly wire: OssWire,
    private readonly probeBucket: BucketProbe,
    /** A streamed body that delivers nothing for this long fails (a stalled connection). */
    private readonly idleMs: number,
  ) {}

  async head(bucket: string, key: string, options: HeadOptions = {}): Promise<ObjectInfo> {
    checkKey(bucket, key);
    const where = at('HeadObject', bucket, key);
    const reply = await this.wire.send({ method: 'HEAD', bucket, key, ...versionSubres(options.versionId) }, where);
    if (reply.status === 200) return infoFromHeaders(key, reply.headers, Number(header(reply.headers, 'content-length') ?? 0));
    const error = await this.wire.failure(reply, where);
    if (reply.status === 404 && error.reason === undefined) throw await this.whichIsMissing(bucket, key, error);
    throw error;
  }

  /**
   * A body-less 404 does not say whether the key or the bucket is missing.
   * The bucket is asked about only then; a probe that fails for another reason
   * (e.g. a user allowed to read objects but not bucket info) means the key.
   */
  private async whichIsMissing(bucket: string, key: string, error: Error): Promise<Error> {
    try {
      await this.probeBucket(bucket);
    } catch (e) {
      if (isStorageError(e, 'NotFound') && e.reason === 'NoSuchBucket') return e;
    }
    return new NotFoundError(`${ossUrl(bucket, key)}: no such object`, { reason: 'NoSuchKey', status: 404, cause: error });
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
    checkKey(bucket, key);
    const range = options.range;
    if (range !== undefined) checkRange(range);
    // S3-style Range cannot express "no bytes"; the object's existence and size still matter.
    if (range !== undefined && isEmptyRange(range)) return this.emptyBody(bucket, key, range, options);
    const where = at('GetObject', bucket, key);
    const reply = await this.wire.send({ method: 'GET', bucket, key, streaming: true, ...getParams(options) }, where);
    if (reply.status === 416 && range !== undefined) {
      reply.body?.resume();
      return this.emptyBody(bucket, key, range, options);
    }
    if (reply.status !== 200 && reply.status !== 206) throw await this.wire.failure(reply, where);
    return this.streamedBody(reply, key, range, where);
  }

  /** The reply to a range starting at the end (empty) or past it (an error naming the size). */
  private async emptyBody(bucket: string, key: string, range: ByteRange, options: GetOptions): Promise<ObjectBody> {
    const info = await this.head(bucket, key, options.versionId === undefined ? {} : { versionId: options.versionId });
    if (options.ifMatch !== undefined) checkEtag(bucket, key, info, options.ifMatch);
    const served = resolveRange(range, info.size, ossUrl(bucket, key));
    return { info, range: { start: served.start, end: served.start }, body: Readable.from([]) };
  }

  private streamedBody(reply: OssReply, key: string, range: ByteRange | undefined, where: Where): ObjectBody {
    const res = reply.body as IncomingMessage;
    let served: ReturnType<typeof servedRange>;
    try {
      served = servedRange(reply.status, reply.headers, where);
      if (reply.status === 200 && range !== undefined) checkWholeObjectWanted(range, served.total, where);
    } catch (e) {
      res.destroy();
      throw e;
    }
    const info = infoFromHeaders(key, reply.headers, served.total);
    const body = this.guard(res, served.end - served.start, where);
    return { info, range: { start: served.start, end: served.end }, body };
  }

  /** The body as delivered, failing Transient if it stalls, breaks or ends short; closing it early closes the connection. */
  private guard(res: IncomingMessage, expected: number, where: Where): Readable {
    const counter = new ExactLength(expected, where);
    res.setTimeout(this.idleMs, () => res.destroy(new TransientError(`${where.url}: download stalled for ${this.idleMs} ms`)));
    res.on('error', (e) => counter.destroy(asTransient(e, where)));
    counter.on('close', () => {
      if (!res.readableEnded) res.destroy();
    });
    res.pipe(counter);
    return counter;
  }
}

/** The If-Match check for a read that sends no GET (an empty range); OSS's hex etags compare case-blind. */
function checkEtag(bucket: string, key: string, info: ObjectInfo, etag: string): void {
  if (sameEtag(info.etag.toLowerCase(), etag.toLowerCase())) return;
  throw new PreconditionFailedError(`${ossUrl(bucket, key)}: etag is ${info.etag}, not ${etag}`, {
    reason: 'PreconditionFailed',
    status: 412,
  });
}

function versionSubres(versionId: string | undefined): { subres?: Params } {
  return versionId === undefined ? {} : { subres: { versionId } };
}

function getParams(options: GetOptions): { subres?: Params; headers: Params } {
  const headers: Params = {};
  const rangeHeader = httpRangeHeader(options.range);
  if (rangeHeader !== undefined) {
    headers['Range'] = rangeHeader;
    headers['x-oss-range-behavior'] = 'standard';
  }
  const ifMatch = etagOut(options.ifMatch);
  if (ifMatch !== undefined) headers['If-Match'] = ifMatch;
  return { ...versionSubres(options.versionId), headers };
}

/** A 200 to a ranged request is right only when the range covered the whole object. */
function checkWholeObjectWanted(range: ByteRange, size: number, where: Where): void {
  const wanted = resolveRange(range, size, where.url);
  if (wanted.start !== 0 || wanted.end !== size) {
    throw new OtherError(`${where.url}: the server ignored the Range header`, { reason: 'RangeIgnored' });
  }
}

function servedRange(status: number, headers: IncomingHttpHeaders, where: Where): { start: number; end: number; total: number } {
  const length = Number(header(headers, 'content-length') ?? NaN);
  if (status === 200 && Number.isSafeInteger(length)) return { start: 0, end: length, total: length };
  const parsed = parseContentRange(header(headers, 'content-range'));
  if (status === 206 && parsed !== undefined && parsed.total !== undefined) {
    return { start: parsed.start, end: parsed.end, total: parsed.total };
  }
  throw new OtherError(`${where.url}: GetObject reply without a usable Content-Length/Content-Range`, { reason: 'BadReply' });
}

function asTransient(e: unknown, where: Where): Error {
  if (isStorageError(e)) return e;
  return new TransientError(`${where.url}: download failed: ${(e as Error).message}`, { cause: e, reason: 'NetworkError' });
}
