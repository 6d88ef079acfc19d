/**
 * Buckets and objects of the in-memory backend: the state (buckets, watchers,
 * call counters) and the required object operations, faithful to S3 (refusals
 * included). memory.ts adds multipart and the optional features on top.
 *
 * No Buffer is ever shared with a caller: stored bytes are copies of what was
 * given, and reads return copies. Stored Buffers are never changed in place,
 * so entries may share one (a copy shares its source's bytes).
 */
import { Readable } from 'node:stream';
import type {
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
  PutOptions,
  WriteResult,
} from '../contract.js';
import { BaseBackend, NO_OPTIONAL_FEATURES, S3_CANNED_ACLS } from '../base-backend.js';
import type { Operation } from '../decorators/forwarding.js';
import { NotEmptyError, NotFoundError, OtherError, PreconditionFailedError } from '../errors.js';
import { resolveRange } from '../range.js';
import { checkDeleteBatch, checkStorageClass, checkTags, normaliseMetadata, sameEtag } from '../checks.js';
import { checkKey, checkReadable, readBody, where } from './checks.js';
import { zeroCounters } from './counters.js';
import { listKeys } from './key-index.js';
import { MemoryBucket, infoOf, md5Hex, type Entry } from './store.js';
import { Watchers } from './watchers.js';

const MEMORY_CAPABILITIES: Capabilities = {
  ...NO_OPTIONAL_FEATURES,
  conditionalWrite: { ifMatch: true, ifNoneMatch: true },
  tagging: true,
  versions: true,
  append: true,
  acls: S3_CANNED_ACLS,
  restore: true,
  notifications: true,
};

/** S3's bucket naming rule (lower case, 3..63 characters, no '..'). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Reads are streamed in slices of this size, as a socket would deliver them. */
const READ_CHUNK = 1024 * 1024;

/** What a new stored entry needs beyond its bytes; the rest takes S3's defaults. */
export type EntryFields = Pick<Entry, 'data' | 'etag'> & Partial<Omit<Entry, 'data' | 'etag'>>;

export abstract class MemoryCore extends BaseBackend {
  readonly kind = 'memory' as const;
  readonly label: string;
  readonly capabilities: Capabilities = MEMORY_CAPABILITIES;
  /** Calls per operation since construction or the last resetCounters(). */
  readonly counters: Record<Operation, number> = zeroCounters();
  private readonly buckets = new Map<string, MemoryBucket>();
  protected readonly watchers = new Watchers();

  constructor(options: { name?: string } = {}) {
    super();
    this.label = `memory://${options.name ?? 'memory'}`;
  }

  count(op: Operation): number {
    return this.counters[op];
  }

  resetCounters(): void {
    Object.assign(this.counters, zeroCounters());
  }

  /** Makes a bucket without the name check: for `memory://<name>` stores, whose name comes from a URL. */
  ensureBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new MemoryBucket(name));
  }

  // ---- Buckets ----

  async listBuckets(): Promise<BucketInfo[]> {
    this.counters.listBuckets++;
    const names = [...this.buckets.keys()].sort();
    return names.map((name) => this.bucketInfo(this.bucket(name)));
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    this.counters.headBucket++;
    return this.bucketInfo(this.bucket(bucket));
  }

  async createBucket(bucket: string): Promise<BucketInfo> {
    this.counters.createBucket++;
    if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
      throw new OtherError(`'${bucket}' is not a valid bucket name`, { reason: 'InvalidBucketName' });
    }
    this.ensureBucket(bucket);
    return this.bucketInfo(this.bucket(bucket));
  }

  async deleteBucket(bucket: string): Promise<void> {
    this.counters.deleteBucket++;
    if (!this.bucket(bucket).isEmpty()) {
      throw new NotEmptyError(`the bucket is not empty: ${where(bucket)}`, { reason: 'BucketNotEmpty' });
    }
    this.buckets.delete(bucket);
  }

  // ---- Objects ----

  async head(bucket: string, key: string, options: HeadOptions = {}): Promise<ObjectInfo> {
    this.counters.head++;
    return infoOf(key, this.entry(this.bucket(bucket), key, options.versionId), true);
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
    this.counters.get++;
    const entry = this.entry(this.bucket(bucket), key, options.versionId);
    const what = where(bucket, key);
    if (options.ifMatch !== undefined && !sameEtag(entry.etag, options.ifMatch)) {
      throw new PreconditionFailedError(`etag is ${entry.etag}, not ${options.ifMatch}: ${what}`, { reason: 'PreconditionFailed' });
    }
    const range = resolveRange(options.range, entry.data.length, what);
    checkReadable(entry, what);
    const slices: Buffer[] = [];
    for (let at = range.start; at < range.end; at += READ_CHUNK) {
      slices.push(Buffer.from(entry.data.subarray(at, Math.min(at + READ_CHUNK, range.end))));
    }
    return { info: infoOf(key, entry, true), range, body: Readable.from(slices, { objectMode: false }) };
  }

  async put(bucket: string, key: string, body: Body, options: PutOptions = {}): Promise<WriteResult> {
    this.counters.put++;
    const what = where(bucket, key);
    this.bucket(bucket);
    checkKey(bucket, key, this.limits.maxKeyBytes);
    const fields = this.writeFields(options, what);
    const data = await readBody(body, options.size, what);
    if (data.length > this.limits.maxPutSize) {
      throw new OtherError(`${data.length} bytes is over the single-PUT limit (${what})`, { reason: 'EntityTooLarge' });
    }
    // Conditions are checked when the write commits, after the body has arrived, as S3 does.
    const target = this.bucket(bucket);
    this.checkWriteConditions(target, key, options, what);
    return this.store(target, key, { ...fields, data, etag: md5Hex(data) });
  }

  async copy(source: ObjectRef, dest: ObjectRef, options: CopyOptions = {}): Promise<WriteResult> {
    this.counters.copy++;
    const from = this.entry(this.bucket(source.bucket), source.key, source.versionId);
    const what = `${where(source.bucket, source.key)} to ${where(dest.bucket, dest.key)}`;
    checkReadable(from, where(source.bucket, source.key));
    if (options.ifMatch !== undefined && !sameEtag(from.etag, options.ifMatch)) {
      throw new PreconditionFailedError(`the source etag is ${from.etag}, not ${options.ifMatch} (copy ${what})`, { reason: 'PreconditionFailed' });
    }
    const target = this.bucket(dest.bucket);
    checkKey(dest.bucket, dest.key, this.limits.maxKeyBytes);
    const unchanged = options.metadata === undefined && options.contentType === undefined;
    if (unchanged && source.bucket === dest.bucket && source.key === dest.key && source.versionId === undefined) {
      throw new OtherError(`copying an object onto itself needs new metadata (copy ${what})`, { reason: 'InvalidRequest' });
    }
    if (from.data.length > this.limits.maxCopySize) {
      throw new OtherError(`the source is over the ${this.limits.maxCopySize}-byte copy limit (copy ${what})`, { reason: 'InvalidRequest' });
    }
    // CopyObject writes a new single-part object: a multipart source's '-N' etag becomes a plain md5.
    return this.store(target, dest.key, {
      data: from.data,
      etag: md5Hex(from.data),
      metadata: options.metadata === undefined ? { ...from.metadata } : normaliseMetadata(options.metadata, what),
      contentType: options.contentType ?? from.contentType,
      tags: { ...from.tags },
    });
  }

  async delete(bucket: string, key: string): Promise<void> {
    this.counters.delete++;
    this.removeKey(this.bucket(bucket), key);
  }

  async deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    this.counters.deleteMany++;
    const target = this.bucket(bucket);
    checkDeleteBatch(keys.length, this.limits.maxDeleteBatch, where(bucket));
    const result: DeleteManyResult = { deleted: [], errors: [] };
    for (const key of keys) {
      try {
        this.removeKey(target, key);
        result.deleted.push(key);
      } catch (error) {
        result.errors.push({ key, error: error as Error });
      }
    }
    return result;
  }

  async listPage(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    this.counters.listPage++;
    const target = this.bucket(bucket);
    const page = listKeys(target.live, options);
    const result: ListPage = { objects: [], prefixes: [] };
    for (const entry of page.entries) {
      if ('prefix' in entry) result.prefixes.push(entry.prefix);
      else result.objects.push(infoOf(entry.key, this.entry(target, entry.key), false));
    }
    if (page.nextToken !== undefined) result.nextToken = page.nextToken;
    return result;
  }

  // ---- Internals ----

  protected bucket(name: string): MemoryBucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw new NotFoundError(`no such bucket: ${where(name)}`, { reason: 'NoSuchBucket' });
    return bucket;
  }

  private bucketInfo(bucket: MemoryBucket): BucketInfo {
    return { name: bucket.name, created: new Date(bucket.created) };
  }

  /** The current object, or one version of it; NotFound names which was missing. */
  protected entry(bucket: MemoryBucket, key: string, versionId?: string): Entry {
    checkKey(bucket.name, key, this.limits.maxKeyBytes);
    const what = where(bucket.name, key);
    if (versionId === undefined) {
      const entry = bucket.current(key);
      if (entry === undefined) throw new NotFoundError(`no such object: ${what}`, { reason: 'NoSuchKey' });
      return entry;
    }
    const entry = bucket.version(key, versionId);
    if (entry === undefined) throw new NotFoundError(`no version ${versionId} of ${what}`, { reason: 'NoSuchVersion' });
    if (entry.deleteMarker) {
      throw new OtherError(`version ${versionId} of ${what} is a delete marker`, { reason: 'MethodNotAllowed' });
    }
    return entry;
  }

  /** Options shared by put, createMultipart and a creating append, checked before any byte is stored. */
  protected writeFields(options: PutOptions | CreateMultipartOptions, what: string) {
    if (options.acl !== undefined) this.checkAcl(options.acl);
    const tags = 'tags' in options && options.tags !== undefined ? checkTags(options.tags, what) : {};
    return {
      metadata: normaliseMetadata(options.metadata, what),
      contentType: options.contentType,
      acl: options.acl ?? 'private',
      storageClass: checkStorageClass(options.storageClass, what),
      tags,
    };
  }

  private checkWriteConditions(bucket: MemoryBucket, key: string, options: PutOptions, what: string): void {
    const current = bucket.current(key);
    if (options.ifNoneMatch === '*' && current !== undefined) {
      throw new PreconditionFailedError(`an object already exists: ${what}`, { reason: 'PreconditionFailed' });
    }
    if (options.ifMatch === undefined) return;
    if (current === undefined) throw new NotFoundError(`no such object: ${what}`, { reason: 'NoSuchKey' });
    if (!sameEtag(current.etag, options.ifMatch)) {
      throw new PreconditionFailedError(`etag is ${current.etag}, not ${options.ifMatch}: ${what}`, { reason: 'PreconditionFailed' });
    }
  }

  /** Stores a new object version with S3's defaults for what `fields` leaves out, and announces it. */
  protected store(bucket: MemoryBucket, key: string, fields: EntryFields): WriteResult {
    const entry = bucket.write(key, {
      metadata: {},
      contentType: undefined,
      storageClass: 'STANDARD',
      tags: {},
      acl: 'private',
      restoredUntil: undefined,
      appendable: false,
      ...fields,
      versionId: undefined,
      lastModified: new Date(),
      deleteMarker: false,
    });
    this.watchers.emit(bucket.name, { type: 'put', key, etag: entry.etag, size: entry.data.length });
    return entry.versionId === undefined ? { etag: entry.etag } : { etag: entry.etag, versionId: entry.versionId };
  }

  private removeKey(bucket: MemoryBucket, key: string): void {
    checkKey(bucket.name, key, this.limits.maxKeyBytes);
    if (bucket.remove(key)) this.watchers.emit(bucket.name, { type: 'delete', key });
  }
}
