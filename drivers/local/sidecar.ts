/**
 * Metadata sidecars: one JSON file per key in `.bucketfs/meta/<sha256(key)>.json`
 * holding the etag, content type, user metadata and tags of the object.
 *
 * A sidecar never describes the wrong data: each record names the file it
 * belongs to by inode, size and mtime (nanoseconds), and a record that does
 * not match the file on disk is ignored. A write stores the new record next
 * to the current one before the data is renamed into place, so readers (and
 * a crash) between the two steps still find a record for whichever file is
 * there. A file changed behind the backend's back, or dropped in by another
 * program, has no matching record and gets a stat-derived etag (statEtag).
 */
import type { BigIntStats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, ObjectInfo } from '../contract.js';
import { hasCode } from './failures.js';
import { EMPTY_MD5, md5Hex, readJson, writeJsonAtomic } from './fsio.js';
import { sha256Hex } from './keys.js';

export interface SidecarRecord {
  /** Identity of the file described (inode as decimal; markers match on inode alone). */
  readonly ino: string;
  readonly size: number;
  readonly mtimeNs: string;
  readonly etag: string;
  /** Markers: when the marker was written (a directory's mtime moves with its entries). */
  readonly modified?: number;
  /** Markers: the body, base64 (a directory holds no bytes; see MARKER_BODY_MAX). */
  readonly body?: string;
  readonly contentType?: string;
  readonly metadata?: Metadata;
  readonly tags?: Record<string, string>;
}

interface SidecarFile {
  v: 1;
  key: string;
  records: SidecarRecord[];
}

/** Where one bucket's sidecars are (a BucketLayout). */
export interface SidecarDirs {
  readonly metaDir: string;
  readonly tmpDir: string;
  internalIsReal(): Promise<boolean>;
}

export function sidecarPath(dirs: SidecarDirs, key: string): string {
  return join(dirs.metaDir, `${sha256Hex(key)}.json`);
}

/** True when `record` describes the file (or, for a marker, the directory) `stat`. */
export function describes(record: SidecarRecord, stat: BigIntStats, marker: boolean): boolean {
  if (record.ino !== stat.ino.toString()) return false;
  if (marker) return stat.isDirectory();
  return stat.isFile() && record.size === Number(stat.size) && record.mtimeNs === stat.mtimeNs.toString();
}

/** The identity part of a record for the file `stat`. */
export function identity(stat: BigIntStats): Pick<SidecarRecord, 'ino' | 'size' | 'mtimeNs'> {
  return { ino: stat.ino.toString(), size: Number(stat.size), mtimeNs: stat.mtimeNs.toString() };
}

/** All records stored for `key` (unvalidated against the disk). */
async function readRecords(dirs: SidecarDirs, key: string): Promise<SidecarRecord[]> {
  if (!(await dirs.internalIsReal())) return [];
  const value = await readJson(sidecarPath(dirs, key));
  if (!isSidecarFile(value) || value.key !== key) return [];
  return value.records;
}

/** The record describing the file `stat` under `key`, if any. */
export async function readSidecar(
  dirs: SidecarDirs,
  key: string,
  stat: BigIntStats,
  marker: boolean,
): Promise<SidecarRecord | undefined> {
  const records = await readRecords(dirs, key);
  return records.find((r) => describes(r, stat, marker));
}

/**
 * Stores `record` as the newest for `key`, keeping `previous` (the record of
 * the file still in place) so that it stays described until the rename.
 */
export async function writeSidecar(
  dirs: SidecarDirs,
  key: string,
  record: SidecarRecord,
  previous?: SidecarRecord,
): Promise<void> {
  const records = previous === undefined || previous.ino === record.ino ? [record] : [record, previous];
  const file: SidecarFile = { v: 1, key, records };
  await writeJsonAtomic(dirs.tmpDir, sidecarPath(dirs, key), file);
}

export async function removeSidecar(dirs: SidecarDirs, key: string): Promise<void> {
  try {
    await unlink(sidecarPath(dirs, key));
  } catch (e) {
    if (!hasCode(e, 'ENOENT', 'ENOTDIR')) throw e;
  }
}

/**
 * The etag of a file without a matching record: MD5 of "size:mtime-ns:inode".
 * Cheap and deterministic (every listing and head agree, and it changes when
 * the file does), but not a hash of the content, which would mean reading
 * every file on every listing. An empty file gets the true MD5 of nothing.
 */
export function statEtag(stat: BigIntStats): string {
  if (stat.size === 0n) return EMPTY_MD5;
  return md5Hex(`${stat.size}:${stat.mtimeNs}:${stat.ino}`);
}

/** The ObjectInfo of a file or marker; `full` adds metadata and content type (head/get). */
export function objectInfo(
  key: string,
  stat: BigIntStats,
  record: SidecarRecord | undefined,
  full: boolean,
): ObjectInfo {
  const marker = stat.isDirectory();
  const modifiedMs = marker && record?.modified !== undefined ? record.modified : Number(stat.mtimeNs / 1_000_000n);
  const info: ObjectInfo = {
    key,
    size: marker ? (record?.size ?? 0) : Number(stat.size),
    etag: record?.etag ?? (marker ? EMPTY_MD5 : statEtag(stat)),
    lastModified: new Date(modifiedMs),
  };
  if (!full) return info;
  info.metadata = { ...(record?.metadata ?? {}) };
  if (record?.contentType !== undefined) info.contentType = record.contentType;
  return info;
}

function isSidecarFile(value: unknown): value is SidecarFile {
  if (typeof value !== 'object' || value === null) return false;
  const file = value as Partial<SidecarFile>;
  return file.v === 1 && typeof file.key === 'string' && Array.isArray(file.records) && file.records.every(isRecord);
}

/** The body of a marker record. */
export function markerBody(record: SidecarRecord | undefined): Buffer {
  return record?.body === undefined ? Buffer.alloc(0) : Buffer.from(record.body, 'base64');
}

function isRecord(value: unknown): value is SidecarRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<SidecarRecord>;
  return (
    (r.body === undefined || typeof r.body === 'string') &&
    typeof r.ino === 'string' &&
    typeof r.size === 'number' &&
    typeof r.mtimeNs === 'string' &&
    typeof r.etag === 'string' &&
    isStringMap(r.metadata) &&
    isStringMap(r.tags)
  );
}

function isStringMap(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).every((v) => typeof v === 'string');
}
