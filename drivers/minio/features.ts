/**
 * Optional features of the minio backend: object tags, bucket versioning and
 * version listings, presigned URLs. Tag writes, versioning and presigning use
 * minio-js's own calls; tag reads and version listings are parsed here (its
 * parsers turn numeric-looking text into numbers), and tag removal is a plain
 * DELETE ?tagging (its call insists on a version id).
 */
import type { SignedUrlOptions, VersionInfo } from '../contract.js';
import { OtherError } from '../errors.js';
import { compareVersions } from '../wire/s3-listing.js';
import { parseListVersions, parseTagSet } from '../wire/s3-xml.js';
import { guarded } from './context.js';
import type { MinioContext } from './context.js';
import { allKeyIdPages } from './listing.js';

export function getTags(ctx: MinioContext, bucket: string, key: string): Promise<Record<string, string>> {
  return guarded(ctx, ctx.namer.url(bucket, key), async () => {
    const { text } = await ctx.conn.sendForText({ method: 'GET', bucketName: bucket, objectName: key, query: 'tagging' });
    return parseTagSet(text);
  });
}

export function putTags(ctx: MinioContext, bucket: string, key: string, tags: Record<string, string>): Promise<void> {
  // An empty tag set is "no tags": S3 has DELETE ?tagging for that.
  if (Object.keys(tags).length === 0) return deleteTags(ctx, bucket, key);
  return guarded(ctx, ctx.namer.url(bucket, key), () => ctx.conn.minio.setObjectTagging(bucket, key, tags));
}

export function deleteTags(ctx: MinioContext, bucket: string, key: string): Promise<void> {
  return guarded(ctx, ctx.namer.url(bucket, key), async () => {
    await ctx.conn.sendAndDrain({ method: 'DELETE', bucketName: bucket, objectName: key, query: 'tagging' }, '', [200, 204]);
  });
}

export function enableVersioning(ctx: MinioContext, bucket: string): Promise<void> {
  return guarded(ctx, ctx.namer.url(bucket), () => ctx.conn.minio.setBucketVersioning(bucket, { Status: 'Enabled' }));
}

export function listVersions(ctx: MinioContext, bucket: string, options: { prefix?: string } = {}): Promise<VersionInfo[]> {
  return guarded(ctx, ctx.namer.url(bucket, options.prefix), async () => {
    const versions = await allKeyIdPages(ctx, bucket, 'versions', options.prefix, parseListVersions);
    // The reply groups versions and delete markers apart; compareVersions restores S3's order.
    return versions.sort(compareVersions);
  });
}

/** SigV4 presigned URLs live at most seven days. */
const MAX_EXPIRY_SECONDS = 7 * 24 * 3600;

export function signedUrl(ctx: MinioContext, bucket: string, key: string, options: SignedUrlOptions): Promise<string> {
  const where = ctx.namer.url(bucket, key);
  return guarded(ctx, where, async () => {
    const expires = options.expiresIn;
    if (!Number.isSafeInteger(expires) || expires < 1 || expires > MAX_EXPIRY_SECONDS) {
      throw new OtherError(`${where}: expiresIn must be 1..${MAX_EXPIRY_SECONDS} seconds, not ${expires}`, { reason: 'InvalidArgument' });
    }
    const params = options.method === 'GET' && options.contentType !== undefined ? { 'response-content-type': options.contentType } : {};
    return ctx.conn.minio.presignedUrl(options.method, bucket, key, expires, params);
  });
}

