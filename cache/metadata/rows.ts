/**
 * Entry ↔ SQLite row conversion. Times are nanoseconds in INTEGER columns
 * (64-bit: good until 2262); rows are read with safeIntegers so they arrive
 * as bigint without losing precision, and small integers are narrowed here.
 */
import type { Metadata } from '../../drivers/contract.js';
import type { AttrSource, Entry, EntryFields, EntryKind } from './types.js';

export interface EntryRow {
  path: string;
  ino: bigint;
  kind: string;
  size: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  mtime_ns: bigint;
  atime_ns: bigint;
  ctime_ns: bigint;
  etag: string | null;
  last_modified: bigint | null;
  source: string;
  marker: bigint;
  symlink_target: string | null;
  metadata: string | null;
  content_type: string | null;
  local_only: bigint;
  validated_at: bigint;
  listed_at: bigint | null;
}

export const ENTRY_COLUMNS = `path, ino, kind, size, mode, uid, gid, mtime_ns, atime_ns, ctime_ns, etag, last_modified,
  source, marker, symlink_target, metadata, content_type, local_only, validated_at, listed_at`;

function parseMetadata(text: string | null): Metadata | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as Metadata;
  } catch {
    return undefined;
  }
}

const optional = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

export function entryFromRow(row: EntryRow): Entry {
  return {
    path: row.path,
    ino: Number(row.ino),
    kind: row.kind as EntryKind,
    size: Number(row.size),
    mode: Number(row.mode),
    uid: Number(row.uid),
    gid: Number(row.gid),
    mtimeNs: row.mtime_ns,
    atimeNs: row.atime_ns,
    ctimeNs: row.ctime_ns,
    etag: optional(row.etag),
    lastModifiedMs: row.last_modified === null ? undefined : Number(row.last_modified),
    source: row.source as AttrSource,
    marker: row.marker !== 0n,
    symlinkTarget: optional(row.symlink_target),
    metadata: parseMetadata(row.metadata),
    contentType: optional(row.content_type),
    localOnly: row.local_only !== 0n,
    validatedAt: Number(row.validated_at),
    listedAt: row.listed_at === null ? undefined : Number(row.listed_at),
  };
}

/** Where a row sits: its path, directory, name and inode number; `seenGen` stamps a listing (0 keeps the row's stamp). */
export interface RowPlace {
  path: string;
  parent: string;
  name: string;
  ino: number;
  seenGen: number;
}

/** The values of UPSERT_COLUMNS, in order (positional parameters: a listing writes thousands of rows at a time). */
export function rowValues(place: RowPlace, fields: EntryFields): unknown[] {
  return [
    place.path, place.parent, place.name, place.ino, fields.kind, fields.size, fields.mode, fields.uid, fields.gid,
    fields.mtimeNs, fields.atimeNs, fields.ctimeNs, fields.etag ?? null, fields.lastModifiedMs ?? null, fields.source,
    fields.marker ? 1 : 0, fields.symlinkTarget ?? null, fields.metadata === undefined ? null : JSON.stringify(fields.metadata),
    fields.contentType ?? null, fields.localOnly ? 1 : 0, fields.validatedAt, place.seenGen,
  ];
}

/** The columns rowValues fills (everything but listed_at, which only listings set). */
export const UPSERT_COLUMNS = `path, parent, name, ino, kind, size, mode, uid, gid, mtime_ns, atime_ns, ctime_ns, etag,
  last_modified, source, marker, symlink_target, metadata, content_type, local_only, validated_at, seen_gen`;

/*
 * Entries are built field by field, not with object spread or rest: a
 * listing makes tens of thousands of them, and V8 copies such objects by
 * spread about a hundred times slower than it builds a literal.
 */

export function fieldsOf(entry: EntryFields): EntryFields {
  return {
    kind: entry.kind, size: entry.size, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtimeNs: entry.mtimeNs, atimeNs: entry.atimeNs, ctimeNs: entry.ctimeNs, etag: entry.etag, lastModifiedMs: entry.lastModifiedMs,
    source: entry.source, marker: entry.marker, symlinkTarget: entry.symlinkTarget, metadata: entry.metadata,
    contentType: entry.contentType, localOnly: entry.localOnly, validatedAt: entry.validatedAt,
  };
}

/** The entry a row holds: `fields` at `path`. */
export function entryOf(fields: EntryFields, path: string, ino: number, listedAt: number | undefined): Entry {
  return {
    path, ino, listedAt,
    kind: fields.kind, size: fields.size, mode: fields.mode, uid: fields.uid, gid: fields.gid,
    mtimeNs: fields.mtimeNs, atimeNs: fields.atimeNs, ctimeNs: fields.ctimeNs, etag: fields.etag, lastModifiedMs: fields.lastModifiedMs,
    source: fields.source, marker: fields.marker, symlinkTarget: fields.symlinkTarget, metadata: fields.metadata,
    contentType: fields.contentType, localOnly: fields.localOnly, validatedAt: fields.validatedAt,
  };
}
