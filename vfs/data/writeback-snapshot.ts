/**
 * The files behind the async write mode's snapshots: saving one for an
 * acknowledgement (a small one is read into its journal row; a larger one is
 * fsynced, file and directory, before its row is committed) and the
 * copy-on-write copy a writer gets when it changes a file whose snapshot is
 * still owed to the bucket (a reflink where the file system has them).
 */
import { constants } from 'node:fs';
import { copyFile, open } from 'node:fs/promises';
import type { StagingArea, StagingFile } from '../../cache/staging.js';
import type { OpenFile } from './open-file.js';

/** Snapshots up to this size are stored in their journal row: one fsync (the commit) per acknowledgement instead of three. */
export const INLINE_SNAPSHOT_BYTES = 64 * 1024;

/**
 * Makes the complete staging file of `file` durable for its journal row:
 * returns its bytes when they go into the row, or fsyncs it (and the staging
 * directory, for its name) and returns undefined.
 */
export async function saveSnapshot(file: OpenFile, staging: StagingFile, stagingDir: string): Promise<Buffer | undefined> {
  try {
    if (file.size <= INLINE_SNAPSHOT_BYTES) {
      const content = Buffer.alloc(file.size);
      await staging.read(content, 0, file.size, 0);
      return content;
    }
    await fsyncPath(staging.path);
    await fsyncPath(stagingDir);
    return undefined;
  } catch (error) {
    throw file.localFailure(error, 'save the file for upload');
  }
}

/** A new staging file with the bytes of `snapshot` (complete up to `size`). */
export async function copySnapshot(snapshot: StagingFile, area: StagingArea, size: number): Promise<StagingFile> {
  const copy = await area.create();
  try {
    await copyFile(snapshot.path, copy.path, constants.COPYFILE_FICLONE);
  } catch (error) {
    await copy.remove();
    throw error;
  }
  copy.local.add(0, size);
  return copy;
}

/** Keys earlier rows of a file went to that its current key replaces (a rename): deleted once the new row lands. */
export function obsoleteKeys(rows: { key: string; obsoleteKeys: string[] }[], key: string): string[] {
  const keys = new Set(rows.flatMap((row) => [...row.obsoleteKeys, row.key]));
  keys.delete(key);
  return [...keys];
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
