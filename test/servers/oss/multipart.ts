/**
 * Multipart uploads on the OSS test server: InitiateMultipartUpload,
 * UploadPart, UploadPartCopy (x-oss-copy-source-range), CompleteMultipartUpload
 * (parts in ascending order, etags checked, every part but the last at least
 * 100 KiB), AbortMultipartUpload, ListMultipartUploads and ListParts.
 */
import { bucketOf, keyOf, type ServerCtx } from './context.js';
import { OssFailure, asObject, header, invalidArgument, isoDate, keyCoder, parseXml, textOf, xmlReply, type Reply } from './http.js';
import { checkOverwrite, copySource, fieldsFromHeaders } from './objects.js';
import { byteOrder, md5Hex, multipartEtag, newId, type Bucket, type Part, type Upload } from './store.js';

/** OSS's smallest part, except the last one. */
const MIN_PART_SIZE = 100 * 1024;
const MAX_PART_NUMBER = 10_000;
const MAX_LIST = 1000;

function uploadOf(ctx: ServerCtx, bucket: Bucket): Upload {
  const id = ctx.req.query.get('uploadId') ?? '';
  const upload = bucket.uploads.get(id);
  if (upload === undefined || upload.key !== keyOf(ctx)) {
    throw new OssFailure(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: id });
  }
  return upload;
}

export function initiate(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  checkOverwrite(ctx, bucket, key);
  const upload: Upload = { id: newId(), key, initiated: new Date(), fields: fieldsFromHeaders(ctx), parts: new Map() };
  bucket.uploads.set(upload.id, upload);
  return xmlReply({ InitiateMultipartUploadResult: { Bucket: bucket.name, Key: keyCoder(ctx.req)(key), UploadId: upload.id } });
}

function partNumberOf(ctx: ServerCtx): number {
  const raw = ctx.req.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PART_NUMBER) throw invalidArgument(`Part number must be an integer between 1 and ${MAX_PART_NUMBER}.`, 'partNumber', raw);
  return n;
}

/** UploadPart, or UploadPartCopy when x-oss-copy-source is present. */
export function uploadPart(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const upload = uploadOf(ctx, bucket);
  const number = partNumberOf(ctx);
  const copying = header(ctx.req, 'x-oss-copy-source') !== undefined;
  const data = copying ? copiedRange(ctx) : ctx.req.body;
  const part: Part = { data, etag: md5Hex(data), lastModified: new Date() };
  upload.parts.set(number, part);
  if (!copying) return { status: 200, headers: { ETag: `"${part.etag}"` } };
  return xmlReply({ CopyPartResult: { LastModified: isoDate(part.lastModified), ETag: `"${part.etag}"` } });
}

function copiedRange(ctx: ServerCtx): Buffer {
  const { object } = copySource(ctx);
  const raw = header(ctx.req, 'x-oss-copy-source-range');
  if (raw === undefined) return object.data;
  const m = /^bytes=(\d+)-(\d+)$/.exec(raw);
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (m === null || end < start || end >= object.data.length) {
    throw new OssFailure(416, 'InvalidRange', 'The requested range is not valid.', { RangeRequested: raw });
  }
  return object.data.subarray(start, end + 1);
}

export function complete(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const upload = uploadOf(ctx, bucket);
  const listed = ((asObject(parseXml(ctx.req.body)['CompleteMultipartUpload'])['Part'] as unknown[] | undefined) ?? []).map(asObject);
  if (listed.length === 0) throw new OssFailure(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  const parts: Part[] = [];
  let previous = 0;
  for (const entry of listed) {
    const number = Number(textOf(entry['PartNumber']));
    if (!(number > previous)) throw new OssFailure(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
    previous = number;
    const part = upload.parts.get(number);
    if (part === undefined || textOf(entry['ETag']).replace(/"/g, '') !== part.etag) {
      throw new OssFailure(400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.', { PartNumber: String(number) });
    }
    parts.push(part);
  }
  const small = parts.slice(0, -1).findIndex((p) => p.data.length < MIN_PART_SIZE);
  if (small >= 0) {
    throw new OssFailure(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.', { PartNumber: textOf(listed[small]?.['PartNumber']) });
  }
  checkOverwrite(ctx, bucket, upload.key);
  const data = Buffer.concat(parts.map((p) => p.data));
  const stored = ctx.store.write(bucket, { key: upload.key, data, etag: multipartEtag(parts), type: 'Multipart', ...upload.fields });
  bucket.uploads.delete(upload.id);
  const headers = { ETag: `"${stored.etag}"`, ...(bucket.versioning !== undefined && { 'x-oss-version-id': stored.versionId }) };
  const encode = keyCoder(ctx.req);
  return xmlReply({
    CompleteMultipartUploadResult: {
      Location: `/${bucket.name}/${encode(upload.key)}`,
      Bucket: bucket.name,
      Key: encode(upload.key),
      ETag: `"${stored.etag}"`,
    },
  }, headers);
}

export function abort(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  bucket.uploads.delete(uploadOf(ctx, bucket).id);
  return { status: 204 };
}

export function listUploads(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const q = ctx.req.query;
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const idMarker = q.get('upload-id-marker') ?? '';
  const limit = Math.min(Number(q.get('max-uploads') ?? MAX_LIST), MAX_LIST);
  const all = [...bucket.uploads.values()]
    .filter((u) => u.key.startsWith(prefix))
    .sort((a, b) => byteOrder(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || (a.id < b.id ? -1 : 1));
  const after = all.filter((u) => keyMarker === '' || byteOrder(u.key, keyMarker) > 0 || (u.key === keyMarker && idMarker !== '' && u.id > idMarker));
  const page = after.slice(0, limit);
  const truncated = after.length > page.length;
  const encode = keyCoder(ctx.req);
  const last = page.at(-1);
  return xmlReply({
    ListMultipartUploadsResult: {
      Bucket: bucket.name,
      ...(q.get('encoding-type') === 'url' && { EncodingType: 'url' }),
      KeyMarker: encode(keyMarker),
      UploadIdMarker: idMarker,
      NextKeyMarker: truncated && last ? encode(last.key) : '',
      NextUploadIdMarker: truncated && last ? last.id : '',
      Prefix: encode(prefix),
      MaxUploads: limit,
      IsTruncated: String(truncated),
      Upload: page.map((u) => ({ Key: encode(u.key), UploadId: u.id, Initiated: isoDate(u.initiated) })),
    },
  });
}

export function listParts(ctx: ServerCtx): Reply {
  const bucket = bucketOf(ctx);
  const upload = uploadOf(ctx, bucket);
  const marker = Number(ctx.req.query.get('part-number-marker') ?? 0);
  const limit = Math.min(Number(ctx.req.query.get('max-parts') ?? MAX_LIST), MAX_LIST);
  const numbers = [...upload.parts.keys()].filter((n) => n > marker).sort((a, b) => a - b);
  const page = numbers.slice(0, limit);
  const truncated = numbers.length > page.length;
  return xmlReply({
    ListPartsResult: {
      Bucket: bucket.name,
      Key: upload.key,
      UploadId: upload.id,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1) ?? 0,
      MaxParts: limit,
      IsTruncated: String(truncated),
      Part: page.map((n) => {
        const part = upload.parts.get(n) as Part;
        return { PartNumber: n, LastModified: isoDate(part.lastModified), ETag: `"${part.etag}"`, Size: part.data.length };
      }),
    },
  });
}
