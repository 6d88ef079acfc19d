/**
 * The state of one in-memory bucket: every key's version history (newest
 * last), the index of keys that currently hold an object, and the multipart
 * uploads in progress. Versioning follows S3: before it is enabled a key has
 * one unversioned entry that each write replaces; after, each write and each
 * delete (a delete marker) adds an entry with a fresh version id.
 *
 * Stored Buffers are never handed out: callers get copies (memory.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Metadata, ObjectInfo, VersionInfo } from '../contract.js';
import { compareKeys } from '../wire/s3-format.js';
import { KeyIndex } from './key-index.js';

/** One stored version of a key: an object, or a delete marker (no data). */
export interface Entry {
  readonly data: Buffer;
  readonly etag: string;
  readonly lastModified: Date;
  readonly metadata: Metadata;
  readonly contentType: string | undefined;
  readonly storageClass: string;
  /** Undefined for the unversioned entry (S3 lists it as version 'null'). */
  versionId: string | undefined;
  readonly deleteMarker: boolean;
  tags: Record<string, string>;
  acl: string;
  /** Set by restore() for archived storage classes. */
  restoredUntil: Date | undefined;
  /** Made by append (OSS "Appendable" objects); only those accept further appends. */
  readonly appendable: boolean;
}

export interface Part {
  readonly data: Buffer;
  readonly etag: string;
  readonly lastModified: Date;
}

export interface Upload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly metadata: Metadata;
  readonly contentType: string | undefined;
  readonly acl: string;
  readonly storageClass: string;
  readonly parts: Map<number, Part>;
}

/** Storage classes whose objects must be restored before they can be read. */
export const ARCHIVED_CLASSES: ReadonlySet<string> = new Set(['GLACIER', 'DEEP_ARCHIVE']);

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** S3's multipart etag: md5 of the concatenated binary part md5s, then '-<part count>'. */
export function multipartEtag(partEtags: string[]): string {
  const hash = createHash('md5');
  for (const etag of partEtags) hash.update(Buffer.from(etag, 'hex'));
  return `${hash.digest('hex')}-${partEtags.length}`;
}

export function newId(): string {
  return randomBytes(16).toString('hex');
}

/** What the backend reports of an entry; metadata only where S3's HEAD/GET carry it. */
export function infoOf(key: string, entry: Entry, withMetadata: boolean): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: entry.data.length,
    etag: entry.etag,
    lastModified: new Date(entry.lastModified),
    storageClass: entry.storageClass,
  };
  if (entry.versionId !== undefined) info.versionId = entry.versionId;
  if (withMetadata) {
    info.metadata = { ...entry.metadata };
    if (entry.contentType !== undefined) info.contentType = entry.contentType;
  }
  if (entry.restoredUntil !== undefined) {
    // The x-amz-restore header S3 sends for a restored archived object.
    info.extra = { restore: `ongoing-request="false", expiry-date="${entry.restoredUntil.toUTCString()}"` };
  }
  if (entry.appendable) info.extra = { ...info.extra, objectType: 'Appendable' };
  return info;
}

export class MemoryBucket {
  readonly created = new Date();
  versioning = false;
  /** Keys whose newest entry is an object (not a delete marker). */
  readonly live = new KeyIndex();
  readonly uploads = new Map<string, Upload>();
  private readonly history = new Map<string, Entry[]>();

  constructor(readonly name: string) {}

  /** The current object under `key`, or undefined (missing or a delete marker). */
  current(key: string): Entry | undefined {
    const entry = this.history.get(key)?.at(-1);
    return entry?.deleteMarker ? undefined : entry;
  }

  /** The entry of one version; 'null' names the unversioned entry, as in S3. */
  version(key: string, versionId: string): Entry | undefined {
    const wanted = versionId === 'null' ? undefined : versionId;
    return this.history.get(key)?.find((e) => e.versionId === wanted);
  }

  /** Stores `entry` as the newest version of `key` and returns it. */
  write(key: string, entry: Entry): Entry {
    const versions = this.history.get(key) ?? [];
    if (this.versioning) {
      entry.versionId = newId();
      versions.push(entry);
    } else {
      // Unversioned writes replace the unversioned entry and keep older real versions.
      const kept = versions.filter((e) => e.versionId !== undefined);
      versions.splice(0, versions.length, ...kept, entry);
    }
    this.history.set(key, versions);
    if (entry.deleteMarker) this.live.remove(key);
    else this.live.add(key);
    return entry;
  }

  /** S3 DELETE without a version id: removes the object, or adds a delete marker when versioned. */
  remove(key: string): boolean {
    const existed = this.current(key) !== undefined;
    if (this.versioning) {
      this.write(key, deleteMarker());
    } else if (existed) {
      const kept = (this.history.get(key) ?? []).filter((e) => e.versionId !== undefined);
      if (kept.length === 0) this.history.delete(key);
      else this.history.set(key, kept);
      this.live.remove(key);
    }
    return existed;
  }

  /** S3 refuses to delete a bucket that still holds any version or delete marker. */
  isEmpty(): boolean {
    return this.history.size === 0;
  }

  /** Every version under `prefix`: keys in byte order, newest version first. */
  versions(prefix: string): VersionInfo[] {
    const keys = [...this.history.keys()].filter((k) => k.startsWith(prefix));
    keys.sort(compareKeys);
    return keys.flatMap((key) => {
      const entries = this.history.get(key) ?? [];
      return entries
        .map((entry, i) => ({
          ...infoOf(key, entry, false),
          etag: entry.deleteMarker ? '' : entry.etag,
          versionId: entry.versionId ?? 'null',
          isLatest: i === entries.length - 1,
          isDeleteMarker: entry.deleteMarker,
        }))
        .reverse();
    });
  }
}

function deleteMarker(): Entry {
  return {
    data: Buffer.alloc(0),
    etag: '',
    lastModified: new Date(),
    metadata: {},
    contentType: undefined,
    storageClass: 'STANDARD',
    versionId: undefined,
    deleteMarker: true,
    tags: {},
    acl: 'private',
    restoredUntil: undefined,
    appendable: false,
  };
}
