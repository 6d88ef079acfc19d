/**
 * The `s3` backend: the storage contract over @aws-sdk/client-s3, for AWS
 * and any S3-compatible endpoint (Ceph RGW, MinIO, s3rver…). This class only
 * routes; the work lives in drivers/s3/ (client setup, error translation,
 * objects, listings, multipart, optional features). It never retries: the
 * retry decorator does that, once, above every backend.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { BaseBackend, S3_CANNED_ACLS } from './base-backend.js';
import { keyProblem } from './checks.js';
import type {
  Backend,
  Body,
  BucketInfo,
  Capabilities,
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
import { OtherError } from './errors.js';
import type { ByteRange } from './range.js';
import { DEFAULT_REGION, createLeanS3, createS3Client, defaultLabel, type S3BackendOptions } from './s3/client.js';
import * as buckets from './s3/buckets.js';
import { deleteObjects } from './s3/delete-many.js';
import * as features from './s3/features.js';
import { listObjectsPage } from './s3/list.js';
import * as multipart from './s3/multipart.js';
import * as objects from './s3/objects.js';
import { s3Call, s3Url, translateS3Error } from './s3/errors.js';
import { leanCopy, leanPut, type LeanS3 } from './s3/lean.js';

export type { S3BackendOptions } from './s3/client.js';

/** What AWS S3 offers; a server lacking some of it answers with its own error. */
const S3_CAPABILITIES: Capabilities = {
  conditionalWrite: { ifMatch: true, ifNoneMatch: true },
  serverSideCopy: true,
  multipart: true,
  uploadPartCopy: true,
  tagging: true,
  versions: true,
  signedUrls: true,
  append: false,
  acls: S3_CANNED_ACLS,
  restore: true,
  bandwidthLimits: false,
  notifications: false,
};

export class S3Backend extends BaseBackend implements Backend {
  readonly kind = 's3' as const;
  readonly label: string;
  readonly capabilities: Capabilities = S3_CAPABILITIES;
  private readonly client: S3Client;
  /** Small PUTs, copies and deletes without the SDK's middleware (lean.ts); undefined where the endpoint does not allow. */
  private readonly lean: LeanS3 | undefined;
  private readonly region: string;
  private closed = false;

  constructor(options: S3BackendOptions = {}) {
    super();
    this.label = defaultLabel(options);
    this.region = options.region ?? DEFAULT_REGION;
    this.client = createS3Client(options);
    this.lean = createLeanS3(this.client, options);
  }

  /**
   * Refuses a key S3 would refuse before it is sent. AWS and RGW refuse one
   * over the limit too, but not every S3-compatible server does, and a key
   * stored there could not be copied to S3 later; a lone surrogate would be
   * sent as U+FFFD, another key.
   */
  private checkKey(bucket: string, key: string): void {
    const why = keyProblem(key, this.limits.maxKeyBytes);
    if (why === undefined) return;
    const tooLong = Buffer.byteLength(key, 'utf8') > this.limits.maxKeyBytes;
    throw new OtherError(`${s3Url(bucket, key.slice(0, 64))}${key.length > 64 ? '…' : ''}: invalid key: ${why}`, {
      reason: tooLong ? 'KeyTooLong' : 'InvalidKey',
    });
  }

  listBuckets(): Promise<BucketInfo[]> {
    return buckets.listBuckets(this.client);
  }
  headBucket(bucket: string): Promise<BucketInfo> {
    return buckets.headBucket(this.client, bucket);
  }
  createBucket(bucket: string): Promise<BucketInfo> {
    return buckets.createBucket(this.client, bucket, this.region);
  }
  deleteBucket(bucket: string): Promise<void> {
    return buckets.deleteBucket(this.client, bucket);
  }

  head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo> {
    return objects.headObject(this.client, bucket, key, options);
  }
  get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    return objects.getObject(this.client, bucket, key, options);
  }
  async put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    this.checkKey(bucket, key);
    if (options?.acl !== undefined) this.checkAcl(options.acl);
    const lean = this.lean;
    const fields = lean === undefined ? undefined : leanPut(body, options);
    if (lean !== undefined && fields !== undefined) {
      return s3Call({ op: 'PutObject', bucket, key }, () => lean.put(bucket, key, body as Buffer, fields));
    }
    return objects.putObject(this.client, bucket, key, body, options);
  }
  async copy(source: ObjectRef, dest: ObjectRef, options?: CopyOptions): Promise<WriteResult> {
    this.checkKey(dest.bucket, dest.key);
    const lean = this.lean;
    const how = lean === undefined ? undefined : leanCopy(source, options);
    if (lean === undefined || how === undefined) return objects.copyObject(this.client, source, dest, options);
    try {
      return await lean.copy(source, dest, how.replace);
    } catch (e) {
      throw translateS3Error(e, objects.copyWhere(source, dest));
    }
  }
  async delete(bucket: string, key: string): Promise<void> {
    const lean = this.lean;
    if (lean === undefined) return objects.deleteObject(this.client, bucket, key);
    return objects.missingKeyIsDeleted(bucket, key, () => lean.delete(bucket, key));
  }
  deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    return deleteObjects(this.client, bucket, keys, this.limits.maxDeleteBatch);
  }
  listPage(bucket: string, options?: ListOptions): Promise<ListPage> {
    return listObjectsPage(this.client, bucket, options);
  }

  async createMultipart(bucket: string, key: string, options?: CreateMultipartOptions): Promise<string> {
    this.checkKey(bucket, key);
    if (options?.acl !== undefined) this.checkAcl(options.acl);
    return multipart.createMultipart(this.client, bucket, key, options);
  }
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    return multipart.uploadPart(this.client, bucket, key, uploadId, partNumber, body);
  }
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    return multipart.uploadPartCopy(this.client, bucket, key, uploadId, partNumber, source, range);
  }
  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    return multipart.completeMultipart(this.client, bucket, key, uploadId, parts);
  }
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return multipart.abortMultipart(this.client, bucket, key, uploadId);
  }
  listMultipartUploads(bucket: string, options?: { prefix?: string }): Promise<UploadInfo[]> {
    return multipart.listMultipartUploads(this.client, bucket, options);
  }
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return multipart.listParts(this.client, bucket, key, uploadId);
  }

  override getTags(bucket: string, key: string): Promise<Record<string, string>> {
    return features.getTags(this.client, bucket, key);
  }
  override putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    return features.putTags(this.client, bucket, key, tags);
  }
  override deleteTags(bucket: string, key: string): Promise<void> {
    return features.deleteTags(this.client, bucket, key);
  }
  override enableVersioning(bucket: string): Promise<void> {
    return features.enableVersioning(this.client, bucket);
  }
  override listVersions(bucket: string, options?: { prefix?: string }): Promise<VersionInfo[]> {
    return features.listVersions(this.client, bucket, options);
  }
  override signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
    return features.signedUrl(this.client, bucket, key, options);
  }
  override getAcl(bucket: string, key: string): Promise<string> {
    return features.getAcl(this.client, bucket, key);
  }
  override async putAcl(bucket: string, key: string, acl: string): Promise<void> {
    this.checkAcl(acl);
    return features.putAcl(this.client, bucket, key, acl);
  }
  override restore(bucket: string, key: string, options: RestoreOptions): Promise<void> {
    return features.restoreObject(this.client, bucket, key, options);
  }

  /** Closes the keep-alive sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}
