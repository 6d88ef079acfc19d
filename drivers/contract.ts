/**
 * The storage contract: the low-level, bucket-keyed operations every backend
 * implements (s3, minio, oss, local, memory) and every decorator forwards
 * (retry, fault injection, bandwidth). The libcloud-style Driver / Container /
 * StoredObject API (driver.ts) and the VFS are built on this alone.
 *
 * Rules every backend keeps:
 * - errors are only the kinds of errors.ts, translated at the edge, with `cause`;
 * - ranges are the half-open ByteRange of range.ts, checked with its helpers;
 * - a feature the backend lacks throws `unsupported(...)` and its capability is false;
 * - keys are opaque byte strings (UTF-8, up to `limits.maxKeyBytes`): no
 *   normalisation, no trimming, a trailing '/' is part of the key.
 */
import type { Readable } from 'node:stream';
import type { ByteRange } from './range.js';

export type BackendKind = 's3' | 'minio' | 'oss' | 'local' | 'memory';

/** User metadata: lower-case names without the x-amz-meta- / x-oss-meta- prefix. */
export type Metadata = Record<string, string>;

export interface ObjectInfo {
  key: string;
  size: number;
  /** Entity tag without quotes. For multipart objects it carries the `-N` suffix. */
  etag: string;
  lastModified: Date;
  /** Present on head/get; list results leave it undefined (listings carry no metadata). */
  metadata?: Metadata;
  contentType?: string;
  storageClass?: string;
  versionId?: string;
  /** Backend-specific extras (e.g. `restore` status, OSS `objectType`). */
  extra?: Record<string, unknown>;
}

export interface BucketInfo {
  name: string;
  created?: Date;
  extra?: Record<string, unknown>;
}

export interface HeadOptions {
  versionId?: string;
}

export interface GetOptions {
  range?: ByteRange;
  versionId?: string;
  /** Fail with PreconditionFailed unless the object's etag is this one. */
  ifMatch?: string;
}

export interface ObjectBody {
  info: ObjectInfo;
  /** The concrete half-open range this body holds. */
  range: { start: number; end: number };
  body: Readable;
}

/** A Buffer, or a stream whose exact length is given in `size`. */
export type Body = Buffer | Readable;

export interface PutOptions {
  /** Required when `body` is a stream. */
  size?: number;
  metadata?: Metadata;
  contentType?: string;
  /** Write only if the current object's etag is this (capability conditionalWrite.ifMatch). */
  ifMatch?: string;
  /** Write only if no object exists under the key (capability conditionalWrite.ifNoneMatch). */
  ifNoneMatch?: '*';
  /** Canned ACL applied at write time (validated like putAcl). */
  acl?: string;
  storageClass?: string;
  tags?: Record<string, string>;
}

export interface WriteResult {
  etag: string;
  versionId?: string;
}

export interface ObjectRef {
  bucket: string;
  key: string;
  versionId?: string;
}

export interface CopyOptions {
  /** Replace the metadata of the copy with this; omitted: the source's is kept. */
  metadata?: Metadata;
  contentType?: string;
  /** Copy only if the source's etag is this. */
  ifMatch?: string;
}

export interface DeleteManyResult {
  deleted: string[];
  errors: { key: string; error: Error }[];
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Continue after this page token (opaque, from the previous page). */
  token?: string;
  /** Upper bound on keys + prefixes in this page; backends may return fewer. Default 1000. */
  maxKeys?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Common prefixes, each ending in the delimiter. */
  prefixes: string[];
  /** Present when more pages follow. */
  nextToken?: string;
}

export interface CreateMultipartOptions {
  metadata?: Metadata;
  contentType?: string;
  acl?: string;
  storageClass?: string;
}

export interface PartResult {
  partNumber: number;
  etag: string;
}

export interface PartInfo extends PartResult {
  size: number;
  lastModified?: Date;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated?: Date;
}

export interface VersionInfo extends ObjectInfo {
  versionId: string;
  isLatest: boolean;
  /** A delete marker has no data. */
  isDeleteMarker: boolean;
}

export interface SignedUrlOptions {
  method: 'GET' | 'PUT';
  /** Seconds until the URL expires. */
  expiresIn: number;
  contentType?: string;
}

export interface AppendResult {
  /** Where the next append must start (the object's new size). */
  nextPosition: number;
  etag?: string;
}

export interface RestoreOptions {
  days: number;
  tier?: 'Expedited' | 'Standard' | 'Bulk';
}

export interface BandwidthLimits {
  /** Bytes per second; undefined or 0: unlimited. */
  upload?: number;
  download?: number;
}

export interface ChangeEvent {
  type: 'put' | 'delete';
  key: string;
  etag?: string;
  size?: number;
}

export interface Watcher {
  close(): Promise<void>;
}

export interface Capabilities {
  /** Conditional writes the server honours (If-Match / If-None-Match on PUT). */
  conditionalWrite: { ifMatch: boolean; ifNoneMatch: boolean };
  serverSideCopy: boolean;
  multipart: boolean;
  uploadPartCopy: boolean;
  tagging: boolean;
  versions: boolean;
  signedUrls: boolean;
  append: boolean;
  /** Canned ACL values this backend accepts; empty: no ACL support. */
  acls: readonly string[];
  restore: boolean;
  bandwidthLimits: boolean;
  notifications: boolean;
}

export interface Limits {
  maxKeyBytes: number;
  /** Largest single PUT; above it uploads must be multipart. */
  maxPutSize: number;
  /** Largest single server-side copy; above it copies go part by part. */
  maxCopySize: number;
  minPartSize: number;
  maxPartSize: number;
  maxParts: number;
  /** Most keys per deleteMany request (the base splits bigger batches). */
  maxDeleteBatch: number;
}

export interface Backend {
  readonly kind: BackendKind;
  /** A display name for messages and logs, e.g. `s3 http://127.0.0.1:7480` — never a secret. */
  readonly label: string;
  readonly capabilities: Capabilities;
  readonly limits: Limits;

  // Buckets (libcloud: containers).
  listBuckets(): Promise<BucketInfo[]>;
  /** NotFound (reason NoSuchBucket) when missing. */
  headBucket(bucket: string): Promise<BucketInfo>;
  /** Idempotent: succeeds when the bucket already exists and is ours. */
  createBucket(bucket: string): Promise<BucketInfo>;
  /** NotEmpty when objects remain. */
  deleteBucket(bucket: string): Promise<void>;

  // Objects.
  head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo>;
  get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody>;
  put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult>;
  /** Server-side copy of a whole object up to `limits.maxCopySize`. */
  copy(source: ObjectRef, dest: ObjectRef, options?: CopyOptions): Promise<WriteResult>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(bucket: string, key: string): Promise<void>;
  /** At most `limits.maxDeleteBatch` keys; missing keys count as deleted. */
  deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult>;
  listPage(bucket: string, options?: ListOptions): Promise<ListPage>;

  // Multipart.
  createMultipart(bucket: string, key: string, options?: CreateMultipartOptions): Promise<string>;
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult>;
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult>;
  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult>;
  /** Idempotent: aborting an unknown upload succeeds. */
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void>;
  listMultipartUploads(bucket: string, options?: { prefix?: string }): Promise<UploadInfo[]>;
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]>;

  // Optional features: `unsupported(...)` where the capability is false.
  getTags(bucket: string, key: string): Promise<Record<string, string>>;
  putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void>;
  deleteTags(bucket: string, key: string): Promise<void>;
  /** Turns versioning on for a bucket (needed before versions exist). */
  enableVersioning(bucket: string): Promise<void>;
  listVersions(bucket: string, options?: { prefix?: string }): Promise<VersionInfo[]>;
  signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string>;
  /** OSS AppendObject: `position` must equal the current size (0 creates). */
  append(bucket: string, key: string, position: number, body: Buffer, options?: PutOptions): Promise<AppendResult>;
  getAcl(bucket: string, key: string): Promise<string>;
  putAcl(bucket: string, key: string, acl: string): Promise<void>;
  restore(bucket: string, key: string, options: RestoreOptions): Promise<void>;
  setBandwidthLimits(limits: BandwidthLimits): void;
  watch(bucket: string, options: { prefix?: string }, onEvent: (event: ChangeEvent) => void): Promise<Watcher>;

  /** Releases sockets, timers and watchers. Idempotent. */
  close(): Promise<void>;
}

/** Part sizes and concurrency for chunked uploads and multipart copies. */
export interface TransferOptions {
  /** Uploads at or above this size go multipart. Default 16 MiB. */
  multipartThreshold?: number;
  /** Upload part size, default 8 MiB (raised when needed to stay within `limits.maxParts`); for downloads the range size, default 32 MiB. */
  partSize?: number;
  /** Parts in flight at once. Default 4. */
  concurrency?: number;
  /** Called with the bytes transferred so far. */
  onProgress?: (bytes: number) => void;
}
