/**
 * Service and bucket operations of the OSS test server: ListBuckets,
 * PutBucket, DeleteBucket, GetBucketInfo, PutBucketVersioning, ListObjects
 * (v1 and v2, S3 semantics: UTF-8 byte order, delimiter roll-up, max-keys
 * counting keys and prefixes), ListObjectVersions and DeleteMultipleObjects.
 */
import { bucketOf, type ServerCtx } from './context.js';
import { OssFailure, asObject, header, invalidArgument, isoDate, keyCoder, parseXml, textOf, xmlReply, type Reply } from './http.js';
import { byteOrder, type Bucket, type StoredObject } from './store.js';

const MAX_KEYS = 1000;
const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

function maxKeys(ctx: ServerCtx, name = 'max-keys'): number {
  const raw = ctx.req.query.get(name);
  if (raw === undefined) return MAX_KEYS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_KEYS) throw invalidArgument(`${name} must be 0 to ${MAX_KEYS}`, name, raw);
  return n;
}

function bucketEntry(bucket: Bucket): Record<string, unknown> {
  return {
    CreationDate: isoDate(bucket.created),
    ExtranetEndpoint: 'localhost',
    IntranetEndpoint: 'localhost',
    Location: 'oss-test-local',
    Name: bucket.name,
    Region: 'test-local',
    StorageClass: 'Standard',
  };
}

export function listBuckets(ctx: ServerCtx): Reply {
  const prefix = ctx.req.query.get('prefix') ?? '';
  const marker = ctx.req.query.get('marker') ?? '';
  const limit = maxKeys(ctx);
  const names = [...ctx.store.buckets.keys()].filter((n) => n.startsWith(prefix) && n > marker).sort();
  const page = names.slice(0, limit);
  const truncated = names.length > page.length;
  return xmlReply({
    ListAllMyBucketsResult: {
      Owner: ctx.owner,
      ...(truncated && { IsTruncated: 'true', NextMarker: page.at(-1) ?? '' }),
      Buckets: { Bucket: page.map((n) => bucketEntry(ctx.store.buckets.get(n) as Bucket)) },
    },
  });
}

/** PutBucket: an existing name is 409 BucketAlreadyExists, even for its owner. */
export function putBucket(ctx: ServerCtx): Reply {
  const name = ctx.req.bucket ?? '';
  if (!BUCKET_NAME.test(name)) throw new OssFailure(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  if (ctx.store.buckets.has(name)) throw new OssFailure(409, 'BucketAlreadyExists', 'The requested bucket name is not available.', { BucketName: name });
  ctx.store.buckets.set(name, { name, created: new Date(), objects: new Map(), uploads: new Map() });
  return { status: 200, headers: { Location: `/${name}` } };
}

export function deleteBucket(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  if (bucket.objects.size > 0 || bucket.uploads.size > 0) {
    throw new OssFailure(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.', { BucketName: bucket.name });
  }
  ctx.store.buckets.delete(bucket.name);
  return { status: 204 };
}

export function getBucketInfo(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  return xmlReply({
    BucketInfo: {
      Bucket: {
        ...bucketEntry(bucket),
        Owner: ctx.owner,
        AccessControlList: { Grant: 'private' },
        ...(bucket.versioning !== undefined && { Versioning: bucket.versioning }),
      },
    },
  });
}

export function putBucketVersioning(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const status = textOf(asObject(parseXml(ctx.req.body)['VersioningConfiguration'])['Status']);
  if (status !== 'Enabled' && status !== 'Suspended') throw new OssFailure(400, 'MalformedXML', 'Status must be Enabled or Suspended.');
  bucket.versioning = status;
  return { status: 200 };
}

interface Listed {
  contents: StoredObject[];
  prefixes: string[];
  truncated: boolean;
  /** The last key or prefix returned, where the next page starts after. */
  last?: string;
}

/** One page of a listing: keys after `after`, rolled up at `delimiter`, at most `limit` keys and prefixes. */
function listCore(objects: StoredObject[], prefix: string, delimiter: string, after: string, limit: number): Listed {
  const out: Listed = { contents: [], prefixes: [], truncated: false };
  let count = 0;
  for (const object of objects) {
    if (after !== '' && byteOrder(object.key, after) <= 0) continue;
    const at = delimiter === '' ? -1 : object.key.indexOf(delimiter, prefix.length);
    const rolled = at < 0 ? undefined : object.key.slice(0, at + delimiter.length);
    if (rolled !== undefined && ((after !== '' && byteOrder(rolled, after) <= 0) || rolled === out.prefixes.at(-1))) continue;
    if (count === limit) {
      out.truncated = true;
      break;
    }
    count += 1;
    if (rolled !== undefined) out.prefixes.push(rolled);
    else out.contents.push(object);
    out.last = rolled ?? object.key;
  }
  return out;
}

function contentsEntry(object: StoredObject, encode: (s: string) => string, owner?: unknown): Record<string, unknown> {
  return {
    Key: encode(object.key),
    LastModified: isoDate(object.lastModified),
    ETag: `"${object.etag}"`,
    Type: object.type,
    Size: object.data.length,
    StorageClass: object.storageClass,
    ...(owner !== undefined && { Owner: owner }),
  };
}

export function listObjects(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const q = ctx.req.query;
  const v2 = q.get('list-type') === '2';
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const token = q.get('continuation-token');
  const after = v2 ? (token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : q.get('start-after') ?? '') : q.get('marker') ?? '';
  const limit = maxKeys(ctx);
  const page = listCore(ctx.store.sortedCurrent(bucket, prefix), prefix, delimiter, after, limit);
  const encode = keyCoder(ctx.req);
  const owner = !v2 || q.get('fetch-owner') === 'true' ? ctx.owner : undefined;
  const next = page.truncated && page.last !== undefined ? page.last : undefined;
  const result: Record<string, unknown> = {
    Name: bucket.name,
    Prefix: encode(prefix),
    MaxKeys: limit,
    ...(delimiter !== '' && { Delimiter: encode(delimiter) }),
    ...(q.get('encoding-type') === 'url' && { EncodingType: 'url' }),
    IsTruncated: String(page.truncated),
  };
  if (v2) {
    if (token !== undefined) result['ContinuationToken'] = token;
    result['KeyCount'] = page.contents.length + page.prefixes.length;
    if (next !== undefined) result['NextContinuationToken'] = encode(Buffer.from(next, 'utf8').toString('base64url'));
  } else {
    result['Marker'] = encode(after);
    if (next !== undefined) result['NextMarker'] = encode(next);
  }
  result['Contents'] = page.contents.map((o) => contentsEntry(o, encode, owner));
  result['CommonPrefixes'] = page.prefixes.map((p) => ({ Prefix: encode(p) }));
  return xmlReply({ ListBucketResult: result });
}

/** ListObjectVersions: keys in byte order, each key's versions newest first, paged by key/version markers. */
export function listVersions(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const q = ctx.req.query;
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const versionMarker = q.get('version-id-marker') ?? '';
  const limit = maxKeys(ctx);
  const keys = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix)).sort(byteOrder);
  const all = keys.flatMap((k) => [...(bucket.objects.get(k) ?? [])].reverse().map((v, i) => ({ v, latest: i === 0 })));
  let start = 0;
  if (keyMarker !== '') {
    const at = versionMarker === '' ? -1 : all.findIndex(({ v }) => v.key === keyMarker && v.versionId === versionMarker);
    start = at >= 0 ? at + 1 : all.findIndex(({ v }) => byteOrder(v.key, keyMarker) > 0);
    if (start < 0) start = all.length;
  }
  const page = all.slice(start, start + limit);
  const truncated = start + limit < all.length;
  const encode = keyCoder(ctx.req);
  const entry = ({ v, latest }: { v: StoredObject; latest: boolean }) => ({
    Key: encode(v.key),
    VersionId: v.versionId,
    IsLatest: String(latest),
    LastModified: isoDate(v.lastModified),
    ...(v.deleteMarker ? {} : { ETag: `"${v.etag}"`, Type: v.type, Size: v.data.length, StorageClass: v.storageClass }),
    Owner: ctx.owner,
  });
  const last = page.at(-1)?.v;
  return xmlReply({
    ListVersionsResult: {
      Name: bucket.name,
      Prefix: encode(prefix),
      KeyMarker: encode(keyMarker),
      VersionIdMarker: versionMarker,
      MaxKeys: limit,
      ...(q.get('encoding-type') === 'url' && { EncodingType: 'url' }),
      IsTruncated: String(truncated),
      ...(truncated && last !== undefined && { NextKeyMarker: encode(last.key), NextVersionIdMarker: last.versionId }),
      Version: page.filter(({ v }) => !v.deleteMarker).map(entry),
      DeleteMarker: page.filter(({ v }) => v.deleteMarker).map(entry),
    },
  });
}

/** DeleteMultipleObjects: at most 1,000 keys, Content-MD5 required; quiet replies list only failures. */
export function deleteMultiple(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  if (header(ctx.req, 'content-md5') === undefined) {
    throw new OssFailure(400, 'MissingArgument', 'Missing Some Required Arguments.', { ArgumentName: 'Content-MD5' });
  }
  const request = asObject(parseXml(ctx.req.body)['Delete']);
  const objects = ((request['Object'] as unknown[] | undefined) ?? []).map(asObject);
  if (objects.length === 0 || objects.length > MAX_KEYS) {
    throw new OssFailure(400, 'MalformedXML', `A delete request names 1 to ${MAX_KEYS} objects.`);
  }
  const quiet = textOf(request['Quiet']) === 'true';
  const encode = keyCoder(ctx.req);
  const deleted: Record<string, unknown>[] = [];
  for (const object of objects) {
    const key = textOf(object['Key']);
    const versionId = object['VersionId'] === undefined ? undefined : textOf(object['VersionId']);
    const marker = ctx.store.delete(bucket, key, versionId);
    deleted.push({
      Key: encode(key),
      ...(versionId !== undefined && { VersionId: versionId }),
      ...(marker !== undefined && { DeleteMarker: 'true', DeleteMarkerVersionId: marker.versionId }),
    });
  }
  return xmlReply({
    DeleteResult: {
      ...(ctx.req.query.get('encoding-type') === 'url' && { EncodingType: 'url' }),
      ...(!quiet && { Deleted: deleted }),
    },
  });
}
