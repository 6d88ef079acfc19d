/**
 * The in-memory backend: the whole storage contract kept in process memory,
 * faithful to S3's semantics (byte-ordered listings with common prefixes and
 * tokens, multipart part-size rules and `-N` etags, conditional writes,
 * versions and delete markers, archived objects that need a restore), plus
 * the optional features of other stores (OSS-style append, notifications).
 * It is the reference the file-system layer is tested against, so it refuses
 * what S3 refuses, and it counts every call per operation so tests can assert
 * request economy. Signed URLs are unsupported: there is no HTTP endpoint.
 *
 * Buckets and objects live in memory/core.ts; this file adds multipart and
 * the optional features.
 */
import type {
  AppendResult,
  Backend,
  ChangeEvent,
  CreateMultipartOptions,
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
} from './contract.js';
import { OtherError, PreconditionFailedError, unsupported } from './errors.js';
import { checkRange, type ByteRange } from './range.js';
import { checkPartNumber, checkTags } from './checks.js';
import { checkKey, checkReadable, where } from './memory/checks.js';
import { MemoryCore } from './memory/core.js';
import { compareKeys } from './wire/s3-format.js';
import { assemble, findUpload } from './memory/multipart.js';
import { ARCHIVED_CLASSES, md5Hex, newId, type Part } from './memory/store.js';

export class MemoryBackend extends MemoryCore implements Backend {
  // ---- Multipart ----

  async createMultipart(bucket: string, key: string, options: CreateMultipartOptions = {}): Promise<string> {
    this.counters.createMultipart++;
    const target = this.bucket(bucket);
    checkKey(bucket, key, this.limits.maxKeyBytes);
    const fields = this.writeFields(options, where(bucket, key));
    const uploadId = newId();
    target.uploads.set(uploadId, {
      key,
      uploadId,
      initiated: new Date(),
      metadata: fields.metadata,
      contentType: fields.contentType,
      acl: fields.acl,
      storageClass: fields.storageClass,
      parts: new Map(),
    });
    return uploadId;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<PartResult> {
    this.counters.uploadPart++;
    const upload = findUpload(this.bucket(bucket), key, uploadId);
    checkPartNumber(partNumber, this.limits.maxParts, where(bucket, key));
    return this.storePart(upload.parts, partNumber, Buffer.from(body), where(bucket, key));
  }

  async uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: ObjectRef,
    range: ByteRange,
  ): Promise<PartResult> {
    this.counters.uploadPartCopy++;
    const upload = findUpload(this.bucket(bucket), key, uploadId);
    checkPartNumber(partNumber, this.limits.maxParts, where(bucket, key));
    const from = this.entry(this.bucket(source.bucket), source.key, source.versionId);
    const sourceWhat = where(source.bucket, source.key);
    checkReadable(from, sourceWhat);
    const { start, end } = copyRange(range, from.data.length, sourceWhat);
    return this.storePart(upload.parts, partNumber, Buffer.from(from.data.subarray(start, end)), where(bucket, key));
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: PartResult[]): Promise<WriteResult> {
    this.counters.completeMultipart++;
    const target = this.bucket(bucket);
    const upload = findUpload(target, key, uploadId);
    const { data, etag } = assemble(upload, parts, this.limits.minPartSize, where(bucket, key));
    target.uploads.delete(uploadId);
    const { metadata, contentType, acl, storageClass } = upload;
    return this.store(target, key, { data, etag, metadata, contentType, acl, storageClass });
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    this.counters.abortMultipart++;
    const target = this.bucket(bucket);
    if (target.uploads.get(uploadId)?.key === key) target.uploads.delete(uploadId);
  }

  async listMultipartUploads(bucket: string, options: { prefix?: string } = {}): Promise<UploadInfo[]> {
    this.counters.listMultipartUploads++;
    const prefix = options.prefix ?? '';
    const uploads = [...this.bucket(bucket).uploads.values()].filter((u) => u.key.startsWith(prefix));
    uploads.sort((a, b) => compareKeys(a.key, b.key) || +a.initiated - +b.initiated);
    return uploads.map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: new Date(u.initiated) }));
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    this.counters.listParts++;
    const upload = findUpload(this.bucket(bucket), key, uploadId);
    return [...upload.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([partNumber, part]) => ({ partNumber, etag: part.etag, size: part.data.length, lastModified: new Date(part.lastModified) }));
  }

  // ---- Optional features ----

  override async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    this.counters.getTags++;
    return { ...this.entry(this.bucket(bucket), key).tags };
  }

  override async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    this.counters.putTags++;
    const entry = this.entry(this.bucket(bucket), key);
    entry.tags = checkTags(tags, where(bucket, key));
  }

  override async deleteTags(bucket: string, key: string): Promise<void> {
    this.counters.deleteTags++;
    this.entry(this.bucket(bucket), key).tags = {};
  }

  override async enableVersioning(bucket: string): Promise<void> {
    this.counters.enableVersioning++;
    this.bucket(bucket).versioning = true;
  }

  override async listVersions(bucket: string, options: { prefix?: string } = {}): Promise<VersionInfo[]> {
    this.counters.listVersions++;
    return this.bucket(bucket).versions(options.prefix ?? '');
  }

  override async signedUrl(_bucket: string, _key: string, _options: SignedUrlOptions): Promise<string> {
    this.counters.signedUrl++;
    throw unsupported(this.kind, 'signed URLs', 'the memory backend has no HTTP endpoint');
  }

  override async append(bucket: string, key: string, position: number, body: Buffer, options: PutOptions = {}): Promise<AppendResult> {
    this.counters.append++;
    const target = this.bucket(bucket);
    const what = where(bucket, key);
    checkKey(bucket, key, this.limits.maxKeyBytes);
    const current = target.current(key);
    if (current !== undefined && !current.appendable) {
      throw new OtherError(`only objects made by append can be appended to: ${what}`, { reason: 'ObjectNotAppendable' });
    }
    const size = current?.data.length ?? 0;
    if (position !== size) {
      throw new PreconditionFailedError(`append at ${position} but the object is ${size} bytes long: ${what}`, {
        reason: 'PositionNotEqualToLength',
      });
    }
    const data = Buffer.concat([current?.data ?? Buffer.alloc(0), body]);
    const fields = current ?? this.writeFields(options, what);
    const { etag } = this.store(target, key, { ...fields, data, etag: md5Hex(data), appendable: true, versionId: undefined });
    return { nextPosition: data.length, etag };
  }

  override async getAcl(bucket: string, key: string): Promise<string> {
    this.counters.getAcl++;
    return this.entry(this.bucket(bucket), key).acl;
  }

  override async putAcl(bucket: string, key: string, acl: string): Promise<void> {
    this.counters.putAcl++;
    const entry = this.entry(this.bucket(bucket), key);
    this.checkAcl(acl);
    entry.acl = acl;
  }

  override async restore(bucket: string, key: string, options: RestoreOptions): Promise<void> {
    this.counters.restore++;
    const entry = this.entry(this.bucket(bucket), key);
    const what = where(bucket, key);
    if (!ARCHIVED_CLASSES.has(entry.storageClass)) {
      throw new OtherError(`restore is only for archived objects, this one is ${entry.storageClass}: ${what}`, {
        reason: 'InvalidObjectState',
      });
    }
    if (!Number.isSafeInteger(options.days) || options.days < 1) {
      throw new OtherError(`restore days must be a positive integer, got ${String(options.days)} (${what})`, { reason: 'InvalidArgument' });
    }
    // Restores here complete at once; on S3 they take minutes to hours.
    entry.restoredUntil = new Date(Date.now() + options.days * 86_400_000);
  }

  override async watch(bucket: string, options: { prefix?: string }, onEvent: (event: ChangeEvent) => void): Promise<Watcher> {
    this.counters.watch++;
    this.bucket(bucket);
    return this.watchers.add(bucket, options.prefix ?? '', onEvent);
  }

  async close(): Promise<void> {
    this.watchers.closeAll();
  }

  private storePart(parts: Map<number, Part>, partNumber: number, data: Buffer, what: string): PartResult {
    if (data.length > this.limits.maxPartSize) {
      throw new OtherError(`part ${partNumber} is over the ${this.limits.maxPartSize}-byte part limit (${what})`, { reason: 'EntityTooLarge' });
    }
    const etag = md5Hex(data);
    parts.set(partNumber, { data, etag, lastModified: new Date() });
    return { partNumber, etag };
  }
}

/** UploadPartCopy's range must lie inside the source, unlike a GET's, which is clamped. */
function copyRange(range: ByteRange, size: number, what: string): { start: number; end: number } {
  checkRange(range);
  const end = range.end ?? size;
  const whole = range.start === 0 && end === size;
  if (!whole && (range.start >= size || end > size || end === range.start)) {
    throw new OtherError(`copy range [${range.start}, ${end}) is not inside ${what} (size ${size})`, { reason: 'InvalidRange' });
  }
  return { start: range.start, end };
}

const shared = new Map<string, MemoryBackend>();

/** One store per name in this process, for `memory://<name>` URLs; it holds a bucket of that name. */
export function sharedMemoryBackend(name: string): MemoryBackend {
  let backend = shared.get(name);
  if (backend === undefined) {
    backend = new MemoryBackend({ name });
    backend.ensureBucket(name);
    shared.set(name, backend);
  }
  return backend;
}
