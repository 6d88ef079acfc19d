/**
 * The libcloud-style storage API over any Backend: Driver → Container →
 * StoredObject, with both call styles (`driver.deleteObject(obj)` and
 * `obj.delete()`). Listings are lazy async iterators that hide pagination.
 * Everything here is written once; backends only implement the contract.
 */
import type { Readable } from 'node:stream';
import type {
  Backend,
  BucketInfo,
  Capabilities,
  CopyOptions,
  DeleteManyResult,
  GetOptions,
  ListOptions,
  ListPage,
  Metadata,
  ObjectInfo,
  PutOptions,
  TransferOptions,
  Body,
  WriteResult,
} from './contract.js';
import type { ByteRange } from './range.js';
import { isEmptyRange } from './range.js';
import { startAfterToken as memoryStartAfter } from './memory/key-index.js';
import { startAfterToken as s3StartAfter } from './s3/list-token.js';
import { copyObject, deleteKeys, downloadObject, uploadObject, type UploadOptions, type UploadSource } from './transfer.js';

export class Driver {
  constructor(readonly backend: Backend) {}

  get name(): string {
    return this.backend.kind;
  }
  get capabilities(): Capabilities {
    return this.backend.capabilities;
  }

  /** A handle on a container by name, without a request. */
  container(name: string, extra: Record<string, unknown> = {}): Container {
    return new Container(this, name, extra);
  }

  async *listContainers(): AsyncIterable<Container> {
    for (const info of await this.backend.listBuckets()) yield this.fromInfo(info);
  }

  /** NotFound (reason NoSuchBucket) when it does not exist. */
  async getContainer(name: string): Promise<Container> {
    return this.fromInfo(await this.backend.headBucket(name));
  }

  /** Idempotent. */
  async createContainer(name: string): Promise<Container> {
    return this.fromInfo(await this.backend.createBucket(name));
  }

  async deleteContainer(container: Container | string): Promise<void> {
    await this.backend.deleteBucket(typeof container === 'string' ? container : container.name);
  }

  listContainerObjects(container: Container, options: { prefix?: string; delimiter?: string } = {}): AsyncIterable<ListEntry> {
    return container.listObjects(options);
  }

  getObject(containerName: string, key: string): Promise<StoredObject> {
    return this.container(containerName).getObject(key);
  }

  uploadObject(container: Container, source: UploadSource, key: string, options?: UploadOptions): Promise<StoredObject> {
    return container.uploadObject(source, key, options);
  }

  downloadObject(obj: StoredObject, destPath: string, options?: TransferOptions): Promise<StoredObject> {
    return obj.container.downloadObject(obj.name, destPath, options);
  }

  downloadObjectAsStream(obj: StoredObject, range?: ByteRange): Promise<Readable> {
    return obj.container.openObject(obj.name, range);
  }

  deleteObject(obj: StoredObject): Promise<void> {
    return obj.container.deleteObject(obj.name);
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  private fromInfo(info: BucketInfo): Container {
    return new Container(this, info.name, { ...(info.created && { created: info.created }), ...info.extra });
  }
}

/** A common prefix in a delimited listing: a "directory". */
export class PrefixEntry {
  readonly isPrefix = true;
  constructor(readonly container: Container, readonly prefix: string) {}
}

export type ListEntry = StoredObject | PrefixEntry;

export class Container {
  constructor(readonly driver: Driver, readonly name: string, readonly extra: Record<string, unknown> = {}) {}

  private get backend(): Backend {
    return this.driver.backend;
  }

  /** The object count where the backend knows it cheaply; undefined otherwise (S3 would need a full listing). */
  objectCount(): number | undefined {
    const count = this.extra['objectCount'];
    return typeof count === 'number' ? count : undefined;
  }

  /** Lazily lists objects (and, with a delimiter, prefixes) page by page. */
  async *listObjects(options: { prefix?: string; delimiter?: string; pageSize?: number } = {}): AsyncIterable<ListEntry> {
    for await (const page of this.pages(options)) {
      for (const info of page.objects) yield new StoredObject(this, info);
      for (const prefix of page.prefixes) yield new PrefixEntry(this, prefix);
    }
  }

  /** The raw pages of a listing, in order, continuation hidden. */
  async *pages(options: { prefix?: string; delimiter?: string; pageSize?: number } = {}): AsyncIterable<ListPage> {
    let token: string | undefined;
    do {
      const page = await this.listPage({
        ...(options.prefix !== undefined && { prefix: options.prefix }),
        ...(options.delimiter !== undefined && { delimiter: options.delimiter }),
        ...(options.pageSize !== undefined && { maxKeys: options.pageSize }),
        ...(token !== undefined && { token }),
      });
      yield page;
      token = page.nextToken;
    } while (token !== undefined);
  }

  async getObject(key: string, options: { versionId?: string } = {}): Promise<StoredObject> {
    return new StoredObject(this, await this.head(key, options));
  }

  async uploadObject(source: UploadSource, key: string, options: UploadOptions = {}): Promise<StoredObject> {
    await uploadObject(this.backend, this.name, key, source, options);
    return this.getObject(key);
  }

  async downloadObject(key: string, destPath: string, options: TransferOptions & { versionId?: string } = {}): Promise<StoredObject> {
    return new StoredObject(this, await downloadObject(this.backend, this.name, key, destPath, options));
  }

  /** A stream of the object, or of the half-open `range` of it. */
  async openObject(key: string, range?: ByteRange, options: Omit<GetOptions, 'range'> = {}): Promise<Readable> {
    const { body } = await this.backend.get(this.name, key, range === undefined ? options : { ...options, range });
    return body;
  }

  deleteObject(key: string | StoredObject): Promise<void> {
    return this.backend.delete(this.name, typeof key === 'string' ? key : key.name);
  }

  delete(): Promise<void> {
    return this.driver.deleteContainer(this);
  }

  // The lower level the file system uses.

  head(key: string, options: { versionId?: string } = {}): Promise<ObjectInfo> {
    return this.backend.head(this.name, key, options);
  }

  /** The bytes of [start, end) as one Buffer (for chunk-sized reads). */
  async getRange(key: string, range: ByteRange, options: Omit<GetOptions, 'range'> = {}): Promise<Buffer> {
    if (isEmptyRange(range)) return Buffer.alloc(0);
    const { body, range: served } = await this.backend.get(this.name, key, { ...options, range });
    return collectBody(body as AsyncIterable<Buffer>, served.end - served.start);
  }

  put(key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    return this.backend.put(this.name, key, body, options);
  }

  /** Server-side copy within this container or from another one; multipart above the backend's copy limit. */
  copy(sourceKey: string, destKey: string, options: CopyOptions & TransferOptions & { sourceContainer?: string } = {}): Promise<WriteResult> {
    const { sourceContainer, ...rest } = options;
    return copyObject(this.backend, { bucket: sourceContainer ?? this.name, key: sourceKey }, { bucket: this.name, key: destKey }, rest);
  }

  deleteMany(keys: string[]): Promise<DeleteManyResult> {
    return deleteKeys(this.backend, this.name, keys);
  }

  listPage(options: ListOptions = {}): Promise<ListPage> {
    return this.backend.listPage(this.name, options);
  }

  /**
   * A page token that makes listPage resume after `key`, whatever lies
   * there (S3's StartAfter): it lets one listing be fetched as several
   * ranges side by side. Undefined for backends whose tokens cannot say
   * that (their listings stay sequential). Like StartAfter, a listing with
   * a delimiter resumed inside a common prefix shows that prefix again.
   */
  tokenAfter(key: string): string | undefined {
    const resume = START_AFTER[this.backend.kind];
    return resume === undefined ? undefined : resume(key);
  }
}

/** Backends whose listings can resume after any key, by the token that says so. */
const START_AFTER: Partial<Record<string, (key: string) => string>> = { s3: s3StartAfter, memory: memoryStartAfter };

/**
 * A body's bytes in one Buffer: the served length is known, so one
 * allocation and one copy per received piece (no list of pieces and no
 * second copy by Buffer.concat); a body that is one piece is returned as is.
 * A body longer or shorter than announced still comes back whole.
 */
async function collectBody(body: AsyncIterable<Buffer>, expected: number): Promise<Buffer> {
  let first: Buffer | undefined;
  let out: Buffer | undefined;
  let length = 0;
  for await (const piece of body) {
    if (first === undefined) {
      first = piece;
      length = piece.length;
      continue;
    }
    if (out === undefined) {
      out = Buffer.allocUnsafe(Math.max(expected, length + piece.length));
      first.copy(out, 0);
    } else if (length + piece.length > out.length) {
      const grown = Buffer.allocUnsafe(Math.max(out.length * 2, length + piece.length));
      out.copy(grown, 0, 0, length);
      out = grown;
    }
    piece.copy(out, length);
    length += piece.length;
  }
  if (out === undefined) return first ?? Buffer.alloc(0);
  return length === out.length ? out : out.subarray(0, length);
}

export class StoredObject {
  readonly isPrefix = false;
  readonly name: string;
  readonly size: number;
  /** The entity tag (an MD5 for single-PUT objects on S3-like stores). */
  readonly hash: string;
  readonly lastModified: Date;
  /** User metadata; undefined when the object came from a listing (listings carry none). */
  readonly metadata: Metadata | undefined;
  readonly extra: Record<string, unknown>;

  constructor(readonly container: Container, readonly info: ObjectInfo) {
    this.name = info.key;
    this.size = info.size;
    this.hash = info.etag;
    this.lastModified = info.lastModified;
    this.metadata = info.metadata;
    this.extra = {
      ...info.extra,
      ...(info.contentType !== undefined && { contentType: info.contentType }),
      ...(info.storageClass !== undefined && { storageClass: info.storageClass }),
      ...(info.versionId !== undefined && { versionId: info.versionId }),
    };
  }

  get driver(): Driver {
    return this.container.driver;
  }

  download(destPath: string, options?: TransferOptions): Promise<StoredObject> {
    return this.driver.downloadObject(this, destPath, options);
  }

  asStream(range?: ByteRange): Promise<Readable> {
    return this.driver.downloadObjectAsStream(this, range);
  }

  delete(): Promise<void> {
    return this.driver.deleteObject(this);
  }
}
