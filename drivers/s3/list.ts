/**
 * One page of ListObjectsV2 for the s3 backend, with the contract's promise
 * kept whatever the server does: keys and prefixes come back byte-exact
 * (requested URL-encoded) and a page never holds more than `maxKeys` keys
 * plus prefixes.
 */
import { Readable } from 'node:stream';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ListOptions, ListPage, ObjectInfo } from '../contract.js';
import { compareKeys, decodeListingKey } from '../wire/s3-format.js';
import { listedObject } from '../wire/s3-listing.js';
import { noteBucketSeen } from './buckets.js';
import { s3Call } from './errors.js';
import { AFTER_TOKEN, startAfterToken } from './list-token.js';
import { readListObjectsV2 } from './list-xml.js';

/** S3's default page size. */
const DEFAULT_MAX_KEYS = 1000;

interface Resume {
  ContinuationToken?: string;
  StartAfter?: string;
}

function resumeFrom(token: string | undefined): Resume {
  if (token === undefined) return {};
  if (token.startsWith(AFTER_TOKEN)) return { StartAfter: Buffer.from(token.slice(AFTER_TOKEN.length), 'base64url').toString('utf8') };
  return { ContinuationToken: token };
}

/**
 * The reply's body, read before the SDK deserialises it: a successful reply
 * is read here (list-xml.ts) and the SDK is handed an empty listing in its
 * place; any other status goes on to the SDK untouched, for its errors.
 */
/** A deserialize-step middleware of ListObjectsV2Command (add's last overload), typed without a dependency on @smithy/types. */
type ListMiddleware = Parameters<ListObjectsV2Command['middlewareStack']['add']>[0];

function readBodyFirst(command: ListObjectsV2Command, read: (page: ListPage) => void): void {
  const middleware: ListMiddleware = (next) => async (args) => {
    const result = await next(args);
    const response = result.response as { statusCode?: number; body?: unknown };
    if (response.statusCode !== 200 || !(response.body instanceof Readable)) return result;
    read(readListObjectsV2(await text(response.body)));
    response.body = Readable.from([EMPTY_LISTING]);
    return result;
  };
  command.middlewareStack.add(middleware, { step: 'deserialize', priority: 'low', name: 'bucketfsReadListing' });
}

/** The body as UTF-8 text (stream/consumers' text() goes through a Blob: several times slower for a 300 KiB page). */
async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const EMPTY_LISTING = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult></ListBucketResult>');

async function fetchPage(client: S3Client, bucket: string, options: ListOptions, resume: Resume): Promise<ListPage> {
  const command = new ListObjectsV2Command({
    Bucket: bucket,
    Prefix: options.prefix,
    Delimiter: options.delimiter,
    MaxKeys: options.maxKeys,
    EncodingType: 'url',
    ...resume,
  });
  let read: ListPage | undefined;
  readBodyFirst(command, (page) => (read = page));
  const out = await s3Call({ op: 'ListObjectsV2', bucket, notFound: 'NoSuchBucket' }, () => client.send(command));
  noteBucketSeen(client, bucket);
  if (read !== undefined) return read;
  // Decode only what the server says it encoded: some servers ignore EncodingType.
  const encoded = out.EncodingType === 'url';
  const objects = (out.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [listedObject(o, { encoded })]));
  const prefixes = (out.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [decodeListingKey(p.Prefix, encoded)]));
  const page: ListPage = { objects, prefixes };
  if (out.IsTruncated && out.NextContinuationToken) page.nextToken = out.NextContinuationToken;
  return page;
}

/**
 * Some servers (s3rver) count only keys toward MaxKeys and add the common
 * prefixes on top. Such a page is cut at `limit` entries in byte order and
 * resumes after the last entry kept.
 */
function boundPage(page: ListPage, limit: number): ListPage {
  if (page.objects.length + page.prefixes.length <= limit || limit <= 0) return page;
  const entries = [
    ...page.objects.map((o) => ({ name: o.key, object: o as ObjectInfo | undefined })),
    ...page.prefixes.map((p) => ({ name: p, object: undefined })),
  ].sort((a, b) => compareKeys(a.name, b.name));
  const kept = entries.slice(0, limit);
  const last = kept[kept.length - 1]?.name ?? '';
  return {
    objects: kept.flatMap((e) => (e.object === undefined ? [] : [e.object])),
    prefixes: kept.flatMap((e) => (e.object === undefined ? [e.name] : [])),
    nextToken: startAfterToken(last),
  };
}

/**
 * Resuming after a common prefix P lists P again (its keys sort after P and
 * roll up into it): drop it. A page left empty that way is skipped.
 */
function dropResumedPrefix(page: ListPage, startAfter: string | undefined): ListPage {
  if (startAfter === undefined) return page;
  return { ...page, prefixes: page.prefixes.filter((p) => compareKeys(p, startAfter) > 0) };
}

export async function listObjectsPage(client: S3Client, bucket: string, options: ListOptions = {}): Promise<ListPage> {
  const limit = options.maxKeys ?? DEFAULT_MAX_KEYS;
  let token = options.token;
  for (;;) {
    const resume = resumeFrom(token);
    const page = boundPage(dropResumedPrefix(await fetchPage(client, bucket, options, resume), resume.StartAfter), limit);
    const empty = page.objects.length + page.prefixes.length === 0;
    if (!empty || page.nextToken === undefined || page.nextToken === token) return page;
    token = page.nextToken;
  }
}
