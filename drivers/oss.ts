/**
 * The `oss` backend: Aliyun OSS through ali-oss (OSS V4 signatures by
 * default, V1 on request; x-oss-* headers). Buckets and object writes live
 * here; reads, multipart and the optional features in drivers/oss/. Every
 * request goes through OssWire, so every failure is translated at this edge
 * and nothing retries below RetryingBackend.
 *
 * OSS differs from S3 where it shows: object names are 1–1023 bytes and may
 * not start with '/' or '\'; parts may be as small as 100 KiB; CopyObject
 * stops at 1 GiB; a conditional create is x-oss-forbid-overwrite (there is no
 * If-Match on writes); AppendObject exists; ACLs are private / public-read /
 * public-read-write / default.
 */
import type {
  AppendResult,
  Backend,
  Body,
  BucketInfo,
  CopyOptions,
  CreateMultipartOptions,
  DeleteManyResult,
  GetOptions,
  HeadOptions,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectInfo,
  ObjectRef,
  PartInfo,
  PartResult,
  PutOptions,
  RestoreOptions,
  SignedUrlOptions,
  UploadInfo,
  VersionInfo,
  WriteResult,
} from './contract.js';
import { BaseBackend } from './base-backend.js';
import { isStorageError, unsupported } from './errors.js';
import type { ByteRange } from './range.js';
import { OSS_CAPABILITIES, OSS_LIMITS, regionFor, type OssBackendOptions } from './oss/config.js';
import { OssFeatures } from './oss/features.js';
import {
  checkKey,
  copySourceHeader,
  etagIn,
  etagOut,
  header,
  metadataHeaders,
  versionOf,
  writeHeaders,
  type Params,
} from './oss/headers.js';
import { OssMultipart, PAGE_SIZE } from './oss/multipart.js';
import { bodyOf } from './oss/body.js';
import { OssReader } from './oss/read.js';
import { at, codeError, ossUrl } from './oss/translate.js';
import { OssWire, type OssRequest } from './oss/wire.js';
import { allPages, deleteBody, readBucketInfo, readBuckets, readDeleteErrors, readListV2, type BucketEntry } from './oss/xml.js';
import { splitDeleteBatch, xmlBatchable } from './wire/s3-xml.js';

export type { OssBackendOptions };

export class OssBackend extends BaseBackend implements Backend {
  readonly kind = 'oss' as const;
  readonly label: string;
  readonly capabilities = OSS_CAPABILITIES;
  override readonly limits = OSS_LIMITS;
  private readonly wire: OssWire;
  private readonly reader: OssReader;
  private readonly multipart: OssMultipart;
  private readonly features: OssFeatures;
  private closed = false;

  constructor(options: OssBackendOptions) {
    super();
    const signatureVersion = options.signatureVersion ?? 'v4';
    const region = regionFor(options, signatureVersion);
    const { credentials: c } = options;
    this.wire = new OssWire({
      signatureVersion,
      accessKeyId: c.accessKeyId,
      accessKeySecret: c.accessKeySecret,
      ...(c.stsToken !== undefined && { stsToken: c.stsToken }),
      ...(region !== undefined && { region }),
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.secure !== undefined && { secure: options.secure }),
      ...(options.pathStyle !== undefined && { pathStyle: options.pathStyle }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    });
    this.label = options.label ?? `oss ${this.wire.endpointLabel}`;
    this.reader = new OssReader(this.wire, (bucket) => this.headBucket(bucket).then(() => undefined), this.wire.timeoutMs);
    this.multipart = new OssMultipart(this.wire, async (source) => (await this.head(source.bucket, source.key, source)).size);
    this.features = new OssFeatures(this.wire);
  }

  // Buckets.

  async listBuckets(): Promise<BucketInfo[]> {
    const where = at('ListBuckets');
    const entries = await allPages(async (marker) => {
      const reply = await this.wire.call({ method: 'GET', query: { 'max-keys': PAGE_SIZE, ...marker } }, where);
      return readBuckets(await this.wire.parseXml(reply.data, where));
    });
    return entries.map(toBucketInfo);
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    const where = at('GetBucketInfo', bucket);
    const reply = await this.wire.call({ method: 'GET', bucket, subres: { bucketInfo: '' } }, where);
    return toBucketInfo({ ...readBucketInfo(await this.wire.parseXml(reply.data, where)), name: bucket });
  }

  /** Idempotent: a name OSS says exists is ours when we can read its info. */
  async createBucket(bucket: string): Promise<BucketInfo> {
    const where = at('PutBucket', bucket);
    const reply = await this.wire.send({ method: 'PUT', bucket }, where);
    if (reply.status === 200) return this.headBucket(bucket);
    const error = await this.wire.failure(reply, where);
    if (error.kind !== 'AlreadyExists') throw error;
    try {
      return await this.headBucket(bucket);
    } catch {
      throw error;
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.wire.call({ method: 'DELETE', bucket }, at('DeleteBucket', bucket), [200, 204]);
  }

  // Objects.

  head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo> {
    return this.reader.head(bucket, key, options);
  }

  get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    return this.reader.get(bucket, key, options);
  }

  async put(bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
    checkKey(bucket, key);
    this.checkWriteOptions(options);
    const where = at('PutObject', bucket, key);
    const headers = writeHeaders(options);
    if (options.ifNoneMatch === '*') headers['x-oss-forbid-overwrite'] = 'true';
    const { failure, ...sent } = await bodyOf(body, options.size, where.url);
    if (sent.stream !== undefined) headers['Content-Length'] = sent.size ?? 0;
    try {
      const reply = await this.wire.call({ method: 'PUT', bucket, key, headers, ...sent }, where);
      return { etag: etagIn(header(reply.headers, 'etag')), ...versionOf(reply.headers) };
    } catch (e) {
      // ali-oss rewraps a body failure as a network error; the body's own error says what happened.
      throw failure() ?? e;
    } finally {
      // A reply that came before the whole body was read leaves the caller's stream open otherwise.
      sent.stream?.destroy();
    }
  }

  private checkWriteOptions(options: PutOptions): void {
    if (options.ifMatch !== undefined) {
      throw unsupported(this.kind, 'conditional writes with If-Match', 'OSS honours only x-oss-forbid-overwrite (ifNoneMatch)');
    }
    if (options.acl !== undefined) this.checkAcl(options.acl);
  }

  async copy(source: ObjectRef, dest: ObjectRef, options: CopyOptions = {}): Promise<WriteResult> {
    checkKey(source.bucket, source.key);
    checkKey(dest.bucket, dest.key);
    const where = at(`CopyObject from ${ossUrl(source.bucket, source.key)}`, dest.bucket, dest.key);
    const headers: Params = { 'x-oss-copy-source': copySourceHeader(source) };
    const ifMatch = etagOut(options.ifMatch);
    if (ifMatch !== undefined) headers['x-oss-copy-source-if-match'] = ifMatch;
    if (options.metadata !== undefined || options.contentType !== undefined) {
      Object.assign(headers, await this.replacement(source, options), { 'x-oss-metadata-directive': 'REPLACE' });
    }
    const reply = await this.wire.call({ method: 'PUT', bucket: dest.bucket, key: dest.key, headers }, where);
    const tree = await this.wire.parseXml(reply.data, where);
    const etag = typeof tree['ETag'] === 'string' ? tree['ETag'] : header(reply.headers, 'etag');
    return { etag: etagIn(etag), ...versionOf(reply.headers) };
  }

  /** Headers of a REPLACE copy; a new content type alone keeps the source's metadata, as the contract says. */
  private async replacement(source: ObjectRef, options: CopyOptions): Promise<Params> {
    const metadata = options.metadata ?? (await this.head(source.bucket, source.key, source)).metadata;
    return { 'Content-Type': options.contentType ?? 'application/octet-stream', ...metadataHeaders(metadata) };
  }

  async delete(bucket: string, key: string): Promise<void> {
    checkKey(bucket, key);
    await this.wire.call({ method: 'DELETE', bucket, key }, at('DeleteObject', bucket, key), [200, 204]);
  }

  /**
   * One DeleteMultipleObjects request (quiet: only failures come back; a
   * missing key counts as deleted). Keys such a body cannot carry (ossBatchable) go one by one.
   */
  async deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    const { batch, single } = splitDeleteBatch(keys, this.limits.maxDeleteBatch, ossUrl(bucket), ossBatchable);
    keys.forEach((key) => checkKey(bucket, key));
    const result: DeleteManyResult = { deleted: [], errors: [] };
    if (batch.length > 0) await this.deleteBatch(bucket, batch, result);
    for (const key of single) {
      try {
        await this.delete(bucket, key);
        result.deleted.push(key);
      } catch (e) {
        if (!isStorageError(e) || e.kind === 'Transient' || e.reason === 'NoSuchBucket') throw e;
        result.errors.push({ key, error: e });
      }
    }
    return result;
  }

  private async deleteBatch(bucket: string, keys: string[], result: DeleteManyResult): Promise<void> {
    const where = at(`DeleteMultipleObjects (${keys.length} keys)`, bucket);
    const request: OssRequest = {
      method: 'POST',
      bucket,
      subres: { delete: '' },
      query: { 'encoding-type': 'url' },
      content: deleteBody(keys),
      headers: { 'Content-Type': 'application/xml' },
    };
    const reply = await this.wire.call(request, where);
    const failures = reply.data.length > 0 ? readDeleteErrors(await this.wire.parseXml(reply.data, where)) : [];
    const failed = new Set(failures.map((f) => f.key));
    for (const f of failures) {
      result.errors.push({ key: f.key, error: codeError(f, at('DeleteMultipleObjects', bucket, f.key)) });
    }
    result.deleted.push(...keys.filter((k) => !failed.has(k)));
  }

  async listPage(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    const where = at('ListObjectsV2', bucket);
    const maxKeys = Math.min(options.maxKeys ?? PAGE_SIZE, PAGE_SIZE);
    const query: Params = { 'list-type': 2, 'max-keys': maxKeys, 'encoding-type': 'url' };
    if (options.prefix) query['prefix'] = options.prefix;
    if (options.delimiter) query['delimiter'] = options.delimiter;
    // OSS signs the continuation token as a sub-resource.
    const subres: Params | undefined = options.token ? { 'continuation-token': options.token } : undefined;
    const reply = await this.wire.call({ method: 'GET', bucket, query, ...(subres && { subres }) }, where);
    const page = readListV2(await this.wire.parseXml(reply.data, where));
    return { objects: page.objects, prefixes: page.prefixes, ...(page.nextToken && { nextToken: page.nextToken }) };
  }

  // Multipart.

  createMultipart(bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
    if (options.acl !== undefined) this.checkAcl(options.acl);
    return this.multipart.create(bucket, key, options);
  }
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    return this.multipart.uploadPart(bucket, key, uploadId, partNumber, body);
  }
  uploadPartCopy(bucket: string, key: string, uploadId: string, partNumber: number, source: ObjectRef, range: ByteRange): Promise<PartResult> {
    return this.multipart.uploadPartCopy(bucket, key, uploadId, partNumber, source, range);
  }
  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    return this.multipart.complete(bucket, key, uploadId, parts);
  }
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.multipart.abort(bucket, key, uploadId);
  }
  listMultipartUploads(bucket: string, options?: { prefix?: string }): Promise<UploadInfo[]> {
    return this.multipart.listUploads(bucket, options);
  }
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return this.multipart.listParts(bucket, key, uploadId);
  }

  // Optional features.

  override getTags(bucket: string, key: string): Promise<Record<string, string>> {
    return this.features.getTags(bucket, key);
  }
  override putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    return this.features.putTags(bucket, key, tags);
  }
  override deleteTags(bucket: string, key: string): Promise<void> {
    return this.features.deleteTags(bucket, key);
  }
  override enableVersioning(bucket: string): Promise<void> {
    return this.features.enableVersioning(bucket);
  }
  override listVersions(bucket: string, options?: { prefix?: string }): Promise<VersionInfo[]> {
    return this.features.listVersions(bucket, options);
  }
  override signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
    return this.features.signedUrl(bucket, key, options);
  }
  override append(bucket: string, key: string, position: number, body: Buffer, options: PutOptions = {}): Promise<AppendResult> {
    this.checkWriteOptions(options);
    return this.features.append(bucket, key, position, body, options);
  }
  override getAcl(bucket: string, key: string): Promise<string> {
    return this.features.getAcl(bucket, key);
  }
  override async putAcl(bucket: string, key: string, acl: string): Promise<void> {
    this.checkAcl(acl);
    return this.features.putAcl(bucket, key, acl);
  }
  override restore(bucket: string, key: string, options: RestoreOptions): Promise<void> {
    return this.features.restore(bucket, key, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wire.close();
  }
}

/**
 * Keys one DeleteMultipleObjects body carries: S3's rule, and no CR either.
 * S3 servers read the &#13; reference back as CR; OSS is not known to, and a
 * CR read back as LF would delete another key.
 */
function ossBatchable(key: string): boolean {
  return xmlBatchable(key) && !key.includes('\r');
}

function toBucketInfo(entry: BucketEntry): BucketInfo {
  const extra: Record<string, unknown> = {};
  if (entry.location !== undefined) extra['location'] = entry.location;
  if (entry.storageClass !== undefined) extra['storageClass'] = entry.storageClass;
  return {
    name: entry.name,
    ...(entry.created !== undefined && { created: entry.created }),
    ...(Object.keys(extra).length > 0 && { extra }),
  };
}
