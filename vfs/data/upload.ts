/**
 * Uploading an open file (flush, fsync, last release): the staging file is
 * first completed with the bytes still only in the base object (through the
 * chunk store, pinned to the base's etag), so it holds the whole new content;
 * then it is uploaded as one object (one PUT below the multipart threshold,
 * parallel multipart above: drivers/transfer.ts, which aborts a failed
 * multipart upload, so the bucket keeps the previous object). On success the
 * staging file stays as the clean local copy and becomes the file's base.
 *
 * Runs under the file's mutex (see open-file.ts): writes wait for it.
 */
import { StorageError } from '../../drivers/errors.js';
import type { Span, StagingFile } from '../../cache/staging.js';
import { vfsError, VfsError } from '../types.js';
import { isStale, type OpenFile } from './open-file.js';

/** Uploads in one flush at most, when a rename or a metadata change lands during each upload. */
const MAX_ROUNDS = 3;

/** Uploads the file if it is dirty; resolves once the object is in the bucket. */
export function flushFile(file: OpenFile): Promise<void> {
  if (!file.dirty) return Promise.resolve();
  return file.mutex.run(async () => {
    for (let round = 0; file.dirty && round < MAX_ROUNDS; round++) await uploadOnce(file);
  });
}

async function uploadOnce(file: OpenFile): Promise<void> {
  const started = Date.now();
  const staging = await fillStaging(file);
  const { key, path, size, version } = file;
  const metadata = { ...file.metadata };
  let etag: string;
  try {
    ({ etag } = await file.ctx.upload(staging.path, key, {
      metadata,
      ...(file.contentType !== undefined && { contentType: file.contentType }),
    }));
  } catch (error) {
    throw vfsError('EIO', `${path}: upload to ${key} failed: ${messageOf(error)}`, error);
  }
  // The staging file now is the object: it becomes the base (all of it local).
  file.base = { key: file.key, etag, size };
  file.baseLimit = size;
  file.generation++;
  if (file.detached || file.key !== key) {
    // Unlinked or renamed while uploading: the object must not stay under the old name.
    await file.ctx.remove(key).catch((error: unknown) => {
      file.ctx.log('warn', 'could not delete an object uploaded under a name its file lost', { key, error: messageOf(error) });
    });
    return;
  }
  file.ctx.hooks.uploaded({ path, key, size, etag, metadata });
  if (file.version === version) file.dirty = false;
  file.ctx.log('debug', 'uploaded', { path, key, size, etag, ms: Date.now() - started });
}

/** Completes the staging file: right length, and every byte of the base it does not hold yet. */
async function fillStaging(file: OpenFile): Promise<StagingFile> {
  try {
    const staging = await file.ensureStaging();
    await staging.truncate(file.size);
    const base = file.base;
    if (base !== undefined) {
      const pieces = chunkPieces(staging.local.gaps(0, Math.min(file.baseLimit, file.size)), file.ctx.chunks.chunkSize);
      await forEachLimited(pieces, file.ctx.fillConcurrency, async (piece) => {
        const bytes = Buffer.allocUnsafe(piece.end - piece.start);
        await file.ctx.chunks.read(base, piece.start, piece.end, bytes, 0);
        await staging.write(bytes, piece.start);
      });
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

/** Splits spans at chunk boundaries, so each piece is one chunk-store read. */
function chunkPieces(spans: Span[], chunkSize: number): Span[] {
  const pieces: Span[] = [];
  for (const span of spans) {
    for (let start = span.start; start < span.end; ) {
      const end = Math.min(span.end, (Math.floor(start / chunkSize) + 1) * chunkSize);
      pieces.push({ start, end });
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
