/**
 * A backend that forwards every operation to an inner backend through one
 * hook, `around(op, call)`. Decorators (retry, fault injection, counting,
 * bandwidth limits) override that hook, or single operations, and nothing else.
 */
import type {
  AppendResult,
  Backend,
  BandwidthLimits,
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
  RestoreOptions,
  SignedUrlOptions,
  UploadInfo,
  VersionInfo,
  Watcher,
  WriteResult,
} from '../contract.js';
import type { ByteRange } from '../range.js';

/** Names of the operations of the contract that go over the wire. */
export type Operation = Exclude<
  keyof Backend,
  'kind' | 'label' | 'capabilities' | 'limits' | 'setBandwidthLimits' | 'close'
>;

export class ForwardingBackend implements Backend {
  constructor(readonly inner: Backend) {}

  get kind() {
    return this.inner.kind;
  }
  get label() {
    return this.inner.label;
  }
  get capabilities(): Capabilities {
    return this.inner.capabilities;
  }
  get limits(): Limits {
    return this.inner.limits;
  }

  /** The one hook: runs `call` (which calls the inner backend) for operation `op`. */
  protected around<T>(_op: Operation, call: () => Promise<T>): Promise<T> {
    return call();
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.around('listBuckets', () => this.inner.listBuckets());
  }
  headBucket(bucket: string): Promise<BucketInfo> {
    return this.around('headBucket', () => this.inner.headBucket(bucket));
  }
  createBucket(bucket: string): Promise<BucketInfo> {
    return this.around('createBucket', () => this.inner.createBucket(bucket));
  }
  deleteBucket(bucket: string): Promise<void> {
    return this.around('deleteBucket', () => this.inner.deleteBucket(bucket));
  }
  head(bucket: string, key: string, options?: HeadOptions): Promise<ObjectInfo> {
    return this.around('head', () => this.inner.head(bucket, key, options));
  }
  get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody> {
    return this.around('get', () => this.inner.get(bucket, key, options));
  }
  put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    return this.around('put', () => this.inner.put(bucket, key, body, options));
  }
  copy(source: ObjectRef, dest: ObjectRef, options?: CopyOptions): Promise<WriteResult> {
    return this.around('copy', () => this.inner.copy(source, dest, options));
  }
  delete(bucket: string, key: string): Promise<void> {
    return this.around('delete', () => this.inner.delete(bucket, key));
  }
  deleteMany(bucket: string, keys: string[]): Promise<DeleteManyResult> {
    return this.around('deleteMany', () => this.inner.deleteMany(bucket, keys));
  }
  listPage(bucket: string, options?: ListOptions): Promise<ListPage> {
    return this.around('listPage', () => this.inner.listPage(bucket, options));
  }
  createMultipart(bucket: string, key: string, options?: CreateMultipartOptions): Promise<string> {
    return this.around('createMultipart', () => this.inner.createMultipart(bucket, key, options));
  }
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    return this.around('uploadPart', () => this.inner.uploadPart(bucket, key, uploadId, partNumber, body));
  }
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    return this.around('uploadPartCopy', () =>
      this.inner.uploadPartCopy(bucket, key, uploadId, partNumber, source, range),
    );
  }
  completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    return this.around('completeMultipart', () => this.inner.completeMultipart(bucket, key, uploadId, parts));
  }
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.around('abortMultipart', () => this.inner.abortMultipart(bucket, key, uploadId));
  }
  listMultipartUploads(bucket: string, options?: { prefix?: string }): Promise<UploadInfo[]> {
    return this.around('listMultipartUploads', () => this.inner.listMultipartUploads(bucket, options));
  }
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return this.around('listParts', () => this.inner.listParts(bucket, key, uploadId));
  }
  getTags(bucket: string, key: string): Promise<Record<string, string>> {
    return this.around('getTags', () => this.inner.getTags(bucket, key));
  }
  putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    return this.around('putTags', () => this.inner.putTags(bucket, key, tags));
  }
  deleteTags(bucket: string, key: string): Promise<void> {
    return this.around('deleteTags', () => this.inner.deleteTags(bucket, key));
  }
  enableVersioning(bucket: string): Promise<void> {
    return this.around('enableVersioning', () => this.inner.enableVersioning(bucket));
  }
  listVersions(bucket: string, options?: { prefix?: string }): Promise<VersionInfo[]> {
    return this.around('listVersions', () => this.inner.listVersions(bucket, options));
  }
  signedUrl(bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
    return this.around('signedUrl', () => this.inner.signedUrl(bucket, key, options));
  }
  append(bucket: string, key: string, position: number, body: Buffer, options?: PutOptions): Promise<AppendResult> {
    return this.around('append', () => this.inner.append(bucket, key, position, body, options));
  }
  getAcl(bucket: string, key: string): Promise<string> {
    return this.around('getAcl', () => this.inner.getAcl(bucket, key));
  }
  putAcl(bucket: string, key: string, acl: string): Promise<void> {
    return this.around('putAcl', () => this.inner.putAcl(bucket, key, acl));
  }
  restore(bucket: string, key: string, options: RestoreOptions): Promise<void> {
    return this.around('restore', () => this.inner.restore(bucket, key, options));
  }
  setBandwidthLimits(limits: BandwidthLimits): void {
    this.inner.setBandwidthLimits(limits);
  }
  watch(bucket: string, options: { prefix?: string }, onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    return this.around('watch', () => this.inner.watch(bucket, options, onEvent));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
