/**
 * Multipart uploads of the local backend, durable across restarts: each
 * upload is a directory `.bucketfs/uploads/<id>/` holding `manifest.json`
 * (key, start time, metadata) and its parts as `part-NNNNN` files, each with
 * a `part-NNNNN.json` record of its MD5 (checked against the part file's
 * inode, size and mtime; a part without a matching record is re-hashed).
 * Completing concatenates the parts into a temp file and lands it like a
 * put; aborting removes the directory.
 */
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteRange } from '../range.js';
import { resolveRange } from '../range.js';
import { sameEtag } from '../checks.js';
import type { CreateMultipartOptions, Metadata, ObjectRef, PartInfo, PartResult, UploadInfo, WriteResult } from '../contract.js';
import { OtherError, unsupported } from '../errors.js';
import { compareKeys } from '../wire/s3-format.js';
import { commit } from './commit.js';
import type { LocalContext } from './context.js';
import { fsFailure, hasCode, noSuchUpload } from './failures.js';
import { copyFile, copyRange, fsyncDir, md5Hex, md5OfFile, readJson, removeQuietly, writeBody, writeJsonAtomic, writeTemp } from './fsio.js';
import type { TempFile } from './fsio.js';
import type { BucketLayout } from './layout.js';
import { openObject } from './read.js';
import { identity, markerBody } from './sidecar.js';
import { writeFields } from './write.js';

/** Upload ids are 128 random bits in hex: nothing else is ever taken for a directory name. */
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_FILE = /^part-(\d{5})$/;

interface Manifest {
  v: 1;
  key: string;
  initiated: number;
  metadata?: Metadata;
  contentType?: string;
}

interface Upload {
  readonly layout: BucketLayout;
  readonly dir: string;
  readonly manifest: Manifest;
  readonly what: string;
}

export async function createMultipart(
  ctx: LocalContext,
  bucket: string,
  key: string,
  options: CreateMultipartOptions,
): Promise<string> {
  const layout = await ctx.layout(bucket);
  const what = layout.what(key);
  ctx.keyPath(layout, key);
  const fields = writeFields(options, what);
  await layout.ensureInternal();
  const uploadId = randomBytes(16).toString('hex');
  const dir = join(layout.uploadsDir, uploadId);
  await mkdir(dir);
  const manifest: Manifest = { v: 1, key, initiated: Date.now(), metadata: fields.metadata };
  if (fields.contentType !== undefined) manifest.contentType = fields.contentType;
  await writeJsonAtomic(layout.tmpDir, join(dir, 'manifest.json'), manifest);
  await fsyncDir(layout.uploadsDir);
  return uploadId;
}

/** The upload `uploadId` of `key`; NotFound (NoSuchUpload, or NoSuchBucket) otherwise. */
async function loadUpload(ctx: LocalContext, bucket: string, key: string, uploadId: string): Promise<Upload> {
  const layout = await ctx.layout(bucket);
  const what = layout.what(key);
  const upload = await findUpload(layout, uploadId);
  if (upload === undefined || upload.manifest.key !== key) {
    await layout.statBucket();
    throw noSuchUpload(what, uploadId);
  }
  return { ...upload, what };
}

async function findUpload(layout: BucketLayout, uploadId: string): Promise<Omit<Upload, 'what'> | undefined> {
  if (!UPLOAD_ID.test(uploadId) || !(await layout.internalIsReal())) return undefined;
  const dir = join(layout.uploadsDir, uploadId);
  const st = await lstat(dir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) return undefined;
  const manifest = await readJson(join(dir, 'manifest.json'));
  return isManifest(manifest) ? { layout, dir, manifest } : undefined;
}

function checkPartNumber(partNumber: number, maxParts: number, what: string): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > maxParts) {
    throw new OtherError(`part number ${partNumber} must be an integer in 1..${maxParts} (${what})`, { reason: 'InvalidArgument' });
  }
}

function partPath(dir: string, partNumber: number): string {
  return join(dir, `part-${String(partNumber).padStart(5, '0')}`);
}

export async function uploadPart(
  ctx: LocalContext,
  target: { bucket: string; key: string; uploadId: string; partNumber: number; maxParts: number },
  body: Buffer,
): Promise<PartResult> {
  const upload = await loadUpload(ctx, target.bucket, target.key, target.uploadId);
  checkPartNumber(target.partNumber, target.maxParts, upload.what);
  const temp = await writeBody(upload.layout.tmpDir, body, body.length, upload.what);
  await landPart(upload, target.uploadId, target.partNumber, temp);
  return { partNumber: target.partNumber, etag: temp.md5 };
}

export async function uploadPartCopy(
  ctx: LocalContext,
  target: { bucket: string; key: string; uploadId: string; partNumber: number; maxParts: number },
  source: ObjectRef,
  range: ByteRange,
): Promise<PartResult> {
  const upload = await loadUpload(ctx, target.bucket, target.key, target.uploadId);
  checkPartNumber(target.partNumber, target.maxParts, upload.what);
  if (source.versionId !== undefined) throw unsupported('local', 'versioning');
  const opened = await openObject(ctx, source.bucket, source.key);
  const { handle } = opened;
  let temp: TempFile;
  try {
    const size = handle === undefined ? (opened.record?.size ?? 0) : Number(opened.stat.size);
    const { start, end } = resolveRange(range, size, opened.layout.what(source.key));
    temp = await writeTemp(upload.layout.tmpDir, (sink) =>
      handle === undefined ? sink.write(markerBody(opened.record).subarray(start, end)) : copyRange(handle, start, end, sink),
    );
  } finally {
    await handle?.close();
  }
  await landPart(upload, target.uploadId, target.partNumber, temp);
  return { partNumber: target.partNumber, etag: temp.md5 };
}

/** Records the part's MD5, then renames the part into the upload (replacing an earlier one of that number). */
async function landPart(upload: Upload, uploadId: string, partNumber: number, temp: TempFile): Promise<void> {
  const path = partPath(upload.dir, partNumber);
  try {
    await writeJsonAtomic(upload.layout.tmpDir, `${path}.json`, { ...identity(temp.stat), etag: temp.md5 });
    await rename(temp.path, path);
    await fsyncDir(upload.dir);
  } catch (e) {
    await removeQuietly(temp.path);
    // The upload directory vanished: it was aborted or completed meanwhile.
    if (hasCode(e, 'ENOENT')) throw noSuchUpload(upload.what, uploadId, e);
    throw e;
  }
}

/** One part as stored; undefined when there is no such part. */
async function readPart(dir: string, partNumber: number): Promise<PartInfo | undefined> {
  const path = partPath(dir, partNumber);
  let stat: BigIntStats;
  try {
    stat = await lstat(path, { bigint: true });
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return undefined;
    throw e;
  }
  if (!stat.isFile()) return undefined;
  const size = Number(stat.size);
  const record = (await readJson(`${path}.json`)) as Partial<Record<'etag' | 'ino' | 'mtimeNs' | 'size', unknown>> | undefined;
  const id = identity(stat);
  const valid = record?.ino === id.ino && record.mtimeNs === id.mtimeNs && record.size === id.size;
  const etag = valid && typeof record.etag === 'string' ? record.etag : await md5OfFile(path, size);
  return { partNumber, etag, size, lastModified: new Date(Number(stat.mtimeNs / 1_000_000n)) };
}

export async function listParts(ctx: LocalContext, bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
  const upload = await loadUpload(ctx, bucket, key, uploadId);
  const numbers = (await readdir(upload.dir))
    .map((name) => PART_FILE.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const parts = await Promise.all(numbers.map((n) => readPart(upload.dir, n)));
  return parts.filter((p): p is PartInfo => p !== undefined);
}

/**
 * Checks the parts the caller names against those stored, as S3 does: in
 * ascending order, each present with its etag, all but the last at least
 * `minPartSize`. The etag is S3's: MD5 of the parts' binary MD5s, `-N`.
 */
async function checkParts(upload: Upload, parts: PartResult[], minPartSize: number): Promise<PartInfo[]> {
  const bad = (reason: string, detail: string) =>
    new OtherError(`cannot complete the upload of ${upload.what}: ${detail}`, { reason });
  if (parts.length === 0) throw bad('MalformedXML', 'no parts were given');
  const infos: PartInfo[] = [];
  for (const [i, part] of parts.entries()) {
    if (i > 0 && part.partNumber <= (parts[i - 1] as PartResult).partNumber) {
      throw bad('InvalidPartOrder', 'part numbers must be in ascending order');
    }
    const info = await readPart(upload.dir, part.partNumber);
    if (info === undefined || !sameEtag(info.etag, part.etag)) {
      throw bad('InvalidPart', `part ${part.partNumber} with etag ${part.etag} was not uploaded`);
    }
    infos.push(info);
  }
  const small = infos.slice(0, -1).find((p) => p.size < minPartSize);
  if (small !== undefined) {
    throw bad('EntityTooSmall', `part ${small.partNumber} has ${small.size} bytes, under the minimum of ${minPartSize} for all but the last part`);
  }
  return infos;
}

export async function completeMultipart(
  ctx: LocalContext,
  target: { bucket: string; key: string; uploadId: string; minPartSize: number },
  parts: PartResult[],
): Promise<WriteResult> {
  const { bucket, key, uploadId } = target;
  return ctx.withUploadLock(uploadId, async () => {
    const upload = await loadUpload(ctx, bucket, key, uploadId);
    const infos = await checkParts(upload, parts, target.minPartSize);
    const digests = Buffer.concat(infos.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')));
    const etag = `${md5Hex(digests)}-${infos.length}`;
    const temp = await writeTemp(
      upload.layout.tmpDir,
      async (sink) => {
        for (const part of infos) await copyFile(partPath(upload.dir, part.partNumber), part.size, sink);
      },
      false,
    );
    const { metadata, contentType } = upload.manifest;
    await ctx.withKeyLock(bucket, key, () => commit(ctx, upload.layout, key, { temp, etag, metadata, contentType }));
    await rm(upload.dir, { recursive: true, force: true });
    return { etag };
  });
}

/** Removes the upload; an unknown upload (or one of another key) is fine. */
export async function abortMultipart(ctx: LocalContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const layout = await ctx.layout(bucket);
  await layout.statBucket();
  await ctx.withUploadLock(uploadId, async () => {
    const upload = await findUpload(layout, uploadId);
    if (upload === undefined || upload.manifest.key !== key) return;
    await rm(upload.dir, { recursive: true, force: true });
  });
}

export async function listMultipartUploads(ctx: LocalContext, bucket: string, prefix = ''): Promise<UploadInfo[]> {
  const layout = await ctx.layout(bucket);
  await layout.statBucket();
  if (!(await layout.internalIsReal())) return [];
  let ids: string[];
  try {
    ids = (await readdir(layout.uploadsDir)).filter((id) => UPLOAD_ID.test(id));
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return [];
    throw fsFailure(e, layout.what());
  }
  const uploads = await Promise.all(ids.map((id) => findUpload(layout, id)));
  const result: UploadInfo[] = [];
  for (const [i, upload] of uploads.entries()) {
    if (upload === undefined || !upload.manifest.key.startsWith(prefix)) continue;
    result.push({ key: upload.manifest.key, uploadId: ids[i] as string, initiated: new Date(upload.manifest.initiated) });
  }
  return result.sort((a, b) => compareKeys(a.key, b.key) || Number(a.initiated) - Number(b.initiated));
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Manifest>;
  return m.v === 1 && typeof m.key === 'string' && typeof m.initiated === 'number';
}
