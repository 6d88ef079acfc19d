/**
 * Finding and reading objects of the local backend: head, get, and the
 * lookups that writes use to check their conditions. Never writes.
 *
 * An object is a regular file, or (for a key ending in '/') a directory that
 * is an explicit marker (a sidecar record) or empty. Links, FIFOs, devices and
 * directories under a key without '/' are not objects: NotFound.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { sameEtag } from '../checks.js';
import type { GetOptions, ObjectBody, ObjectInfo } from '../contract.js';
import { PreconditionFailedError, unsupported } from '../errors.js';
import { resolveRange } from '../range.js';
import type { LocalContext } from './context.js';
import { fsFailure, hasCode, noSuchKey } from './failures.js';
import { READ_FLAGS, emptyBody } from './fsio.js';
import type { KeyPath } from './keys.js';
import type { BucketLayout } from './layout.js';
import { markerBody, objectInfo, readSidecar } from './sidecar.js';
import type { SidecarRecord } from './sidecar.js';

/** Bytes per read of a get stream: large reads, few syscalls, bounded memory. */
const READ_CHUNK = 256 * 1024;

export interface FoundObject {
  readonly layout: BucketLayout;
  readonly kp: KeyPath;
  readonly key: string;
  readonly path: string;
  readonly parent: string;
  readonly stat: BigIntStats;
  readonly record: SidecarRecord | undefined;
}

/** The object under `key`; NotFound (NoSuchKey or NoSuchBucket) when there is none. */
export async function findObject(ctx: LocalContext, bucket: string, key: string): Promise<FoundObject> {
  const found = await findIfAny(ctx, bucket, key);
  if (found !== undefined) return found;
  const layout = await ctx.layout(bucket);
  await layout.statBucket();
  throw noSuchKey(layout.what(key));
}

/** The object under `key`, or undefined when there is none (the bucket is not checked). */
export async function findIfAny(ctx: LocalContext, bucket: string, key: string): Promise<FoundObject | undefined> {
  const layout = await ctx.layout(bucket);
  const kp = ctx.keyPath(layout, key);
  const { parent, path } = layout.pathOf(kp);
  if (!(await layout.isRealDir(parent))) return undefined;
  let stat: BigIntStats;
  try {
    stat = await lstat(path, { bigint: true });
  } catch (e) {
    if (hasCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw fsFailure(e, layout.what(key));
  }
  return describeFound(layout, kp, key, parent, path, stat);
}

async function describeFound(
  layout: BucketLayout,
  kp: KeyPath,
  key: string,
  parent: string,
  path: string,
  stat: BigIntStats,
): Promise<FoundObject | undefined> {
  if (kp.marker ? !stat.isDirectory() : !stat.isFile()) return undefined;
  const record = await readSidecar(layout, key, stat, kp.marker);
  if (kp.marker && record === undefined && !(await emptyDir(layout, path))) return undefined;
  return { layout, kp, key, path, parent, stat, record };
}

async function emptyDir(layout: BucketLayout, path: string): Promise<boolean> {
  try {
    return await layout.isEmptyDir(path);
  } catch (e) {
    if (hasCode(e, 'ENOENT', 'ENOTDIR')) return false;
    throw e;
  }
}

/** An object opened for reading: the handle is the caller's to close (undefined for markers). */
export interface OpenObject extends FoundObject {
  readonly handle: FileHandle | undefined;
}

/**
 * Opens the object under `key` without following links. Reading through the
 * handle sees one file even if another write renames a new one into place.
 */
export async function openObject(ctx: LocalContext, bucket: string, key: string): Promise<OpenObject> {
  const layout = await ctx.layout(bucket);
  const kp = ctx.keyPath(layout, key);
  if (kp.marker) return { ...(await findObject(ctx, bucket, key)), handle: undefined };
  const { parent, path } = layout.pathOf(kp);
  const handle = (await layout.isRealDir(parent)) ? await openFile(path, layout.what(key)) : undefined;
  if (handle === undefined) return { ...(await findObject(ctx, bucket, key)), handle: undefined };
  try {
    const stat = await handle.stat({ bigint: true });
    const found = await describeFound(layout, kp, key, parent, path, stat);
    if (found === undefined) throw noSuchKey(layout.what(key));
    return { ...found, handle };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function openFile(path: string, what: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, READ_FLAGS);
  } catch (e) {
    // ELOOP: the name is a link, which is not an object.
    if (hasCode(e, 'ENOENT', 'ENOTDIR', 'ELOOP')) return undefined;
    throw fsFailure(e, what);
  }
}

export async function head(ctx: LocalContext, bucket: string, key: string, versionId?: string): Promise<ObjectInfo> {
  if (versionId !== undefined) throw unsupported('local', 'versioning');
  const found = await findObject(ctx, bucket, key);
  return objectInfo(key, found.stat, found.record, true);
}

export async function get(ctx: LocalContext, bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
  if (options.versionId !== undefined) throw unsupported('local', 'versioning');
  const opened = await openObject(ctx, bucket, key);
  const { handle } = opened;
  try {
    const info = objectInfo(key, opened.stat, opened.record, true);
    const what = opened.layout.what(key);
    checkIfMatch(info.etag, options.ifMatch, what);
    const range = resolveRange(options.range, info.size, what);
    if (handle === undefined) {
      const bytes = markerBody(opened.record).subarray(range.start, range.end);
      return { info, range, body: bytes.length === 0 ? emptyBody() : Readable.from([bytes]) };
    }
    if (range.start === range.end) {
      await handle.close();
      return { info, range, body: emptyBody() };
    }
    const body = handle.createReadStream({ start: range.start, end: range.end - 1, highWaterMark: READ_CHUNK });
    return { info, range, body };
  } catch (e) {
    await handle?.close();
    throw e;
  }
}

export function checkIfMatch(etag: string, ifMatch: string | undefined, what: string): void {
  if (ifMatch !== undefined && !sameEtag(etag, ifMatch)) {
    throw new PreconditionFailedError(`etag of ${what} is ${etag}, not ${ifMatch}`, { reason: 'PreconditionFailed' });
  }
}
