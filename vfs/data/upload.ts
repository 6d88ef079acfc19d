/**
 * Uploading an open file (flush, fsync, last release).
 * - Below the multipart threshold: the staging file is completed with the
 *   bytes still only in the base object (through the chunk store, pinned to
 *   the base's etag) and sent as one PUT.
 * - At or above it: a multipart upload (multipart.ts) where parts streamed
 *   while the file was written are reused, ranges unchanged since the base
 *   are copied server-side (UploadPartCopy), and only parts holding changed
 *   bytes are sent. An append (nothing streamed, the base unchanged up to
 *   where the changes start) is laid out off the part grid: the old bytes
 *   copied in a few parallel parts, only the new bytes sent — a 10-byte
 *   append to a big object sends 10 bytes (planAppend in multipart.ts).
 * Any failure aborts the multipart upload: the bucket keeps the previous
 * object, and flush rejects with EIO. On success the object becomes the
 * file's base; written bytes stay local in the staging file.
 *
 * Runs under the file's mutex (see open-file.ts): writes wait for it.
 */
import pLimit from 'p-limit';
import type { ObjectRef, PartResult } from '../../drivers/contract.js';
import { isStorageError, StorageError } from '../../drivers/errors.js';
import { choosePartSize, copyObject } from '../../drivers/transfer.js';
import type { Span, StagingFile } from '../../cache/staging.js';
import { vfsError, VfsError } from '../types.js';
import { MultipartSession, planAppend, planParts, sameFields, type ObjectFields, type PartState, type PlannedPart } from './multipart.js';
import { isStale, type OpenFile } from './open-file.js';

/** Uploads in one flush at most, when a rename or a metadata change lands during each upload. */
const MAX_ROUNDS = 3;

/** Uploads the file if it is dirty; resolves once the object is in the bucket. */
export function flushFile(file: OpenFile): Promise<void> {
  if (!file.dirty) return Promise.resolve();
  // Async write mode: journal a snapshot and return; it is uploaded in the background (writeback.ts).
  const writeback = file.ctx.writeback;
  if (writeback !== undefined) return file.mutex.run(() => writeback.acknowledge(file));
  return file.mutex.run(() => uploadHeld(file));
}

/**
 * The sync upload of a dirty file, by a caller that holds the file's mutex:
 * flush, or a checkpoint under cache pressure (stream.ts `relieve`).
 */
export async function uploadHeld(file: OpenFile): Promise<void> {
  const { counters, room } = file.ctx;
  file.uploading = true;
  counters.inFlight++;
  try {
    for (let round = 0; file.dirty && round < MAX_ROUNDS; round++) await uploadOnce(file);
    file.lastError = undefined;
  } catch (error) {
    counters.failed++;
    file.lastError = messageOf(error);
    counters.error(file.lastError, file.path);
    throw error;
  } finally {
    file.uploading = false;
    counters.inFlight--;
    if (file.detached) await file.dropSession();
    room.notify();
  }
}

async function uploadOnce(file: OpenFile): Promise<void> {
  const started = Date.now();
  const { key, path, size, version } = file;
  const fields = file.fields();
  const { backend } = file.ctx.target;
  const multipart = backend.capabilities.multipart && size >= file.ctx.tuning.multipartThreshold;
  const etag = multipart ? await uploadParts(file, key, fields) : await uploadWhole(file, key, fields);
  file.ctx.counters.completed++;
  // The object now holds every byte: it becomes the base (written bytes stay local in the staging file).
  file.base = { key, etag, size };
  file.baseLimit = size;
  file.generation++;
  file.uploadedAll();
  if (file.detached || file.key !== key) {
    // Unlinked or renamed while uploading: the object must not stay under the old name.
    await file.ctx.remove(key).catch((error: unknown) => {
      file.ctx.log('warn', 'could not delete an object uploaded under a name its file lost', { key, error: messageOf(error) });
    });
    return;
  }
  const { metadata } = fields;
  file.ctx.hooks.uploaded({ path, key, size, etag, metadata });
  if (file.version === version) file.dirty = false;
  file.ctx.log('debug', 'uploaded', { path, key, size, etag, multipart, ms: Date.now() - started });
}

/** One PUT (or a whole-file multipart on a backend without part copies): the staging file completed, then sent. */
async function uploadWhole(file: OpenFile, key: string, fields: ObjectFields): Promise<string> {
  await file.dropSession();
  const staging = await fillStaging(file);
  try {
    const { etag } = await file.ctx.upload(staging.path, key, {
      metadata: fields.metadata,
      ...(fields.contentType !== undefined && { contentType: fields.contentType }),
    });
    file.ctx.counters.bytesUploaded += file.size;
    return etag;
  } catch (error) {
    throw vfsError('EIO', `${file.path}: upload to ${key} failed: ${messageOf(error)}`, error);
  }
}

/**
 * A multipart upload of the file's current bytes: parts already streamed are
 * reused, unchanged ranges of the base are copied server-side, the rest is
 * sent. Any failure aborts the upload (the bucket keeps the previous object).
 */
async function uploadParts(file: OpenFile, key: string, fields: ObjectFields): Promise<string> {
  const { target, tuning } = file.ctx;
  let session = file.session;
  if (session !== undefined && (!session.fits(key) || session.partSize * target.backend.limits.maxParts < file.size)) {
    const failure = session.failure;
    await file.dropSession();
    if (failure !== undefined) throw uploadFailure(file, key, failure);
    session = undefined;
  }
  try {
    if (session === undefined) {
      const partSize = choosePartSize(target.backend, file.size, tuning.partSize);
      session = file.session = await MultipartSession.start(target, key, partSize, fields);
    }
    await session.settle();
    if (session.failure !== undefined) throw session.failure;
    const { plan, source } = await planUpload(file, session);
    const parts = await runPlan(file, session, plan, source);
    const { etag } = await session.complete(parts);
    file.session = undefined;
    return sameFields(session.fields, fields) ? etag : await replaceMetadata(file, key, etag, fields);
  } catch (error) {
    await file.dropSession();
    throw uploadFailure(file, key, error);
  }
}

/**
 * A multipart upload carries the metadata it was created with; when the
 * file's changed since (every write moves mtime, chmod…), a server-side
 * self-copy stores the newer one. Returns the final etag.
 */
async function replaceMetadata(file: OpenFile, key: string, etag: string, fields: ObjectFields): Promise<string> {
  const { backend, bucket } = file.ctx.target;
  const ref = { bucket, key };
  const copied = await copyObject(backend, ref, ref, {
    metadata: fields.metadata,
    ...(fields.contentType !== undefined && { contentType: fields.contentType }),
    ifMatch: etag,
  });
  return copied.etag;
}

/** Plans the parts; copies only after a HEAD shows the base unchanged (RGW ignores x-amz-copy-source-if-match). */
async function planUpload(file: OpenFile, session: MultipartSession): Promise<{ plan: PlannedPart[]; source: ObjectRef | undefined }> {
  const { target, tuning } = file.ctx;
  const base = file.base;
  const canCopy = target.backend.capabilities.uploadPartCopy && base !== undefined && base.etag !== '' && file.baseLimit > 0;
  const state = (copy: boolean): PartState => ({
    reusable: (block, start, end) => session.reusable(block, file.seqOf(block), end - start) !== undefined,
    copyable: (start, end) => copy && end <= file.baseLimit && !file.changed.intersects(start, end),
  });
  const plan = (canCopy ? appendPlan(file, session) : undefined) ?? planParts(file.size, session.partSize, state(canCopy), tuning.maxCopyPart);
  if (base === undefined || !plan.some((part) => part.kind === 'copy')) return { plan, source: undefined };
  const current = await target.backend.head(target.bucket, base.key).catch((error: unknown) => {
    if (isStorageError(error, 'NotFound')) return undefined;
    throw error;
  });
  if (current?.etag === base.etag) return { plan, source: { bucket: target.bucket, key: base.key } };
  file.ctx.log('warn', 'the object changed in the bucket since it was opened: its unchanged bytes cannot be copied', { path: file.path, key: base.key });
  return { plan: planParts(file.size, session.partSize, state(false), tuning.maxCopyPart), source: undefined };
}

/**
 * The plan of an append (nothing streamed yet, the base's bytes unchanged
 * up to where the changes start, everything changed from there): the
 * unchanged bytes copied, only the new ones sent. Undefined otherwise.
 */
function appendPlan(file: OpenFile, session: MultipartSession): PlannedPart[] | undefined {
  const { target, tuning } = file.ctx;
  if (session.sent.size > 0) return undefined;
  const baseEnd = Math.min(file.baseLimit, file.size);
  const untouched = file.changed.gaps(0, file.size)[0];
  const tail = Math.min(untouched?.start === 0 ? untouched.end : 0, baseEnd);
  const { minPartSize } = target.backend.limits;
  if (tail < minPartSize || tail >= file.size || !file.changed.covers(tail, baseEnd)) return undefined;
  return planAppend(file.size, tail, { partSize: session.partSize, minPartSize, maxCopyPart: tuning.maxCopyPart });
}

/** Runs every part of the plan (sends within the memory budget); throws the first failure once all have settled. */
async function runPlan(file: OpenFile, session: MultipartSession, plan: PlannedPart[], source: ObjectRef | undefined): Promise<PartResult[]> {
  const { tuning, budget, counters } = file.ctx;
  const sends = pLimit(tuning.partConcurrency);
  const copies = pLimit(tuning.copyConcurrency);
  const run = (part: PlannedPart): Promise<PartResult> => {
    const { block, start, end } = part;
    if (part.kind === 'reuse') return Promise.resolve(session.reusable(block, file.seqOf(block), end - start) as PartResult);
    if (part.kind === 'copy') return copies(() => session.copyPart(block, source as ObjectRef, { start, end }));
    return sends(() => budget.withBuffer(end - start, async (body) => {
      await file.readWhole(body, end - start, start); // memory bound: base bytes straight into the part buffer
      await keepLocal(file, body, start);
      const result = await session.sendPart(block, body, part.offGrid === true ? -1 : file.seqOf(block));
      counters.bytesUploaded += body.length;
      return result;
    }));
  };
  const results = await Promise.allSettled(plan.map(run));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<PartResult>).value);
}

/** Keeps an assembled part in the staging file, so reads after the upload need not fetch it again; only caching. */
async function keepLocal(file: OpenFile, body: Buffer, start: number): Promise<void> {
  const staging = file.staging;
  if (staging === undefined || staging.local.covers(start, start + body.length)) return;
  // Cache bound: kept only while the cache disk has room for it (it counts there: OpenFile.recount).
  const { chunks } = file.ctx;
  if (chunks.dirtyBytes + body.length > chunks.maxBytes) return;
  await staging.write(body, start).catch(() => undefined);
  file.recount();
}

function uploadFailure(file: OpenFile, key: string, error: unknown): VfsError {
  if (isStale(error)) {
    return vfsError('EIO', `${file.path}: cannot upload: ${file.key} changed in the bucket since it was opened, and the bytes this file did not rewrite are gone with the old version`, error);
  }
  return vfsError('EIO', `${file.path}: upload to ${key} failed: ${messageOf(error)}`, error);
}

/** Completes the staging file: right length, and every byte of the base it does not hold yet. */
export async function fillStaging(file: OpenFile): Promise<StagingFile> {
  try {
    const staging = await file.ensureStaging();
    await staging.truncate(file.size);
    const base = file.base;
    if (base !== undefined) {
      const pieces = chunkPieces(staging.local.gaps(0, Math.min(file.baseLimit, file.size)), file.ctx.chunks.chunkSize);
      // Memory bound: each piece in a buffer of the data path's budget (reused), not a fresh one per piece.
      // One GET per piece; only its gaps are written (the bytes between them are the file's own).
      await forEachLimited(pieces, file.ctx.fillConcurrency, (piece) => file.ctx.budget.withBuffer(piece.end - piece.start, async (bytes) => {
        await file.ctx.chunks.readDirect(base, piece.start, piece.end, bytes, 0);
        for (const gap of piece.gaps) await staging.write(bytes.subarray(gap.start - piece.start, gap.end - piece.start), gap.start);
      }));
    }
    staging.local.add(0, file.size);
    return staging;
  } catch (error) {
    if (isStale(error)) {
      throw vfsError('EIO', `${file.path}: cannot upload: ${file.key} changed in the bucket since it was opened, and the bytes this file did not rewrite are gone with the old version`, error);
    }
    if (error instanceof StorageError) {
      throw vfsError('EIO', `${file.path}: cannot upload: reading the unchanged bytes of ${file.key} failed: ${error.message}`, error);
    }
    throw error instanceof VfsError ? error : file.localFailure(error, 'prepare the upload');
  }
}

/**
 * Groups spans by chunk: one piece per chunk, from its first span's start
 * to its last span's end, so each piece is one read however many small gaps
 * (a file of scattered random writes) lie in that chunk.
 */
function chunkPieces(spans: Span[], chunkSize: number): (Span & { gaps: Span[] })[] {
  const pieces: (Span & { gaps: Span[] })[] = [];
  for (const span of spans) {
    for (let start = span.start; start < span.end; ) {
      const end = Math.min(span.end, (Math.floor(start / chunkSize) + 1) * chunkSize);
      const last = pieces[pieces.length - 1];
      if (last !== undefined && Math.floor(last.start / chunkSize) === Math.floor(start / chunkSize)) {
        last.end = end;
        last.gaps.push({ start, end });
      } else {
        pieces.push({ start, end, gaps: [{ start, end }] });
      }
      start = end;
    }
  }
  return pieces;
}

/** Runs `task` over `items`, `limit` at a time; stops taking new items after the first failure. */
async function forEachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
