/**
 * Object operations of the OSS test server: GetObject (Range with and
 * without x-oss-range-behavior: standard, If-Match), HeadObject, PutObject
 * (x-oss-forbid-overwrite, x-oss-tagging), CopyObject, DeleteObject,
 * AppendObject, object ACL, tagging and RestoreObject — as OSS documents them.
 */
import { checkReadable, keyOf, objectOf, bucketOf, type ServerCtx } from './context.js';
import { OssFailure, asObject, header, invalidArgument, isoDate, notFoundBucket, notFoundKey, parseXml, textOf, xmlReply, type Reply } from './http.js';
import { ARCHIVE_CLASSES, OBJECT_ACLS, STORAGE_CLASSES, md5Hex, type Bucket, type StoredObject } from './store.js';

type Fields = Pick<StoredObject, 'contentType' | 'metadata' | 'storageClass' | 'acl' | 'tags'>;

/** The fields a write takes from its headers (content type, x-oss-meta-*, class, ACL, tags). */
export function fieldsFromHeaders(ctx: ServerCtx): Fields {
  const metadata = new Map<string, string>();
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (name.startsWith('x-oss-meta-') && value !== undefined) metadata.set(name.slice(11), String(value));
  }
  const storageClass = header(ctx.req, 'x-oss-storage-class') ?? 'Standard';
  if (!STORAGE_CLASSES.has(storageClass)) throw invalidArgument(`Invalid storage class: ${storageClass}`, 'x-oss-storage-class', storageClass);
  const acl = header(ctx.req, 'x-oss-object-acl') ?? 'default';
  if (!OBJECT_ACLS.has(acl)) throw invalidArgument(`Invalid object acl: ${acl}`, 'x-oss-object-acl', acl);
  const tags = new Map<string, string>();
  for (const pair of (header(ctx.req, 'x-oss-tagging') ?? '').split('&')) {
    if (pair === '') continue;
    const [k = '', v = ''] = pair.split('=');
    tags.set(decodeURIComponent(k), decodeURIComponent(v));
  }
  return { contentType: header(ctx.req, 'content-type') ?? 'application/octet-stream', metadata, storageClass, acl, tags };
}

/** x-oss-forbid-overwrite: refuse to replace a current object (ignored by OSS once versioning is on). */
export function checkOverwrite(ctx: ServerCtx, bucket: Bucket, key: string): void {
  const value = header(ctx.req, 'x-oss-forbid-overwrite');
  if (value === undefined) return;
  if (!/^(true|false)$/i.test(value)) throw invalidArgument('x-oss-forbid-overwrite must be true or false', 'x-oss-forbid-overwrite', value);
  if (value.toLowerCase() === 'true' && bucket.versioning === undefined && ctx.store.current(bucket, key) !== undefined) {
    throw new OssFailure(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', { Key: key });
  }
}

export function objectHeaders(bucket: Bucket, object: StoredObject): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'Content-Type': object.contentType,
    ETag: `"${object.etag}"`,
    'Last-Modified': object.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': object.type,
    'x-oss-storage-class': object.storageClass,
  };
  for (const [name, value] of object.metadata) headers[`x-oss-meta-${name}`] = value;
  if (bucket.versioning !== undefined) headers['x-oss-version-id'] = object.versionId;
  if (object.type === 'Appendable') headers['x-oss-next-append-position'] = object.data.length;
  if (object.restoreRequested !== undefined) {
    const done = object.restoredAt !== undefined && Date.now() >= object.restoredAt;
    headers['x-oss-restore'] = done
      ? `ongoing-request="false", expiry-date="${new Date((object.restoredAt ?? 0) + 86_400_000).toUTCString()}"`
      : 'ongoing-request="true"';
  }
  return headers;
}

function checkIfMatch(ctx: ServerCtx, object: StoredObject, name = 'if-match'): void {
  const wanted = header(ctx.req, name);
  if (wanted !== undefined && wanted.replace(/"/g, '') !== object.etag) {
    throw new OssFailure(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.', { Condition: name });
  }
}

/** [start, end] inclusive of a one-range Range header, or undefined when OSS would ignore it. */
function byteRange(ctx: ServerCtx, size: number): [number, number] | undefined {
  const value = header(ctx.req, 'range');
  if (value === undefined) return undefined;
  const standard = header(ctx.req, 'x-oss-range-behavior') === 'standard';
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Number(m[2]);
  }
  if (start >= size || end < start) {
    if (!standard) return undefined; // OSS's default: an unsatisfiable range is ignored
    throw new OssFailure(416, 'InvalidRange', 'The requested range cannot be satisfied', { RangeRequested: value, ActualObjectSize: String(size) });
  }
  if (end >= size) {
    if (!standard) return undefined;
    end = size - 1;
  }
  return [start, end];
}

export function getObject(ctx: ServerCtx, head: boolean): Reply {
  const bucket = bucketOf(ctx);
  const object = objectOf(ctx, bucket, keyOf(ctx));
  checkIfMatch(ctx, object);
  const headers = objectHeaders(bucket, object);
  if (head) return { status: 200, headers: { ...headers, 'Content-Length': object.data.length } };
  checkReadable(object);
  const range = byteRange(ctx, object.data.length);
  if (range === undefined) return { status: 200, headers, body: object.data };
  const [start, end] = range;
  headers['Content-Range'] = `bytes ${start}-${end}/${object.data.length}`;
  return { status: 206, headers, body: object.data.subarray(start, end + 1) };
}

export function putObject(ctx: ServerCtx): Reply {
  if (header(ctx.req, 'x-oss-copy-source') !== undefined) return copyObject(ctx);
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  checkOverwrite(ctx, bucket, key);
  const stored = ctx.store.write(bucket, { key, data: ctx.req.body, etag: md5Hex(ctx.req.body), type: 'Normal', ...fieldsFromHeaders(ctx) });
  return { status: 200, headers: writeHeaders(bucket, stored) };
}

function writeHeaders(bucket: Bucket, stored: StoredObject): Record<string, string> {
  return { ETag: `"${stored.etag}"`, ...(bucket.versioning !== undefined && { 'x-oss-version-id': stored.versionId }) };
}

/** x-oss-copy-source: /bucket/key with the key URL-encoded, optionally ?versionId=. */
export function copySource(ctx: ServerCtx): { bucket: Bucket; object: StoredObject } {
  const raw = header(ctx.req, 'x-oss-copy-source') ?? '';
  const m = /^\/?([^/]+)\/([^?]*)(?:\?versionId=(.*))?$/.exec(raw);
  if (m === null) throw invalidArgument('Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.', 'x-oss-copy-source', raw);
  const bucketName = m[1] ?? '';
  const bucket = ctx.store.buckets.get(bucketName);
  if (bucket === undefined) throw notFoundBucket(bucketName);
  const key = decodeURIComponent(m[2] ?? '');
  const versionId = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
  const object = versionId === undefined ? ctx.store.current(bucket, key) : ctx.store.version(bucket, key, versionId);
  if (object === undefined || object.deleteMarker) throw notFoundKey(key);
  checkReadable(object);
  checkIfMatch(ctx, object, 'x-oss-copy-source-if-match');
  return { bucket, object };
}

function copyObject(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { object: source } = copySource(ctx);
  checkOverwrite(ctx, bucket, key);
  const directive = header(ctx.req, 'x-oss-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument(`Invalid metadata directive: ${directive}`);
  const fields: Fields = directive === 'REPLACE'
    ? fieldsFromHeaders(ctx)
    : { ...fieldsFromHeaders(ctx), contentType: source.contentType, metadata: new Map(source.metadata), tags: new Map(source.tags) };
  const stored = ctx.store.write(bucket, { key, data: source.data, etag: md5Hex(source.data), type: 'Normal', ...fields });
  return xmlReply({ CopyObjectResult: { ETag: `"${stored.etag}"`, LastModified: isoDate(stored.lastModified) } }, writeHeaders(bucket, stored));
}

export function deleteObject(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const marker = ctx.store.delete(bucket, keyOf(ctx), ctx.req.query.get('versionId'));
  const headers: Record<string, string> = marker === undefined ? {} : { 'x-oss-delete-marker': 'true', 'x-oss-version-id': marker.versionId };
  return { status: 204, headers };
}

export function appendObject(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const position = Number(ctx.req.query.get('position') ?? 'x');
  if (!Number.isSafeInteger(position) || position < 0) throw invalidArgument('position must be a non-negative integer', 'position');
  const current = ctx.store.current(bucket, key);
  if (current !== undefined && current.type !== 'Appendable') {
    throw new OssFailure(409, 'ObjectNotAppendable', 'The object is not appendable', { Key: key });
  }
  const size = current?.data.length ?? 0;
  if (position !== size) {
    throw new OssFailure(409, 'PositionNotEqualToLength', 'Position is not equal to file length', { Key: key }, {
      'x-oss-next-append-position': String(size),
    });
  }
  const data = Buffer.concat([current?.data ?? Buffer.alloc(0), ctx.req.body]);
  const fields = current ?? fieldsFromHeaders(ctx);
  const stored = ctx.store.write(bucket, {
    key, data, etag: md5Hex(data), type: 'Appendable',
    contentType: fields.contentType, metadata: fields.metadata, storageClass: fields.storageClass, acl: fields.acl, tags: fields.tags,
  });
  return { status: 200, headers: { ...writeHeaders(bucket, stored), 'x-oss-next-append-position': String(data.length) } };
}

export function getObjectAcl(ctx: ServerCtx): Reply {
  const object = objectOf(ctx, bucketOf(ctx), keyOf(ctx));
  return xmlReply({ AccessControlPolicy: { Owner: ctx.owner, AccessControlList: { Grant: object.acl } } });
}

export function putObjectAcl(ctx: ServerCtx): Reply {
  const object = objectOf(ctx, bucketOf(ctx), keyOf(ctx));
  const acl = header(ctx.req, 'x-oss-object-acl') ?? '';
  if (!OBJECT_ACLS.has(acl)) throw invalidArgument(`Invalid object acl: ${acl}`, 'x-oss-object-acl', acl);
  object.acl = acl;
  return { status: 200 };
}

export function getTagging(ctx: ServerCtx): Reply {
  const object = objectOf(ctx, bucketOf(ctx), keyOf(ctx));
  const tags = [...object.tags].map(([Key, Value]) => ({ Key, Value }));
  return xmlReply({ Tagging: { TagSet: tags.length === 0 ? '' : { Tag: tags } } });
}

export function putTagging(ctx: ServerCtx): Reply {
  const object = objectOf(ctx, bucketOf(ctx), keyOf(ctx));
  const tagSet = asObject(asObject(parseXml(ctx.req.body)['Tagging'])['TagSet']);
  const tags = new Map<string, string>();
  for (const tag of (tagSet['Tag'] as unknown[] | undefined) ?? []) {
    const t = asObject(tag);
    tags.set(textOf(t['Key']), textOf(t['Value']));
  }
  object.tags = tags;
  return { status: 200 };
}

export function deleteTagging(ctx: ServerCtx): Reply {
  objectOf(ctx, bucketOf(ctx), keyOf(ctx)).tags = new Map();
  return { status: 204 };
}

/** RestoreObject: 202 starts a restore, 409 while one runs, 200 once the data is readable. */
export function restoreObject(ctx: ServerCtx): Reply {
  const object = objectOf(ctx, bucketOf(ctx), keyOf(ctx));
  if (!ARCHIVE_CLASSES.has(object.storageClass)) {
    throw new OssFailure(400, 'OperationNotSupported', 'The operation is not supported for this resource', { Key: object.key });
  }
  const days = Number(textOf(asObject(asObject(parseXml(ctx.req.body)['RestoreRequest']))['Days']) || '1');
  if (!Number.isSafeInteger(days) || days < 1) throw invalidArgument('Days must be a positive integer', 'Days');
  const now = Date.now();
  if (object.restoredAt === undefined) {
    object.restoreRequested = now;
    object.restoredAt = now + ctx.restoreDelayMs;
    return { status: 202 };
  }
  if (now < object.restoredAt) throw new OssFailure(409, 'RestoreAlreadyInProgress', 'The restore operation is in progress.');
  return { status: 200 };
}
