/**
 * The optional features OSS has: object tagging, versioning, query-signed
 * URLs, AppendObject, object ACLs and restore of archived objects. Each is one
 * request (or one listing followed page by page) over OssWire.
 */
import type { AppendResult, PutOptions, RestoreOptions, SignedUrlOptions, VersionInfo } from '../contract.js';
import { OtherError, isStorageError } from '../errors.js';
import { compareVersions } from '../wire/s3-listing.js';
import { checkKey, etagIn, header, writeHeaders, type Params } from './headers.js';
import { PAGE_SIZE } from './multipart.js';
import { at } from './translate.js';
import type { OssWire } from './wire.js';
import { allPages, readAcl, readTags, readVersions, restoreBody, taggingBody, versioningBody } from './xml.js';

/** OSS refuses V4 signed URLs valid for longer than 7 days. */
const MAX_V4_URL_SECONDS = 7 * 24 * 3600;

/** The object ACLs OSS knows; 'default' means "as the bucket says". */
export const OSS_ACLS = ['private', 'public-read', 'public-read-write', 'default'] as const;

export class OssFeatures {
  constructor(private readonly wire: OssWire) {}

  async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    checkKey(bucket, key);
    const where = at('GetObjectTagging', bucket, key);
    const reply = await this.wire.call({ method: 'GET', bucket, key, subres: { tagging: '' } }, where);
    return readTags(await this.wire.parseXml(reply.data, where));
  }

  async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    checkKey(bucket, key);
    const content = taggingBody(tags);
    const headers = { 'Content-Type': 'application/xml' };
    await this.wire.call({ method: 'PUT', bucket, key, subres: { tagging: '' }, content, headers }, at('PutObjectTagging', bucket, key));
  }

  async deleteTags(bucket: string, key: string): Promise<void> {
    checkKey(bucket, key);
    await this.wire.call({ method: 'DELETE', bucket, key, subres: { tagging: '' } }, at('DeleteObjectTagging', bucket, key), [200, 204]);
  }

  async enableVersioning(bucket: string): Promise<void> {
    const where = at('PutBucketVersioning', bucket);
    const headers = { 'Content-Type': 'application/xml' };
    await this.wire.call({ method: 'PUT', bucket, subres: { versioning: '' }, content: versioningBody('Enabled'), headers }, where);
  }

  async listVersions(bucket: string, options: { prefix?: string } = {}): Promise<VersionInfo[]> {
    const where = at('ListObjectVersions', bucket);
    const base: Params = { 'max-keys': PAGE_SIZE, 'encoding-type': 'url' };
    if (options.prefix) base['prefix'] = options.prefix;
    const versions = await allPages(async (marker) => {
      const reply = await this.wire.call({ method: 'GET', bucket, subres: { versions: '' }, query: { ...base, ...marker } }, where);
      return readVersions(await this.wire.parseXml(reply.data, where));
    });
    // The XML groups versions and delete markers apart; the contract lists each key's history newest first.
    return versions.sort(compareVersions);
  }

  /** Query-signed URLs; V4 ones live at most 7 days, as OSS allows. */
  async signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
    checkKey(bucket, key);
    const longest = this.wire.signatureVersion === 'v4' ? MAX_V4_URL_SECONDS : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(options.expiresIn) || options.expiresIn <= 0 || options.expiresIn > longest) {
      throw new OtherError(`signed URL lifetime must be 1 to ${longest} seconds, not ${options.expiresIn}`, { reason: 'InvalidArgument' });
    }
    return this.wire.signedUrl(bucket, key, options.method, options.expiresIn, options.contentType);
  }

  /** AppendObject; the first append (position 0) creates an Appendable object with the write options. */
  async append(bucket: string, key: string, position: number, body: Buffer, options: PutOptions = {}): Promise<AppendResult> {
    checkKey(bucket, key);
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new OtherError(`append position must be a non-negative integer, not ${position}`, { reason: 'InvalidArgument' });
    }
    const headers = position === 0 ? writeHeaders(options) : {};
    const where = at(`AppendObject at ${position}`, bucket, key);
    const reply = await this.wire.call({ method: 'POST', bucket, key, subres: { append: '', position }, content: body, headers }, where);
    const next = Number(header(reply.headers, 'x-oss-next-append-position'));
    if (!Number.isSafeInteger(next)) {
      throw new OtherError(`${where.url}: AppendObject reply without x-oss-next-append-position`, { reason: 'BadReply' });
    }
    const etag = header(reply.headers, 'etag');
    return { nextPosition: next, ...(etag !== undefined && { etag: etagIn(etag) }) };
  }

  async getAcl(bucket: string, key: string): Promise<string> {
    checkKey(bucket, key);
    const where = at('GetObjectACL', bucket, key);
    const reply = await this.wire.call({ method: 'GET', bucket, key, subres: { acl: '' } }, where);
    return readAcl(await this.wire.parseXml(reply.data, where));
  }

  async putAcl(bucket: string, key: string, acl: string): Promise<void> {
    checkKey(bucket, key);
    const headers = { 'x-oss-object-acl': acl };
    await this.wire.call({ method: 'PUT', bucket, key, subres: { acl: '' }, headers }, at('PutObjectACL', bucket, key));
  }

  /**
   * RestoreObject. Idempotent like the rest of the contract: 202 starts a
   * restore, 200 extends a finished one, and a restore already running
   * (409 RestoreAlreadyInProgress) is what the caller asked for.
   */
  async restore(bucket: string, key: string, options: RestoreOptions): Promise<void> {
    checkKey(bucket, key);
    if (!Number.isSafeInteger(options.days) || options.days < 1) {
      throw new OtherError(`restore needs a whole number of days >= 1, not ${options.days}`, { reason: 'InvalidArgument' });
    }
    const where = at('RestoreObject', bucket, key);
    const content = restoreBody(options.days, options.tier);
    const headers = { 'Content-Type': 'application/xml' };
    try {
      await this.wire.call({ method: 'POST', bucket, key, subres: { restore: '' }, content, headers }, where, [200, 202]);
    } catch (e) {
      if (isStorageError(e) && e.reason === 'RestoreAlreadyInProgress') return;
      throw e;
    }
  }
}
