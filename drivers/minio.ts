/**
 * The `minio` backend: the storage contract over the MinIO JavaScript client
 * (minio-js 8), for MinIO and any S3-compatible server. minio-js signs and
 * sends every request; where it has no correct public call for an S3
 * operation (ranged UploadPartCopy, ListParts, conditional PUT, ListObjectsV2
 * with exact keys…) the operation goes through its generic request method.
 *
 * This file owns the options, capabilities and bucket operations, and checks
 * arguments once; the operations live in drivers/minio/*.ts. It never imports
 * another SDK, and nothing here retries (the retry decorator does, once).
 */
import type {
  Backend,
  BackendKind,
  Body,
  BucketInfo,
  Capabilities,
  ChangeEvent,
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
  SignedUrlOptions,
  UploadInfo,
  VersionInfo,
  Watcher,
  WriteResult,
} from './contract.js';
import { BaseBackend, NO_OPTIONAL_FEATURES } from './base-backend.js';
import { AlreadyExistsError, NotFoundError } from './errors.js';
import type { ByteRange } from './range.js';
import { Connection } from './minio/connection.js';
import { checkKey, guarded } from './minio/context.js';
import type { MinioContext } from './minio/context.js';
import { Namer, translate } from './minio/errors.js';
import * as features from './minio/features.js';
import * as listing from './minio/listing.js';
import * as multipart from './minio/multipart.js';
import * as objects from './minio/objects.js';
import { watch } from './minio/watch.js';

export interface MinioBackendOptions {
  /** Host name or IP of the server. */
  endPoint: string;
  port?: number;
  /** Default false: loopback and private servers mostly speak plain HTTP. */
  useSSL?: boolean;
  /** Default 'us-east-1'. Always set, so the client never asks the server for a bucket's location. */
  region?: string;
  /** Default true: works with any host name; virtual-host style needs DNS per bucket. */
  pathStyle?: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  label?: string;
}

/**
 * What the backend can do. Conditional PUTs: honoured by AWS, MinIO and Ceph
 * RGW (checked on RGW 16). Notifications: MinIO servers only; elsewhere
 * watch() fails with Unsupported. Canned ACLs: minio-js has no ACL call.
 */
const MINIO_CAPABILITIES: Capabilities = {
  ...NO_OPTIONAL_FEATURES,
  conditionalWrite: { ifMatch: true, ifNoneMatch: true },
  tagging: true,
  versions: true,
  signedUrls: true,
  notifications: true,
};

export class MinioBackend extends BaseBackend implements Backend {
  readonly kind: BackendKind = 'minio';
  readonly label: string;
  readonly capabilities: Capabilities = MINIO_CAPABILITIES;
  private readonly ctx: MinioContext;
  private readonly watchers = new Set<Watcher>();
  private closed = false;

  constructor(options: MinioBackendOptions) {
    super();
    const useSSL = options.useSSL ?? false;
    const port = options.port ?? (useSSL ? 443 : 80);
    const authority = `${options.endPoint.includes(':') ? `[${options.endPoint}]` : options.endPoint}:${port}`;
    this.label = options.label ?? `minio ${useSSL ? 'https' : 'http'}://${authority}`;
    const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
    const conn = new Connection({
      endPoint: options.endPoint,
      port,
      useSSL,
      region: options.region ?? 'us-east-1',
      pathStyle: options.pathStyle ?? true,
      accessKey: accessKeyId,
      secretKey: secretAccessKey,
      ...(sessionToken === undefined ? {} : { sessionToken }),
    });
    const secrets = sessionToken === undefined ? [secretAccessKey] : [secretAccessKey, sessionToken];
    this.ctx = { conn, namer: new Namer(authority, secrets), maxKeyBytes: this.limits.maxKeyBytes };
  }

  private url(bucket?: string, key?: string): string {
    return this.ctx.namer.url(bucket, key);
  }

  // Buckets.

  listBuckets(): Promise<BucketInfo[]> {
    return guarded(this.ctx, this.url(), async () => {
      const buckets = await this.ctx.conn.minio.listBuckets();
      return buckets.map((b) => ({ name: b.name, created: b.creationDate }));
    });
  }

  headBucket(bucket: string): Promise<BucketInfo> {
    return guarded(this.ctx, this.url(bucket), async () => {
      if (await this.ctx.conn.minio.bucketExists(bucket)) return { name: bucket };
      throw new NotFoundError(`${this.url(bucket)}: no such bucket`, { reason: 'NoSuchBucket', status: 404 });
    });
  }

  async createBucket(bucket: string): Promise<BucketInfo> {
    try {
      await this.ctx.conn.minio.makeBucket(bucket, this.ctx.conn.region);
      return { name: bucket };
    } catch (e) {
      const error = translate(e, this.url(bucket), this.ctx.namer);
      if (error.reason === 'BucketAlreadyOwnedByYou') return { name: bucket };
      if (error.kind !== 'AlreadyExists') throw error;
      // Some servers say BucketAlreadyExists for a bucket of ours: it is ours if we may use it.
      const ours = await this.headBucket(bucket).then(() => true, () => false);
      if (ours) return { name: bucket };
      throw new AlreadyExistsError(`${this.url(bucket)}: the bucket exists and belongs to someone else`, {
        reason: error.reason ?? 'BucketAlreadyExists',
        cause: error.cause,
      });
    }
  }

  deleteBucket(bucket: string): Promise<void> {
    return guarded(this.ctx, this.url(bucket), () => this.ctx.conn.minio.removeBucket(bucket));
  }

  // Objects.

  async head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo> {
    checkKey(this.ctx, bucket, key);
    return objects.headObject(this.ctx, bucket, key, options);
  }

  async get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    checkKey(this.ctx, bucket, key);
    return objects.getObject(this.ctx, bucket, key, options);
  }

  async put(bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
    checkKey(this.ctx, bucket, key);
    if (options.acl !== undefined) this.checkAcl(options.acl);
    return objects.putObject(this.ctx, bucket, key, body, options);
  }

  async copy(source: ObjectRef, dest: ObjectRef, options?: CopyOptions): Promise<WriteResult> {
    checkKey(this.ctx, source.bucket, source.key);
    checkKey(this.ctx, dest.bucket, dest.key);
    return objects.copyObject(this.ctx, source, dest, options);
  }

  async delete(bucket: string, key: string): Promise<void> {
    checkKey(this.ctx, bucket, key);
    return objects.deleteObject(this.ctx, bucket, key);
  }

  deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    return listing.deleteMany(this.ctx, bucket, keys, this.limits.maxDeleteBatch);
  }

  listPage(bucket: string, options?: ListOptions): Promise<ListPage> {
    return listing.listPage(this.ctx, bucket, options);
  }

  // Multipart.

  async createMultipart(bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
    checkKey(this.ctx, bucket, key);
    if (options.acl !== undefined) this.checkAcl(options.acl);
    return multipart.createMultipart(this.ctx, bucket, key, options);
  }

  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    return multipart.uploadPart(this.ctx, bucket, key, uploadId, partNumber, body);
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    checkKey(this.ctx, source.bucket, source.key);
    return multipart.uploadPartCopy(this.ctx, { bucket, key, uploadId, partNumber }, source, range);
  }

  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    return multipart.completeMultipart(this.ctx, bucket, key, uploadId, parts);
  }

  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return multipart.abortMultipart(this.ctx, bucket, key, uploadId);
  }

  listMultipartUploads(bucket: string, options?: { prefix?: string }): Promise<UploadInfo[]> {
    return multipart.listMultipartUploads(this.ctx, bucket, options);
  }

  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return multipart.listParts(this.ctx, bucket, key, uploadId);
  }

  // Optional features.

  override async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    checkKey(this.ctx, bucket, key);
    return features.getTags(this.ctx, bucket, key);
  }

  override async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    checkKey(this.ctx, bucket, key);
    return features.putTags(this.ctx, bucket, key, tags);
  }

  override async deleteTags(bucket: string, key: string): Promise<void> {
    checkKey(this.ctx, bucket, key);
    return features.deleteTags(this.ctx, bucket, key);
  }

  override enableVersioning(bucket: string): Promise<void> {
    return features.enableVersioning(this.ctx, bucket);
  }

  override listVersions(bucket: string, options?: { prefix?: string }): Promise<VersionInfo[]> {
    return features.listVersions(this.ctx, bucket, options);
  }

  override async signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
    checkKey(this.ctx, bucket, key);
    return features.signedUrl(this.ctx, bucket, key, options);
  }

  override async watch(bucket: string, options: { prefix?: string }, onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    const inner = await watch(this.ctx, bucket, options, onEvent);
    const watcher: Watcher = {
      close: async () => {
        this.watchers.delete(watcher);
        await inner.close();
      },
    };
    this.watchers.add(watcher);
    return watcher;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers].map((w) => w.close()));
    this.ctx.conn.close();
  }
}
