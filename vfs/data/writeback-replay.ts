/**
 * Replay of the write-back journal when a mount starts, before it serves:
 * multipart uploads a crash cut off are aborted — the ones the journal
 * recorded, and any other under a key the journal owes (a crash between the
 * server creating an upload and its id reaching the journal leaves one no
 * record names) — and every upload still owed
 * becomes a dirty file again — in the data path's file table (refs 0), with
 * its snapshot as its staging file, so reads see the acknowledged bytes and
 * never the bucket's older version — and goes back to the upload queue.
 *
 * Rows superseded by a newer row of the same file (the same path, or a newer
 * row that lists the older row's key as obsolete: a rename) are dropped: only
 * the newest acknowledged version of a file is uploaded.
 */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStorageError } from '../../drivers/errors.js';
import { StagingFile } from '../../cache/staging.js';
import type { UploadRow } from '../../cache/writeback/journal.js';
import { OpenFile, type FileContext } from './open-file.js';
import type { Writeback } from './writeback.js';
import { messageOf } from './writeback-policy.js';

export interface ReplayOptions {
  writeback: Writeback;
  ctx: FileContext;
  /** Puts a replayed file into the data path's table. */
  register: (file: OpenFile) => void;
  abortMultipart: (key: string, uploadId: string) => Promise<void>;
  /** Multipart uploads in progress under a key prefix. */
  listMultipart: (prefix: string) => Promise<{ key: string; uploadId: string }[]>;
}

/** Replays the journal; returns the number of files whose uploads resume. */
export async function replayJournal(options: ReplayOptions): Promise<number> {
  const { writeback, ctx } = options;
  await abortLeftovers(options);
  const rows = writeback.journal.all();
  let resumed = 0;
  for (const row of rows) {
    if (isSuperseded(row, rows)) {
      writeback.journal.remove(row.id);
      continue;
    }
    const path = join(writeback.options.staging.dir, row.staging);
    // A small snapshot lives in its row: its file is rewritten from there.
    const content = row.inline ? writeback.journal.content(row.id) : undefined;
    if (content !== undefined) await writeFile(path, content, { mode: 0o600 });
    const staging = await openSnapshot(path, row.size);
    if (staging === undefined) {
      ctx.log('error', 'an acknowledged write cannot be uploaded: its snapshot file is gone from the cache directory', {
        path: row.path, key: row.key, staging: row.staging,
      });
      writeback.journal.remove(row.id);
      continue;
    }
    const file = new OpenFile(ctx, { path: row.path, key: row.key, exists: false, size: 0, etag: undefined, metadata: row.metadata, ...(row.contentType !== undefined && { contentType: row.contentType }) }, true);
    file.staging = staging;
    file.size = row.size;
    // Its bytes count as dirty (the cache bound) until uploaded.
    file.changed.add(0, row.size);
    file.recount();
    options.register(file);
    writeback.adopt(file, row, staging);
    ctx.hooks.pending?.({ path: row.path, key: row.key, size: row.size, metadata: row.metadata, contentType: row.contentType });
    resumed++;
  }
  if (resumed > 0) ctx.log('info', 'resuming uploads acknowledged before the last stop', { files: resumed });
  writeback.pump();
  return resumed;
}

function isSuperseded(row: UploadRow, rows: UploadRow[]): boolean {
  return rows.some((other) => other.id > row.id && (other.path === row.path || other.obsoleteKeys.includes(row.key)));
}

/** Opens a snapshot file; undefined when it is missing or shorter than the journal says (never acknowledged bytes). */
async function openSnapshot(path: string, size: number): Promise<StagingFile | undefined> {
  try {
    const handle = await open(path, 'r+');
    if ((await handle.stat()).size < size) {
      await handle.close();
      return undefined;
    }
    await handle.truncate(size);
    const staging = new StagingFile(path, handle);
    staging.local.add(0, size);
    return staging;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Aborts the multipart uploads a crash cut off; one that cannot be aborted now is tried again at the next start. */
async function abortLeftovers(options: ReplayOptions): Promise<void> {
  const { journal } = options.writeback;
  const leftovers = new Map(journal.multiparts().map((u) => [`${u.key}\n${u.uploadId}`, u]));
  const owed = new Set(journal.all().flatMap((row) => [row.key, ...row.obsoleteKeys]));
  for (const key of owed) {
    try {
      for (const u of await options.listMultipart(key)) if (u.key === key) leftovers.set(`${u.key}\n${u.uploadId}`, u);
    } catch (error) {
      options.ctx.log('warn', 'could not list multipart uploads left by the last run', { key, error: messageOf(error) });
    }
  }
  for (const { key, uploadId } of leftovers.values()) {
    try {
      await options.abortMultipart(key, uploadId);
    } catch (error) {
      if (!isStorageError(error, 'NotFound')) {
        options.ctx.log('warn', 'could not abort a multipart upload left by the last run; trying again at the next start', {
          key, uploadId, error: messageOf(error),
        });
        continue;
      }
    }
    journal.removeMultipart(key, uploadId);
    options.ctx.log('info', 'aborted a multipart upload left by the last run', { key, uploadId });
  }
}
