/**
 * Buckets of the local backend: the real (not linked) directories directly
 * under the root whose names are not hidden. Creating one is mkdir; deleting
 * one removes its internal state and then the (then empty) directory.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BucketInfo } from '../contract.js';
import { AlreadyExistsError, NotEmptyError, OtherError } from '../errors.js';
import type { LocalContext } from './context.js';
import { fsFailure, hasCode } from './failures.js';
import { INTERNAL_DIR, checkBucketName } from './keys.js';
import type { BucketLayout } from './layout.js';
import { hasObjects } from './listing.js';

function bucketInfo(name: string, stat: BigIntStats): BucketInfo {
  // birthtime is 0 where the file system does not record it; the change time is the next best.
  const created = stat.birthtimeMs > 0n ? stat.birthtimeMs : stat.ctimeMs;
  return { name, created: new Date(Number(created)) };
}

export async function listBuckets(ctx: LocalContext): Promise<BucketInfo[]> {
  const root = await ctx.realRoot();
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if (hasCode(e, 'ENOENT')) throw new OtherError(`the local root ${root} does not exist`, { reason: 'NoSuchRoot', cause: e });
    throw fsFailure(e, `local root ${root}`);
  }
  const buckets: BucketInfo[] = [];
  for (const name of names.sort()) {
    if (!isBucketName(name)) continue;
    const stat = await lstat(join(root, name), { bigint: true }).catch(() => undefined);
    if (stat?.isDirectory()) buckets.push(bucketInfo(name, stat));
  }
  return buckets;
}

function isBucketName(name: string): boolean {
  try {
    checkBucketName(name);
    return true;
  } catch {
    return false;
  }
}

export async function headBucket(ctx: LocalContext, bucket: string): Promise<BucketInfo> {
  const layout = await ctx.layout(bucket);
  return bucketInfo(bucket, await layout.statBucket());
}

/** Idempotent: an existing directory of that name is our bucket. */
export async function createBucket(ctx: LocalContext, bucket: string): Promise<BucketInfo> {
  checkBucketName(bucket);
  await mkdir(await ctx.realRoot(), { recursive: true }).catch((e: unknown) => {
    throw fsFailure(e, `local root ${ctx.root}`);
  });
  const layout = await ctx.layout(bucket);
  try {
    await mkdir(layout.dir);
  } catch (e) {
    if (!hasCode(e, 'EEXIST')) throw fsFailure(e, layout.what());
    const stat = await lstat(layout.dir);
    if (!stat.isDirectory()) {
      throw new AlreadyExistsError(`${layout.dir} exists and is not a directory, so it cannot be the bucket ${bucket}`, {
        reason: 'BucketAlreadyExists',
      });
    }
  }
  return headBucket(ctx, bucket);
}

/** NotEmpty while any object remains; pending multipart uploads go with the bucket. */
export async function deleteBucket(ctx: LocalContext, bucket: string): Promise<void> {
  const layout = await ctx.layout(bucket);
  await layout.statBucket();
  if (await hasObjects(layout)) {
    throw new NotEmptyError(`the bucket is not empty: ${layout.what()}`, { reason: 'BucketNotEmpty' });
  }
  await removeInternal(layout);
  try {
    await rmdir(layout.dir);
  } catch (e) {
    if (hasCode(e, 'ENOTEMPTY', 'EEXIST')) {
      throw new NotEmptyError(`${layout.dir} still holds entries that are not objects (links, special files, names that are not UTF-8)`, {
        reason: 'BucketNotEmpty',
        cause: e,
      });
    }
    throw fsFailure(e, layout.what());
  }
}

async function removeInternal(layout: BucketLayout): Promise<void> {
  layout.invalidate();
  const stat = await lstat(layout.internalDir).catch(() => undefined);
  if (stat === undefined) return;
  // rm never follows links inside the tree; a link in place of the directory is removed itself.
  await rm(join(layout.dir, INTERNAL_DIR), { recursive: stat.isDirectory(), force: true });
}
