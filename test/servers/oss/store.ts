/**
 * The OSS test server's data, in memory: buckets, object versions (a
 * non-versioned bucket keeps one per key), delete markers, multipart uploads.
 * It knows OSS's rules about data (etags, versions, appendable objects,
 * archived objects); it knows nothing of HTTP.
 */
import { createHash, randomBytes } from 'node:crypto';

export type ObjectType = 'Normal' | 'Multipart' | 'Appendable';

export interface StoredObject {
  key: string;
  versionId: string;
  /** A delete marker has no data. */
  deleteMarker: boolean;
  data: Buffer;
  /** Upper-case hex, as OSS writes it (multipart: "<hex>-N"). */
  etag: string;
  lastModified: Date;
  contentType: string;
  metadata: Map<string, string>;
  storageClass: string;
  type: ObjectType;
  acl: string;
  tags: Map<string, string>;
  /** For archived objects: when the data became readable after a restore. */
  restoredAt?: number;
  restoreRequested?: number;
}

export interface Part {
  data: Buffer;
  etag: string;
  lastModified: Date;
}

export interface Upload {
  id: string;
  key: string;
  initiated: Date;
  fields: Pick<StoredObject, 'contentType' | 'metadata' | 'storageClass' | 'acl' | 'tags'>;
  parts: Map<number, Part>;
}

export interface Bucket {
  name: string;
  created: Date;
  versioning?: 'Enabled' | 'Suspended';
  /** Versions of each key, oldest first. */
  objects: Map<string, StoredObject[]>;
  uploads: Map<string, Upload>;
}

export const ARCHIVE_CLASSES = new Set(['Archive', 'ColdArchive', 'DeepColdArchive']);
export const STORAGE_CLASSES = new Set(['Standard', 'IA', ...ARCHIVE_CLASSES]);
export const OBJECT_ACLS = new Set(['private', 'public-read', 'public-read-write', 'default']);

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex').toUpperCase();
}

/** OSS's multipart etag: MD5 of the concatenated binary part MD5s, then "-N". */
export function multipartEtag(parts: Part[]): string {
  const digests = parts.map((p) => Buffer.from(p.etag, 'hex'));
  return `${md5Hex(Buffer.concat(digests))}-${parts.length}`;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function newId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

export class Store {
  readonly buckets = new Map<string, Bucket>();

  /** The current version of a key, undefined when missing or deleted. */
  current(bucket: Bucket, key: string): StoredObject | undefined {
    const latest = bucket.objects.get(key)?.at(-1);
    return latest === undefined || latest.deleteMarker ? undefined : latest;
  }

  version(bucket: Bucket, key: string, versionId: string): StoredObject | undefined {
    return bucket.objects.get(key)?.find((v) => v.versionId === versionId);
  }

  /** Writes a new current version (or replaces the only one in a non-versioned bucket). */
  write(bucket: Bucket, object: Omit<StoredObject, 'versionId' | 'deleteMarker' | 'lastModified'>): StoredObject {
    const stored: StoredObject = {
      ...object,
      versionId: bucket.versioning === 'Enabled' ? newId() : 'null',
      deleteMarker: false,
      lastModified: new Date(),
    };
    this.place(bucket, stored);
    return stored;
  }

  /** Deletes the current version (a delete marker when versioned) or one version by id. */
  delete(bucket: Bucket, key: string, versionId?: string): StoredObject | undefined {
    const versions = bucket.objects.get(key) ?? [];
    if (versionId !== undefined) {
      const left = versions.filter((v) => v.versionId !== versionId);
      if (left.length > 0) bucket.objects.set(key, left);
      else bucket.objects.delete(key);
      return undefined;
    }
    if (bucket.versioning !== 'Enabled') {
      bucket.objects.delete(key);
      return undefined;
    }
    const marker: StoredObject = {
      key, versionId: newId(), deleteMarker: true, data: Buffer.alloc(0), etag: '', lastModified: new Date(),
      contentType: '', metadata: new Map(), storageClass: 'Standard', type: 'Normal', acl: 'default', tags: new Map(),
    };
    this.place(bucket, marker);
    return marker;
  }

  private place(bucket: Bucket, object: StoredObject): void {
    const versions = bucket.objects.get(object.key) ?? [];
    const kept = bucket.versioning === undefined ? [] : versions.filter((v) => v.versionId !== object.versionId);
    bucket.objects.set(object.key, [...kept, object]);
  }

  /** Current objects in UTF-8 byte order of their keys. */
  sortedCurrent(bucket: Bucket, prefix: string): StoredObject[] {
    const out: StoredObject[] = [];
    for (const key of bucket.objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const object = this.current(bucket, key);
      if (object !== undefined) out.push(object);
    }
    return out.sort((a, b) => byteOrder(a.key, b.key));
  }
}
