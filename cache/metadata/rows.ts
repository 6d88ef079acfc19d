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

/** Named parameters for the entry columns (without path, ino, listed_at). */
export function fieldParams(fields: EntryFields): Record<string, unknown> {
  return {
    kind: fields.kind,
    size: fields.size,
    mode: fields.mode,
    uid: fields.uid,
    gid: fields.gid,
    mtime_ns: fields.mtimeNs,
    atime_ns: fields.atimeNs,
    ctime_ns: fields.ctimeNs,
    etag: fields.etag ?? null,
    last_modified: fields.lastModifiedMs ?? null,
    source: fields.source,
    marker: fields.marker ? 1 : 0,
    symlink_target: fields.symlinkTarget ?? null,
    metadata: fields.metadata === undefined ? null : JSON.stringify(fields.metadata),
    content_type: fields.contentType ?? null,
    local_only: fields.localOnly ? 1 : 0,
    validated_at: fields.validatedAt,
  };
}

export function fieldsOf(entry: Entry): EntryFields {
  const { path: _path, ino: _ino, listedAt: _listedAt, ...fields } = entry;
  return fields;
}
