/**
 * The writing operations of the local backend: put, copy, append, delete
 * and tags. Each streams its bytes into a temp file first (no lock held),
 * then lands it under the key's lock (commit.ts), where the conditions
 * (If-Match, If-None-Match, append position) are checked against the object
 * actually in place.
 */
import { constants } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import type {
  AppendResult,
  Body,
  CopyOptions,
  CreateMultipartOptions,
  DeleteManyResult,
  Metadata,
  ObjectRef,
  PutOptions,
  WriteResult,
} from '../contract.js';
import { OtherError, PreconditionFailedError, unsupported } from '../errors.js';
import { checkDeleteBatch, checkTags, normaliseMetadata } from '../checks.js';
import { checkConditions, commit, removeObject } from './commit.js';
import type { LocalContext } from './context.js';
import { keyConflict } from './failures.js';
import { copyRange, writeAll, writeBody, writeTemp } from './fsio.js';
import { checkIfMatch, findIfAny, findObject, openObject } from './read.js';
import type { FoundObject } from './read.js';
import { identity, markerBody, objectInfo, statEtag, writeSidecar } from './sidecar.js';
import type { SidecarRecord } from './sidecar.js';

/** Deletes of one deleteMany in flight at once: enough to overlap the fsyncs, few enough for the fd limit. */
const DELETE_CONCURRENCY = 8;

export interface WriteFields {
  metadata: Metadata;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
}

/** Metadata, content type and tags of a put, append or multipart upload, checked as S3 checks them. */
export function writeFields(options: PutOptions | CreateMultipartOptions, what: string): WriteFields {
  if (options.storageClass !== undefined && options.storageClass !== 'STANDARD') {
    throw unsupported('local', `storage class '${options.storageClass}'`, 'a directory tree has one class, STANDARD');
  }
  const tags = 'tags' in options && options.tags !== undefined ? checkTags(options.tags, what) : undefined;
  return { metadata: normaliseMetadata(options.metadata, what), contentType: options.contentType, tags };
}

export async function put(ctx: LocalContext, bucket: string, key: string, body: Body, options: PutOptions): Promise<WriteResult> {
  const layout = await ctx.layout(bucket);
  const what = layout.what(key);
  ctx.keyPath(layout, key);
  if (!Buffer.isBuffer(body) && options.size === undefined) {
    throw new OtherError(`a stream body needs options.size (${what})`, { reason: 'MissingContentLength' });
  }
  if (Buffer.isBuffer(body) && options.size !== undefined && options.size !== body.length) {
    throw new OtherError(`the body holds ${body.length} bytes but its size was given as ${options.size} (${what})`, {
      reason: 'IncompleteBody',
    });
  }
  const fields = writeFields(options, what);
  await layout.ensureInternal();
  const temp = await writeBody(layout.tmpDir, body, options.size ?? (body as Buffer).length, what);
  await ctx.withKeyLock(bucket, key, () => commit(ctx, layout, key, { temp, etag: temp.md5, ...fields }, options));
  return { etag: temp.md5 };
}

export async function copy(ctx: LocalContext, source: ObjectRef, dest: ObjectRef, options: CopyOptions): Promise<WriteResult> {
  if (source.versionId !== undefined) throw unsupported('local', 'versioning');
  const from = await ctx.layout(source.bucket);
  const to = await ctx.layout(dest.bucket);
  const what = `copy of ${from.what(source.key)} to ${to.what(dest.key)}`;
  ctx.keyPath(to, dest.key);
  const unchanged = options.metadata === undefined && options.contentType === undefined;
  if (unchanged && source.bucket === dest.bucket && source.key === dest.key) {
    throw new OtherError(`copying an object onto itself needs new metadata (${what})`, { reason: 'InvalidRequest' });
  }
  const metadata = options.metadata === undefined ? undefined : normaliseMetadata(options.metadata, what);
  const opened = await openObject(ctx, source.bucket, source.key);
  const { handle, record } = opened;
  let temp;
  try {
    const info = objectInfo(source.key, opened.stat, record, false);
    checkIfMatch(info.etag, options.ifMatch, from.what(source.key));
    await to.ensureInternal();
    temp = await writeTemp(to.tmpDir, (sink) =>
      handle === undefined ? sink.write(markerBody(record)) : copyRange(handle, 0, info.size, sink),
    );
  } finally {
    await handle?.close();
  }
  const object = {
    temp,
    etag: temp.md5,
    metadata: metadata ?? record?.metadata,
    contentType: options.contentType ?? record?.contentType,
    tags: record?.tags,
  };
  await ctx.withKeyLock(dest.bucket, dest.key, () => commit(ctx, to, dest.key, object));
  return { etag: temp.md5 };
}

/**
 * OSS-style append: `position` must be the current size. The bytes are
 * appended in place (O_APPEND, fsync), not copied, so a crash mid-append can
 * leave part of them; the etag is then the stat-derived one, as after any
 * append (an MD5 of the whole file would mean rereading it every time).
 */
export async function append(
  ctx: LocalContext,
  bucket: string,
  key: string,
  position: number,
  body: Buffer,
  options: PutOptions,
): Promise<AppendResult> {
  const layout = await ctx.layout(bucket);
  const what = layout.what(key);
  if (ctx.keyPath(layout, key).marker) {
    throw new OtherError(`cannot append to ${what}: a key ending in '/' is a directory here`, { reason: 'InvalidKey' });
  }
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new OtherError(`append position ${position} must be a non-negative integer (${what})`, { reason: 'InvalidArgument' });
  }
  const fields = writeFields(options, what);
  await layout.ensureInternal();
  return ctx.withKeyLock(bucket, key, async () => {
    const current = await findIfAny(ctx, bucket, key);
    if (position !== Number(current?.stat.size ?? 0)) {
      throw new PreconditionFailedError(
        `append at ${position} but ${what} is ${Number(current?.stat.size ?? 0)} bytes long`,
        { reason: 'PositionNotEqualToLength' },
      );
    }
    if (current === undefined) {
      const temp = await writeBody(layout.tmpDir, body, body.length, what);
      await commit(ctx, layout, key, { temp, etag: temp.md5, ...fields }, options);
      return { nextPosition: body.length, etag: temp.md5 };
    }
    checkConditions(current, options, what);
    const stat = await appendInPlace(current, body, what);
    const record: SidecarRecord = { ...current.record, ...identity(stat), etag: statEtag(stat) };
    await writeSidecar(layout, key, record);
    return { nextPosition: Number(stat.size), etag: record.etag };
  });
}

async function appendInPlace(current: FoundObject, body: Buffer, what: string): Promise<BigIntStats> {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;
  const handle = await open(current.path, flags);
  try {
    const before = await handle.stat({ bigint: true });
    if (before.ino !== current.stat.ino || before.size !== current.stat.size) {
      throw keyConflict(what, 'the file was replaced or changed by another program during the append');
    }
    await writeAll(handle, body);
    await handle.sync();
    return await handle.stat({ bigint: true });
  } finally {
    await handle.close();
  }
}

/** Removes the object under `key`; a missing key is fine, a missing bucket is not. True when an object went. */
export async function deleteKey(ctx: LocalContext, bucket: string, key: string): Promise<boolean> {
  const layout = await ctx.layout(bucket);
  ctx.keyPath(layout, key);
  return ctx.withKeyLock(bucket, key, async () => {
    const found = await findIfAny(ctx, bucket, key);
    if (found === undefined) {
      await layout.statBucket();
      return false;
    }
    await removeObject(ctx, found);
    return true;
  });
}

/** Deletes `keys`, a few at a time; `onRemoved` hears of each object that was there. */
export async function deleteMany(
  ctx: LocalContext,
  bucket: string,
  keys: string[],
  maxBatch: number,
  onRemoved: (key: string) => void,
): Promise<DeleteManyResult> {
  const layout = await ctx.layout(bucket);
  checkDeleteBatch(keys.length, maxBatch, layout.what());
  await layout.statBucket();
  const result: DeleteManyResult = { deleted: [], errors: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      try {
        if (await deleteKey(ctx, bucket, key)) onRemoved(key);
        result.deleted.push(key);
      } catch (error) {
        result.errors.push({ key, error: error as Error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
  return result;
}

export async function getTags(ctx: LocalContext, bucket: string, key: string): Promise<Record<string, string>> {
  const found = await findObject(ctx, bucket, key);
  return { ...(found.record?.tags ?? {}) };
}

/** Replaces the tags of the object in place (the data is untouched, its etag too). */
export async function setTags(ctx: LocalContext, bucket: string, key: string, tags: Record<string, string>): Promise<void> {
  const layout = await ctx.layout(bucket);
  const checked = checkTags(tags, layout.what(key));
  await ctx.withKeyLock(bucket, key, async () => {
    const found = await findObject(ctx, bucket, key);
    await layout.ensureInternal();
    const { tags: _old, ...rest } = found.record ?? baseRecord(found);
    await writeSidecar(layout, key, Object.keys(checked).length === 0 ? rest : { ...rest, tags: checked });
  });
}

/** The record of an object that has none yet (a file another program wrote, a user's empty directory). */
function baseRecord(found: FoundObject): SidecarRecord {
  if (found.kp.marker) {
    const modified = Number(found.stat.mtimeNs / 1_000_000n);
    return { ino: found.stat.ino.toString(), size: 0, mtimeNs: '0', etag: objectInfo(found.key, found.stat, undefined, false).etag, modified };
  }
  return { ...identity(found.stat), etag: statEtag(found.stat) };
}
