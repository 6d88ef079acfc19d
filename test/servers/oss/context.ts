/**
 * What every handler of the OSS test server gets: the store, the request,
 * the owner it answers as, and lookups that fail the way OSS does.
 */
import { notFoundBucket, notFoundKey, OssFailure, type OssRequest } from './http.js';
import { ARCHIVE_CLASSES, type Bucket, type Store, type StoredObject } from './store.js';

export interface ServerCtx {
  store: Store;
  req: OssRequest;
  owner: { ID: string; DisplayName: string };
  /** How long a restore of an archived object takes. */
  restoreDelayMs: number;
}

export function bucketOf(ctx: ServerCtx): Bucket {
  const name = ctx.req.bucket ?? '';
  const bucket = ctx.store.buckets.get(name);
  if (bucket === undefined) throw notFoundBucket(name);
  return bucket;
}

export function keyOf(ctx: ServerCtx): string {
  return ctx.req.key ?? '';
}

/** The object a read names: the current version, or the one `versionId` asks for. */
export function objectOf(ctx: ServerCtx, bucket: Bucket, key: string, versionId = ctx.req.query.get('versionId')): StoredObject {
  if (versionId !== undefined) {
    const version = ctx.store.version(bucket, key, versionId);
    if (version === undefined) throw new OssFailure(404, 'NoSuchVersion', 'The specified version does not exist.', { Key: key });
    if (version.deleteMarker) {
      throw new OssFailure(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {}, {
        'x-oss-delete-marker': 'true',
      });
    }
    return version;
  }
  const object = ctx.store.current(bucket, key);
  if (object === undefined) {
    const latest = bucket.objects.get(key)?.at(-1);
    if (latest?.deleteMarker) {
      throw new OssFailure(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, { 'x-oss-delete-marker': 'true' });
    }
    throw notFoundKey(key);
  }
  return object;
}

/** An archived object's data is readable only once a restore has finished. */
export function readable(object: StoredObject): boolean {
  if (!ARCHIVE_CLASSES.has(object.storageClass)) return true;
  return object.restoredAt !== undefined && Date.now() >= object.restoredAt;
}

export function checkReadable(object: StoredObject): void {
  if (!readable(object)) {
    throw new OssFailure(403, 'InvalidObjectState', 'The operation is not valid for the object\'s state', { Key: object.key });
  }
}
