/**
 * Landing a complete temp file as the object under a key, and removing
 * objects: the only code that renames into, or deletes from, a bucket's
 * user-visible tree. Callers hold the key's lock (context.ts).
 *
 * A file lands as: sidecar record written (beside the record of the file it
 * replaces), then rename, then fsync of both directories. A key ending in
 * '/' is a directory: its record marks it explicit, and its body (small, see
 * MARKER_BODY_MAX) lives in the record. Directories made only to hold keys are
 * removed again when their last key goes, as S3 prefixes vanish; explicit
 * markers, and empty directories users made (adopted as markers the moment a
 * key lands in them), stay.
 */
import { lstat, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sameEtag } from '../checks.js';
import type { Metadata } from '../contract.js';
import { NotFoundError, OtherError, PreconditionFailedError } from '../errors.js';
import type { LocalContext } from './context.js';
import { fsFailure, hasCode, keyConflict, symlinkRefused } from './failures.js';
import { EMPTY_MD5, fsyncDir, removeQuietly } from './fsio.js';
import type { TempFile } from './fsio.js';
import type { KeyPath } from './keys.js';
import type { BucketLayout, DirHold } from './layout.js';
import { findIfAny } from './read.js';
import type { FoundObject } from './read.js';
import { identity, objectInfo, readSidecar, removeSidecar, writeSidecar } from './sidecar.js';
import type { SidecarRecord } from './sidecar.js';

/** Largest body of a key ending in '/': it is kept in the sidecar, read on every head of the marker. */
export const MARKER_BODY_MAX = 64 * 1024;
/** Renames retried when a concurrent delete pruned the freshly made parent directory. */
const RENAME_ATTEMPTS = 3;

export interface NewObject {
  readonly temp: TempFile;
  readonly etag: string;
  readonly contentType?: string | undefined;
  readonly metadata?: Metadata | undefined;
  readonly tags?: Record<string, string> | undefined;
}

export interface WriteConditions {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: '*' | undefined;
}

/** Lands `object` under `key`; the temp file is consumed either way. Caller holds the key lock. */
export async function commit(
  ctx: LocalContext,
  layout: BucketLayout,
  key: string,
  object: NewObject,
  conditions: WriteConditions = {},
): Promise<void> {
  const kp = ctx.keyPath(layout, key);
  const hold = ctx.holdFresh();
  try {
    const current = await findIfAny(ctx, layout.bucket, key);
    checkConditions(current, conditions, layout.what(key));
    await layout.recordNames(kp.longSegments);
    if (kp.marker) await landMarker(ctx, layout, key, kp, object, hold);
    else await landFile(ctx, layout, key, kp, object, current, hold);
  } catch (e) {
    hold.release();
    if (hold.madeCount > 0) await undoDirs(ctx, layout, kp).catch(() => undefined);
    throw e;
  } finally {
    hold.release();
    await removeQuietly(object.temp.path);
  }
}

export function checkConditions(current: FoundObject | undefined, conditions: WriteConditions, what: string): void {
  if (conditions.ifNoneMatch === '*' && current !== undefined) {
    throw new PreconditionFailedError(`an object already exists: ${what}`, { reason: 'PreconditionFailed' });
  }
  if (conditions.ifMatch === undefined) return;
  if (current === undefined) throw new NotFoundError(`no such object: ${what}`, { reason: 'NoSuchKey' });
  const { etag } = objectInfo(current.key, current.stat, current.record, false);
  if (!sameEtag(etag, conditions.ifMatch)) {
    throw new PreconditionFailedError(`etag of ${what} is ${etag}, not ${conditions.ifMatch}`, { reason: 'PreconditionFailed' });
  }
}

async function landFile(
  ctx: LocalContext,
  layout: BucketLayout,
  key: string,
  kp: KeyPath,
  object: NewObject,
  current: FoundObject | undefined,
  hold: DirHold,
): Promise<void> {
  const what = layout.what(key);
  const { parent, path } = layout.pathOf(kp);
  await adoptEmptyAncestor(ctx, layout, kp.dirSegments, kp.dirNames);
  if (current === undefined) await refuseNonObject(path, what);
  const record: SidecarRecord = { ...identity(object.temp.stat), ...fields(object) };
  for (let attempt = 1; ; attempt++) {
    await layout.makeDirs(kp.dirNames, what, hold);
    if (attempt === 1) await writeSidecar(layout, key, record, current?.record);
    try {
      await rename(object.temp.path, path);
      break;
    } catch (e) {
      if (hasCode(e, 'ENOENT') && attempt < RENAME_ATTEMPTS) continue;
      if (hasCode(e, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) throw keyConflict(what, `${path} is a directory`, e);
      throw fsFailure(e, what);
    }
  }
  await Promise.all([fsyncDir(parent), fsyncDir(layout.metaDir)]);
}

async function landMarker(
  ctx: LocalContext,
  layout: BucketLayout,
  key: string,
  kp: KeyPath,
  object: NewObject,
  hold: DirHold,
): Promise<void> {
  const what = layout.what(key);
  const size = Number(object.temp.stat.size);
  if (size > MARKER_BODY_MAX) {
    throw new OtherError(
      `cannot store ${size} bytes under ${what}: a key ending in '/' is a directory here, and its body (kept beside it) is limited to ${MARKER_BODY_MAX} bytes`,
      { reason: 'EntityTooLarge' },
    );
  }
  const body = size === 0 ? undefined : (await readFile(object.temp.path)).toString('base64');
  const { parent, path } = layout.pathOf(kp);
  await adoptEmptyAncestor(ctx, layout, kp.dirSegments.slice(0, -1), kp.dirNames.slice(0, -1));
  await layout.makeDirs(kp.dirNames, what, hold);
  const stat = await lstat(path, { bigint: true });
  const record: SidecarRecord = { ino: stat.ino.toString(), size, mtimeNs: '0', modified: Date.now(), ...fields(object) };
  await writeSidecar(layout, key, body === undefined ? record : { ...record, body });
  await Promise.all([fsyncDir(parent), fsyncDir(layout.metaDir)]);
}

/** A name that holds no object may still hold a link or a special file, which a put must not replace. */
async function refuseNonObject(path: string, what: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined || stat.isFile()) return;
  if (stat.isSymbolicLink()) throw symlinkRefused(what, path);
  if (stat.isDirectory()) throw keyConflict(what, `${path} is a directory`);
  throw keyConflict(what, `${path} is a special file`);
}

function fields(object: NewObject): Pick<SidecarRecord, 'etag' | 'contentType' | 'metadata' | 'tags'> {
  const result: { etag: string; contentType?: string; metadata?: Metadata; tags?: Record<string, string> } = {
    etag: object.etag,
  };
  if (object.contentType !== undefined) result.contentType = object.contentType;
  if (object.metadata !== undefined && Object.keys(object.metadata).length > 0) result.metadata = object.metadata;
  if (object.tags !== undefined && Object.keys(object.tags).length > 0) result.tags = object.tags;
  return result;
}

/** The directory `depth` levels below the bucket on a key's path, and its marker key. */
interface Level {
  readonly dir: string;
  readonly markerKey: string;
}

function level(layout: BucketLayout, segments: readonly string[], names: readonly string[], depth: number): Level {
  return { dir: join(layout.dir, ...names.slice(0, depth)), markerKey: `${segments.slice(0, depth).join('/')}/` };
}

/**
 * An empty directory a user made shows as the marker `dir/`; when a key is
 * about to land in it, its marker is recorded so that it stays listed, as an
 * S3 marker would, instead of vanishing behind its new content. Decided under
 * the directory's marker lock, which every removal of an entry of that
 * directory holds too: an emptiness seen here is never one a delete in
 * flight passes through.
 */
async function adoptEmptyAncestor(
  ctx: LocalContext,
  layout: BucketLayout,
  segments: readonly string[],
  names: readonly string[],
): Promise<void> {
  for (let depth = names.length; depth > 0; depth--) {
    const { dir, markerKey } = level(layout, segments, names, depth);
    if (!(await layout.isRealDir(dir))) continue;
    await ctx.withKeyLock(layout.bucket, markerKey, async () => {
      const stat = await lstat(dir, { bigint: true }).catch(() => undefined);
      if (stat === undefined || !(await layout.isEmptyDir(dir)) || ctx.isFresh(dir)) return;
      if ((await readSidecar(layout, markerKey, stat, true)) !== undefined) return;
      const modified = Number(stat.mtimeNs / 1_000_000n);
      await writeSidecar(layout, markerKey, { ino: stat.ino.toString(), size: 0, mtimeNs: '0', etag: EMPTY_MD5, modified });
    });
    return;
  }
}

/**
 * Removes the object `found` (a file, or a marker directory when empty),
 * then the directories that this left unused. Caller holds the key lock.
 */
export async function removeObject(ctx: LocalContext, found: FoundObject): Promise<void> {
  const { layout, kp, key, path } = found;
  if (kp.marker) {
    await removeIn(ctx, layout, kp, kp.dirNames.length - 1, async () => {
      await removeSidecar(layout, key);
      return removeDirIfEmpty(path);
    });
  } else {
    await removeIn(ctx, layout, kp, kp.dirNames.length, async () => {
      const removed = await unlinkIfThere(path);
      await removeSidecar(layout, key);
      return removed;
    });
  }
}

/**
 * Runs `remove` (which takes an entry out of the directory at `depth`) under
 * that directory's marker lock; when it removed something, the directory
 * itself is removed if now unused, and so on upwards. Locks are taken deeper
 * before shallower and held up the chain, so no adoption (adoptEmptyAncestor)
 * sees a directory empty halfway through.
 */
async function removeIn(
  ctx: LocalContext,
  layout: BucketLayout,
  kp: KeyPath,
  depth: number,
  remove: () => Promise<boolean>,
): Promise<void> {
  if (depth <= 0) {
    await remove();
    return;
  }
  const { dir, markerKey } = level(layout, kp.dirSegments, kp.dirNames, depth);
  await ctx.withKeyLock(layout.bucket, markerKey, async () => {
    if (await remove()) await removeIn(ctx, layout, kp, depth - 1, () => removeIfUnused(ctx, layout, markerKey, dir));
  });
}

/**
 * Removes the directories a failed write made, where unused. Any empty
 * directory that existed before was adopted as a marker before the write
 * made anything below it, so only what the write made can go. A marker's
 * own directory is under the key lock the caller holds.
 */
async function undoDirs(ctx: LocalContext, layout: BucketLayout, kp: KeyPath): Promise<void> {
  const depth = kp.dirNames.length;
  if (kp.marker) {
    await removeIn(ctx, layout, kp, depth - 1, () => removeDirIfEmpty(layout.pathOf(kp).path));
    return;
  }
  const { dir, markerKey } = level(layout, kp.dirSegments, kp.dirNames, depth);
  await ctx.withKeyLock(layout.bucket, markerKey, () =>
    removeIn(ctx, layout, kp, depth - 1, () => removeIfUnused(ctx, layout, markerKey, dir)),
  );
}

async function unlinkIfThere(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return false;
    throw e;
  }
}

async function removeDirIfEmpty(path: string): Promise<boolean> {
  try {
    await rmdir(path);
    return true;
  } catch (e) {
    if (hasCode(e, 'ENOTEMPTY', 'EEXIST', 'ENOENT', 'ENOTDIR')) return false;
    throw e;
  }
}

/** Removes `dir` unless it holds entries, is an explicit marker, or is held by a write in flight. */
async function removeIfUnused(ctx: LocalContext, layout: BucketLayout, markerKey: string, dir: string): Promise<boolean> {
  if (ctx.isFresh(dir)) return false;
  const stat = await lstat(dir, { bigint: true }).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) return false;
  if ((await readSidecar(layout, markerKey, stat, true)) !== undefined) return false;
  return removeDirIfEmpty(dir);
}
