/**
 * Bucket operations of the s3 backend: list, head, idempotent create, delete.
 * Also `bucketExists`, which the object operations use on their error path
 * only, to tell a missing key from a missing bucket after a body-less 404.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { BucketInfo } from '../contract.js';
import { isStorageError } from '../errors.js';
import { DEFAULT_REGION } from './client.js';
import { s3Call, translateS3Error } from './errors.js';

export async function listBuckets(client: S3Client): Promise<BucketInfo[]> {
  const buckets: BucketInfo[] = [];
  let token: string | undefined;
  do {
    const out = await s3Call({ op: 'ListBuckets' }, () =>
      client.send(new ListBucketsCommand(token === undefined ? {} : { ContinuationToken: token })),
    );
    for (const b of out.Buckets ?? []) {
      if (b.Name === undefined) continue;
      buckets.push(b.CreationDate === undefined ? { name: b.Name } : { name: b.Name, created: b.CreationDate });
    }
    token = out.ContinuationToken;
  } while (token);
  return buckets;
}

export async function headBucket(client: S3Client, bucket: string): Promise<BucketInfo> {
  const out = await s3Call({ op: 'HeadBucket', bucket, notFound: 'NoSuchBucket' }, () =>
    client.send(new HeadBucketCommand({ Bucket: bucket })),
  );
  return out.BucketRegion === undefined ? { name: bucket } : { name: bucket, extra: { region: out.BucketRegion } };
}

/**
 * False only when the server says the bucket does not exist; any other answer
 * (even AccessDenied) means it exists, so a 404 was about the key.
 */
export async function bucketExists(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await headBucket(client, bucket);
    return true;
  } catch (e) {
    return !isStorageError(e, 'NotFound');
  }
}

/**
 * A bucket that HeadBucket found, or that a listing succeeded on, is taken
 * to exist for this long: a mount asking for absent names (every create,
 * every miss) does not pay a HeadBucket per 404. A bucket deleted elsewhere
 * meanwhile shows as absent keys until then.
 */
export const BUCKET_SEEN_TTL_MS = 10_000;
const bucketsSeen = new WeakMap<S3Client, Map<string, number>>();

/** Records that `bucket` exists: HeadBucket found it, or a request on it (a listing) succeeded. */
export function noteBucketSeen(client: S3Client, bucket: string): void {
  let seen = bucketsSeen.get(client);
  if (seen === undefined) bucketsSeen.set(client, (seen = new Map()));
  seen.set(bucket, Date.now() + BUCKET_SEEN_TTL_MS);
}

export async function bucketExistsRecently(client: S3Client, bucket: string): Promise<boolean> {
  const until = bucketsSeen.get(client)?.get(bucket);
  if (until !== undefined && Date.now() < until) return true;
  const exists = await bucketExists(client, bucket);
  if (exists) noteBucketSeen(client, bucket);
  else bucketsSeen.get(client)?.delete(bucket);
  return exists;
}

/**
 * Idempotent for our own bucket. AWS answers BucketAlreadyOwnedByYou (outside
 * us-east-1); some servers answer BucketAlreadyExists even to the owner, so
 * that answer is checked with HeadBucket, which succeeds only for a bucket we
 * can use.
 */
export async function createBucket(client: S3Client, bucket: string, region: string): Promise<BucketInfo> {
  // us-east-1 is the one region that refuses an explicit location constraint.
  const input =
    region === DEFAULT_REGION
      ? { Bucket: bucket }
      : { Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } };
  try {
    await client.send(new CreateBucketCommand(input));
  } catch (e) {
    const error = translateS3Error(e, { op: 'CreateBucket', bucket });
    if (error.reason === 'BucketAlreadyOwnedByYou') return { name: bucket };
    if (error.reason !== 'BucketAlreadyExists') throw error;
    try {
      return await headBucket(client, bucket);
    } catch {
      throw error;
    }
  }
  return { name: bucket };
}

export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await s3Call({ op: 'DeleteBucket', bucket, notFound: 'NoSuchBucket' }, () =>
    client.send(new DeleteBucketCommand({ Bucket: bucket })),
  );
  bucketsSeen.get(client)?.delete(bucket);
}
