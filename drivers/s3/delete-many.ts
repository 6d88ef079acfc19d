/**
 * Batch delete of the s3 backend. Keys travel in an XML body, so the keys
 * XML cannot carry or that servers mangle (see xmlBatchable in
 * drivers/wire/s3-xml.ts) are deleted one request each instead.
 */
import {
  DeleteObjectsCommand,
  type S3Client,
  type _Error as S3ErrorEntry,
} from '@aws-sdk/client-s3';
import type { DeleteManyResult } from '../contract.js';
import { kindFromS3Code, storageError } from '../errors.js';
import { splitDeleteBatch } from '../wire/s3-xml.js';
import { s3Call, s3Url } from './errors.js';
import { deleteObject } from './objects.js';

function entryError(bucket: string, entry: S3ErrorEntry): { key: string; error: Error } {
  const key = entry.Key ?? '';
  const code = entry.Code;
  const error = storageError(kindFromS3Code(code, undefined), `${s3Url(bucket, key)}: DeleteObjects failed: ${code ?? 'unknown'} ${entry.Message ?? ''}`.trim(), {
    ...(code === undefined ? {} : { reason: code }),
  });
  return { key, error };
}

async function deleteXmlBatch(client: S3Client, bucket: string, keys: string[]): Promise<DeleteManyResult> {
  if (keys.length === 0) return { deleted: [], errors: [] };
  const out = await s3Call({ op: 'DeleteObjects', bucket, notFound: 'NoSuchBucket' }, () =>
    client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        // Quiet: the reply lists failures only, not every deleted key.
        Delete: { Quiet: true, Objects: keys.map((Key) => ({ Key })) },
      }),
    ),
  );
  const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey').map((e) => entryError(bucket, e));
  const failed = new Set(errors.map((e) => e.key));
  return { deleted: keys.filter((k) => !failed.has(k)), errors };
}

async function deleteOneByOne(client: S3Client, bucket: string, keys: string[]): Promise<DeleteManyResult> {
  const results = await Promise.allSettled(keys.map((key) => deleteObject(client, bucket, key)));
  const result: DeleteManyResult = { deleted: [], errors: [] };
  results.forEach((r, i) => {
    const key = keys[i] ?? '';
    if (r.status === 'fulfilled') result.deleted.push(key);
    else result.errors.push({ key, error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)) });
  });
  return result;
}

/** Missing keys count as deleted; a failure of the whole request (no bucket, no rights) throws. */
export async function deleteObjects(client: S3Client, bucket: string, keys: string[], maxBatch: number): Promise<DeleteManyResult> {
  const split = splitDeleteBatch(keys, maxBatch, s3Url(bucket));
  const [batch, single] = await Promise.all([deleteXmlBatch(client, bucket, split.batch), deleteOneByOne(client, bucket, split.single)]);
  return { deleted: [...batch.deleted, ...single.deleted], errors: [...batch.errors, ...single.errors] };
}
