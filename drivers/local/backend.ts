/**
 * The `local` backend: a directory tree as a bucket store. `root` holds the
 * buckets as subdirectories; the key `x/y/z` of bucket `b` is the plain file
 * `root/b/x/y/z`, so files other programs drop in are objects and objects
 * are files other programs can read. Internal state (sidecars, multipart
 * uploads, temp files) lives in `root/b/.bucketfs/`, which is never listed.
 *
 * This class only wires the contract onto the modules of drivers/local/ and
 * turns any stray file-system error into a typed StorageError.
 */
import type {
  AppendResult,
  Backend,
  Body,
  BucketInfo,
  Capabilities,
  ChangeEvent,
  CopyOptions,
  CreateMultipartOptions,
  DeleteManyResult,
  GetOptions,
  HeadOptions,
  Limits,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectInfo,
  ObjectRef,
  PartInfo,
  PartResult,
  PutOptions,
  UploadInfo,
  Watcher,
  WriteResult,
} from '../contract.js';
import { BaseBackend, NO_OPTIONAL_FEATURES, S3_LIMITS } from '../base-backend.js';
import { isStorageError } from '../errors.js';
import type { ByteRange } from '../range.js';
import * as buckets from './buckets.js';
import { LocalContext } from './context.js';
import { fsFailure } from './failures.js';
import { describeKey } from './keys.js';
import { listPage } from './listing.js';
import * as multipart from './multipart.js';
import { get, head } from './read.js';
import { LocalWatchers } from './watch.js';
import * as write from './write.js';

export interface LocalBackendOptions {
  /** The directory whose subdirectories are the buckets. */
  root: string;
  label?: string;
}

const LOCAL_CAPABILITIES: Capabilities = {
  ...NO_OPTIONAL_FEATURES,
  conditionalWrite: { ifMatch: true, ifNoneMatch: true },
  serverSideCopy: true,
  multipart: true,
  uploadPartCopy: true,
  tagging: true,
  append: true,
  notifications: true,
};

/** S3's limits, except that a single put or copy is bounded by the disk alone. */
const LOCAL_LIMITS: Limits = { ...S3_LIMITS, maxPutSize: Number.MAX_SAFE_INTEGER, maxCopySize: Number.MAX_SAFE_INTEGER };

export class LocalBackend extends BaseBackend implements Backend {
  readonly kind = 'local' as const;
  readonly label: string;
  readonly capabilities: Capabilities = LOCAL_CAPABILITIES;
  override readonly limits: Limits = LOCAL_LIMITS;
  private readonly ctx: LocalContext;
  private readonly watchers: LocalWatchers;

  constructor(options: LocalBackendOptions) {
    super();
    this.label = options.label ?? `local ${options.root}`;
    this.ctx = new LocalContext(options.root, this.limits.maxKeyBytes);
    this.watchers = new LocalWatchers(this.ctx);
  }

  /** Runs `task`, turning any error that is not yet a StorageError into one naming `bucket/key`. */
  private async guard<T>(bucket: string, key: string | undefined, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (e) {
      if (isStorageError(e)) throw e;
      throw fsFailure(e, describeKey(this.ctx.root, bucket, key ?? ''));
    }
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.guard('', undefined, () => buckets.listBuckets(this.ctx));
  }
  headBucket(bucket: string): Promise<BucketInfo> {
    return this.guard(bucket, undefined, () => buckets.headBucket(this.ctx, bucket));
  }
  createBucket(bucket: string): Promise<BucketInfo> {
    return this.guard(bucket, undefined, () => buckets.createBucket(this.ctx, bucket));
  }
  deleteBucket(bucket: string): Promise<void> {
    return this.guard(bucket, undefined, () => buckets.deleteBucket(this.ctx, bucket));
  }

  head(bucket: string, key: string, options: HeadOptions = {}): Promise<ObjectInfo> {
    return this.guard(bucket, key, () => head(this.ctx, bucket, key, options.versionId));
  }
  get(bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
    return this.guard(bucket, key, () => get(this.ctx, bucket, key, options));
  }
  put(bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
    return this.guard(bucket, key, async () => {
      if (options.acl !== undefined) this.checkAcl(options.acl);
      const result = await write.put(this.ctx, bucket, key, body, options);
      const size = Buffer.isBuffer(body) ? body.length : (options.size ?? 0);
      this.watchers.emit(bucket, { type: 'put', key, etag: result.etag, size });
      return result;
    });
  }
  copy(source: ObjectRef, dest: ObjectRef, options: CopyOptions = {}): Promise<WriteResult> {
    return this.guard(dest.bucket, dest.key, async () => {
      const result = await write.copy(this.ctx, source, dest, options);
      this.watchers.emit(dest.bucket, { type: 'put', key: dest.key, etag: result.etag });
      return result;
    });
  }
  delete(bucket: string, key: string): Promise<void> {
    return this.guard(bucket, key, async () => {
      if (await write.deleteKey(this.ctx, bucket, key)) this.watchers.emit(bucket, { type: 'delete', key });
    });
  }
  deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    return this.guard(bucket, undefined, async () => {
      const announce = (key: string) => this.watchers.emit(bucket, { type: 'delete', key });
      return write.deleteMany(this.ctx, bucket, keys, this.limits.maxDeleteBatch, announce);
    });
  }
  listPage(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    return this.guard(bucket, options.prefix, () => listPage(this.ctx, bucket, options));
  }

  createMultipart(bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
    return this.guard(bucket, key, () => {
      if (options.acl !== undefined) this.checkAcl(options.acl);
      return multipart.createMultipart(this.ctx, bucket, key, options);
    });
  }
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    const target = { bucket, key, uploadId, partNumber, maxParts: this.limits.maxParts };
    return this.guard(bucket, key, () => multipart.uploadPart(this.ctx, target, body));
  }
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    const target = { bucket, key, uploadId, partNumber, maxParts: this.limits.maxParts };
    return this.guard(bucket, key, () => multipart.uploadPartCopy(this.ctx, target, source, range));
  }
  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    const target = { bucket, key, uploadId, minPartSize: this.limits.minPartSize };
    return this.guard(bucket, key, async () => {
      const result = await multipart.completeMultipart(this.ctx, target, parts);
      this.watchers.emit(bucket, { type: 'put', key, etag: result.etag });
      return result;
    });
  }
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.guard(bucket, key, () => multipart.abortMultipart(this.ctx, bucket, key, uploadId));
  }
  listMultipartUploads(bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    return this.guard(bucket, options.prefix, () => multipart.listMultipartUploads(this.ctx, bucket, options.prefix));
  }
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return this.guard(bucket, key, () => multipart.listParts(this.ctx, bucket, key, uploadId));
  }

  override getTags(bucket: string, key: string): Promise<Record<string, string>> {
    return this.guard(bucket, key, () => write.getTags(this.ctx, bucket, key));
  }
  override putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    return this.guard(bucket, key, () => write.setTags(this.ctx, bucket, key, tags));
  }
  override deleteTags(bucket: string, key: string): Promise<void> {
    return this.guard(bucket, key, () => write.setTags(this.ctx, bucket, key, {}));
  }
  override append(bucket: string, key: string, position: number, body: Buffer, options: PutOptions = {}): Promise<AppendResult> {
    return this.guard(bucket, key, async () => {
      if (options.acl !== undefined) this.checkAcl(options.acl);
      const result = await write.append(this.ctx, bucket, key, position, body, options);
      const event: ChangeEvent = { type: 'put', key, size: result.nextPosition };
      if (result.etag !== undefined) event.etag = result.etag;
      this.watchers.emit(bucket, event);
      return result;
    });
  }
  override watch(bucket: string, options: { prefix?: string }, onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    return this.guard(bucket, options.prefix, () => this.watchers.watch(bucket, options.prefix ?? '', onEvent));
  }

  async close(): Promise<void> {
    await this.watchers.closeAll();
  }
}
