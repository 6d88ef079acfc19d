/**
 * Key-set operations of the minio backend: one ListObjectsV2 page, the
 * listings paged by key and id (uploads, versions), and batch delete.
 * Listings ask for `encoding-type=url` because XML 1.0 cannot carry control
 * characters; keys come back byte-exact after decoding (drivers/wire/s3-xml.ts).
 */
import { createHash } from 'node:crypto';
import type { DeleteManyResult, ListOptions, ListPage } from '../contract.js';
import { OtherError, kindFromS3Code, storageError } from '../errors.js';
import { S3_NAMESPACE, deleteObjectsXml, parseDeleteErrors, parseListObjectsV2, splitDeleteBatch } from '../wire/s3-xml.js';
import type { KeyIdMarker, KeyIdPage } from '../wire/s3-xml.js';
import { HttpStatusError } from './connection.js';
import { guarded, query } from './context.js';
import type { MinioContext } from './context.js';
import { deleteObject } from './objects.js';

/** S3's page size ceiling; larger requests are answered with 1000 anyway. */
const MAX_LIST_KEYS = 1000;

export function listPage(ctx: MinioContext, bucket: string, options: ListOptions = {}): Promise<ListPage> {
  const where = ctx.namer.url(bucket, options.prefix);
  return guarded(ctx, where, async () => {
    const maxKeys = options.maxKeys ?? MAX_LIST_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new OtherError(`${where}: maxKeys must be a positive integer, not ${maxKeys}`, { reason: 'InvalidArgument' });
    }
    const q = query({
      'list-type': 2,
      'encoding-type': 'url',
      prefix: options.prefix || undefined,
      delimiter: options.delimiter || undefined,
      'max-keys': Math.min(maxKeys, MAX_LIST_KEYS),
      'continuation-token': options.token,
    });
    const { text } = await ctx.conn.sendForText({ method: 'GET', bucketName: bucket, query: q });
    return parseListObjectsV2(text);
  });
}

/** How a listing by key and id markers names its sub-resource and its id marker. */
const KEY_ID_LISTINGS = {
  uploads: 'upload-id-marker',
  versions: 'version-id-marker',
} as const;

/** Follows a bucket listing paged by key and id markers (multipart uploads, versions) to its end. */
export async function allKeyIdPages<T>(
  ctx: MinioContext,
  bucket: string,
  listing: keyof typeof KEY_ID_LISTINGS,
  prefix: string | undefined,
  parse: (xml: string) => KeyIdPage<T>,
): Promise<T[]> {
  const items: T[] = [];
  let marker: KeyIdMarker | undefined;
  do {
    const q = query({
      [listing]: true,
      'encoding-type': 'url',
      prefix: prefix || undefined,
      'key-marker': marker?.keyMarker,
      [KEY_ID_LISTINGS[listing]]: marker?.idMarker,
    });
    const page = parse((await ctx.conn.sendForText({ method: 'GET', bucketName: bucket, query: q })).text);
    items.push(...page.items);
    marker = page.next;
  } while (marker !== undefined);
  return items;
}

/** Keys XML cannot carry are deleted one request each, this many at a time. */
const SINGLE_DELETE_CONCURRENCY = 8;

type KeyError = DeleteManyResult['errors'][number];

async function deleteBatch(ctx: MinioContext, bucket: string, keys: string[]): Promise<KeyError[]> {
  const body = Buffer.from(deleteObjectsXml(keys, S3_NAMESPACE), 'utf8');
  const headers = { 'content-md5': createHash('md5').update(body).digest('base64'), 'content-type': 'application/xml' };
  const { res, text } = await ctx.conn.sendForText({ method: 'POST', bucketName: bucket, query: 'delete', headers }, body);
  const requestId = res.headers['x-amz-request-id'] as string | undefined;
  return parseDeleteErrors(text)
    .filter((e) => e.code !== 'NoSuchKey')
    .map((e) => {
      const cause = new HttpStatusError(res.statusCode ?? 200, e.code, e.message, requestId, false);
      const message = `${ctx.namer.url(bucket, e.key)}: delete failed: ${e.code}${e.message ? `: ${e.message}` : ''}`;
      return { key: e.key, error: storageError(kindFromS3Code(e.code, undefined), message, { reason: e.code, cause }) };
    });
}

async function deleteSingly(ctx: MinioContext, bucket: string, keys: string[]): Promise<KeyError[]> {
  const errors: KeyError[] = [];
  for (let i = 0; i < keys.length; i += SINGLE_DELETE_CONCURRENCY) {
    const slice = keys.slice(i, i + SINGLE_DELETE_CONCURRENCY);
    await Promise.all(slice.map((key) => deleteObject(ctx, bucket, key).catch((error: Error) => errors.push({ key, error }))));
  }
  return errors;
}

export function deleteMany(ctx: MinioContext, bucket: string, keys: string[], maxBatch: number): Promise<DeleteManyResult> {
  return guarded(ctx, ctx.namer.url(bucket), async () => {
    const { batch, single } = splitDeleteBatch(keys, maxBatch, ctx.namer.url(bucket));
    const [batchErrors, singleErrors] = await Promise.all([
      batch.length > 0 ? deleteBatch(ctx, bucket, batch) : [],
      deleteSingly(ctx, bucket, single),
    ]);
    const errors = [...batchErrors, ...singleErrors];
    const failed = new Set(errors.map((e) => e.key));
    return { deleted: keys.filter((k) => !failed.has(k)), errors };
  });
}
