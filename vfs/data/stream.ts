/**
 * The write side while a file is still being written: streamed multipart
 * parts and the dirty-data bound.
 *
 * Streaming: once a file passes the multipart threshold, every block of the
 * part grid that a writer at the end of the file finishes (and that holds no
 * byte of the base object) is sent as a part in the background, a bounded
 * number at a time per file (the writer waits: backpressure) and within the
 * shared memory budget. A block written again after it was sent has a newer
 * change sequence and is sent again at flush (multipart.ts `reusable`).
 *
 * The bound: bytes written and not yet in the bucket (`dirtyBytes`, parts sent
 * count as in the bucket) stay below `cacheBytes`. A writer that would pass it
 * waits for uploads in flight to drop dirty bytes; when nothing is in flight
 * that could, it gets ENOSPC naming the reason rather than waiting forever.
 */
import { choosePartSize } from '../../drivers/transfer.js';
import { vfsError } from '../types.js';
import { MultipartSession } from './multipart.js';
import { uploadHeld } from './upload.js';

export { Signal } from './budget.js';
import type { OpenFile } from './open-file.js';

/**
 * Waits until `bytes` more local bytes fit under the cache bound. Runs under
 * the file's mutex, before a write. Under pressure the writer first relieves
 * the cache of its own file (`relieve`); then it waits for uploads in flight;
 * when nothing could make room, ENOSPC.
 */
export async function waitForRoom(file: OpenFile, bytes: number): Promise<void> {
  const { counters, room, chunks } = file.ctx;
  while (chunks.dirtyBytes > 0 && chunks.dirtyBytes + bytes > chunks.maxBytes) {
    if (await relieve(file)) continue;
    if (counters.inFlight === 0 && counters.partsInFlight === 0) {
      throw vfsError(
        'ENOSPC',
        `${file.path}: the cache holds ${chunks.dirtyBytes} bytes of files being written, the --cache-size bound is ${chunks.maxBytes}: close or fsync files to upload them`,
      );
    }
    await room.wait();
  }
}

/**
 * Sync mode, under the file's mutex: makes room on the cache disk from the
 * file's own staging file, when it holds a fair share of the bound (at least
 * a part, or a quarter of the bound). A dirty file is first uploaded as a
 * checkpoint (flush without close: the object then holds every byte written
 * so far, its parts already streamed are reused); then, clean, its staging
 * file goes and later reads and writes work on that object like on any
 * object opened (writes stage again; the next upload copies the unchanged
 * ranges server-side). So a file larger than the cache can be written.
 * Returns whether anything was freed.
 */
async function relieve(file: OpenFile): Promise<boolean> {
  const { ctx } = file;
  const share = Math.min(ctx.tuning.partSize, Math.floor(ctx.chunks.maxBytes / 4));
  if (ctx.writeback !== undefined || file.detached || file.stagedBytes < Math.max(1, share)) return false;
  const before = file.stagedBytes;
  if (file.dirty) {
    ctx.log('info', 'cache bound reached: uploading a file being written as a checkpoint', { path: file.path, size: file.size, staged: before });
    ctx.counters.checkpoints++;
    await uploadHeld(file);
  }
  await file.dropStaging();
  return file.stagedBytes < before;
}

/** After a write of [start, end): sends the blocks it finished, when the file streams. */
export async function streamParts(file: OpenFile, start: number, end: number): Promise<void> {
  const { ctx } = file;
  const backend = ctx.target.backend;
  if (end !== file.size || file.detached || file.noStream || file.size < ctx.tuning.multipartThreshold || !backend.capabilities.multipart) return;
  // Async write mode: acknowledged snapshots are uploaded whole in the background (writeback.ts), nothing streams.
  if (ctx.writeback !== undefined) return;
  let session = file.session;
  if (session !== undefined && !session.fits(file.key)) return; // renamed: flush starts over
  // The session starts with the first block worth sending (an append to a big object never has one: flush copies).
  const size = session?.partSize ?? ctx.tuning.partSize;
  for (let block = session === undefined ? 0 : Math.floor(start / size); (block + 1) * size <= end; block++) {
    if (session?.reusable(block, file.seqOf(block), size) !== undefined || !written(file, block * size, (block + 1) * size)) continue;
    session ??= await startSession(file);
    if (session === undefined) return;
    await session.room(ctx.tuning.partConcurrency);
    if (session.failure !== undefined || file.session !== session) return;
    sendInBackground(file, session, block);
  }
}

/** True when the staging file holds all of [start, end): no byte from the base, no hole (a hole is not worth sending yet). */
function written(file: OpenFile, start: number, end: number): boolean {
  return file.staging?.local.covers(start, end) ?? false;
}

async function startSession(file: OpenFile): Promise<MultipartSession | undefined> {
  const { ctx } = file;
  // tuning.partSize is at least the backend's minimum, so this is the grid the file's blocks were counted on.
  const partSize = choosePartSize(ctx.target.backend, undefined, ctx.tuning.partSize);
  try {
    const session = await MultipartSession.start(ctx.target, file.key, partSize, file.fields());
    if (file.session !== undefined || file.detached) {
      void session.abort().catch(() => undefined);
      return undefined;
    }
    file.session = session;
    return session;
  } catch (error) {
    // Not fatal: the flush uploads the file and reports its own errors; no new try before it.
    file.noStream = true;
    ctx.log('warn', 'could not start a streamed upload', { path: file.path, error: String(error) });
    return undefined;
  }
}

function sendInBackground(file: OpenFile, session: MultipartSession, block: number): void {
  const { ctx } = file;
  const size = session.partSize;
  const seq = file.seqOf(block);
  ctx.counters.partsInFlight++;
  session.background(async () => {
    try {
      await ctx.budget.withBuffer(size, async (body) => {
        // Not under the file's mutex: a write landing meanwhile has a newer sequence, so this part is not reused.
        if ((await file.read(body, size, block * size)) !== size) return;
        await session.sendPart(block, body, seq);
        ctx.counters.bytesUploaded += size;
      });
    } finally {
      ctx.counters.partsInFlight--;
      file.recount();
      ctx.room.notify();
    }
  });
}
