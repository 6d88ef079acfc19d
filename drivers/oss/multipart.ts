/**
 * OSS multipart uploads: initiate, upload a part (from a Buffer, sent with a
 * Content-MD5 the server checks), copy a byte range of another object into a
 * part, complete, abort, and the two listings (followed page by page).
 * OSS parts are 100 KiB to 5 GiB except the last; at most 10,000 of them.
 */
import type {
  CreateMultipartOptions,
  ObjectRef,
  PartInfo,
  PartResult,
  UploadInfo,
  WriteResult,
} from '../contract.js';
import { OtherError, isStorageError } from '../errors.js';
import type { ByteRange } from '../range.js';
import { copyRangeHeader } from '../wire/s3-format.js';
import { checkKey, copySourceHeader, etagIn, header, versionOf, writeHeaders, type Params } from './headers.js';
import { at, ossUrl } from './translate.js';
import type { OssWire } from './wire.js';
import { allPages, completeBody, readParts, readUploads, text } from './xml.js';

/** Most entries OSS returns per listing page. */
export const PAGE_SIZE = 1000;

export class OssMultipart {
  constructor(
    private readonly wire: OssWire,
    /** The size of an object, for an open-ended part-copy range. */
    private readonly sizeOf: (source: ObjectRef) => Promise<number>,
  ) {}

  async create(bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
    checkKey(bucket, key);
    const where = at('InitiateMultipartUpload', bucket, key);
    const reply = await this.wire.call(
      { method: 'POST', bucket, key, subres: { uploads: '' }, headers: writeHeaders(options) },
      where,
    );
    const uploadId = text((await this.wire.parseXml(reply.data, where))['UploadId']);
    if (!uploadId) throw new OtherError(`${where.url}: InitiateMultipartUpload reply without an UploadId`, { reason: 'BadReply' });
    return uploadId;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    checkKey(bucket, key);
    const where = at(`UploadPart ${partNumber}`, bucket, key);
    const reply = await this.wire.call(
      { method: 'PUT', bucket, key, subres: { partNumber, uploadId }, content: body, headers: {} },
      where,
    );
    return { partNumber, etag: etagIn(header(reply.headers, 'etag')) };
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    checkKey(bucket, key);
    checkKey(source.bucket, source.key);
    const where = at(`UploadPartCopy ${partNumber} from ${ossUrl(source.bucket, source.key)}`, bucket, key);
    // x-oss-copy-source-range takes first-last, as S3's does; without it the whole source is copied.
    const rangeHeader = await copyRangeHeader(range, () => this.sizeOf(source), ossUrl(source.bucket, source.key));
    const headers: Params = { 'x-oss-copy-source': copySourceHeader(source) };
    if (rangeHeader !== undefined) headers['x-oss-copy-source-range'] = rangeHeader;
    const reply = await this.wire.call({ method: 'PUT', bucket, key, subres: { partNumber, uploadId }, headers }, where);
    const etag = text((await this.wire.parseXml(reply.data, where))['ETag']) || header(reply.headers, 'etag');
    return { partNumber, etag: etagIn(etag) };
  }

  async complete(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    checkKey(bucket, key);
    const where = at('CompleteMultipartUpload', bucket, key);
    const reply = await this.wire.call(
      {
        method: 'POST',
        bucket,
        key,
        subres: { uploadId },
        content: completeBody(parts),
        headers: { 'Content-Type': 'application/xml' },
      },
      where,
    );
    const etag = text((await this.wire.parseXml(reply.data, where))['ETag']) || header(reply.headers, 'etag');
    return { etag: etagIn(etag), ...versionOf(reply.headers) };
  }

  /** Idempotent: an upload OSS no longer knows (NoSuchUpload) counts as aborted. */
  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    checkKey(bucket, key);
    const where = at('AbortMultipartUpload', bucket, key);
    try {
      await this.wire.call({ method: 'DELETE', bucket, key, subres: { uploadId } }, where, [200, 204]);
    } catch (e) {
      if (isStorageError(e, 'NotFound') && e.reason === 'NoSuchUpload') return;
      throw e;
    }
  }

  async listUploads(bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    const where = at('ListMultipartUploads', bucket);
    const base: Params = { 'max-uploads': PAGE_SIZE, 'encoding-type': 'url' };
    if (options.prefix) base['prefix'] = options.prefix;
    return allPages(async (marker) => {
      const reply = await this.wire.call({ method: 'GET', bucket, subres: { uploads: '' }, query: { ...base, ...marker } }, where);
      return readUploads(await this.wire.parseXml(reply.data, where));
    });
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    checkKey(bucket, key);
    const where = at('ListParts', bucket, key);
    return allPages(async (marker) => {
      const query = { 'max-parts': PAGE_SIZE, ...marker };
      const reply = await this.wire.call({ method: 'GET', bucket, key, subres: { uploadId }, query }, where);
      return readParts(await this.wire.parseXml(reply.data, where));
    });
  }
}
