/**
 * Staging files: the local, sparse copy of a file being written, in
 * `<cacheDir>/staging/<id>`. A staging file holds the bytes written through
 * the mount (and, before an upload, the bytes filled in from the object it
 * was opened on); `local` says which offsets it holds. Offsets it does not
 * hold are either still in the object (the data path reads them through the
 * chunk store) or holes, which read as zeros.
 *
 * This module does file I/O only: it knows nothing of objects, uploads or
 * handles. It never deletes a staging file it did not create, except at
 * `StagingArea.open()`, where leftovers of an earlier run are removed (never
 * acknowledged to anyone), except those the write-back journal names.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RangeSet } from './staging/range-set.js';

export { RangeSet, type Span } from './staging/range-set.js';

export class StagingArea {
  readonly dir: string;
  private sequence = 0;
  /** A per-run prefix, so ids never repeat even if a leftover survived. */
  private readonly run = randomBytes(4).toString('hex');

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'staging');
  }

  /**
   * Creates the directory and removes leftovers of an earlier run, except
   * the files in `keep` (snapshots the async write mode's journal still owes
   * the bucket); returns the names removed.
   */
  async open(keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const leftovers = (await readdir(this.dir)).filter((name) => !keep.has(name));
    await Promise.all(leftovers.map((name) => rm(join(this.dir, name), { force: true, recursive: true })));
    return leftovers;
  }

  /** A new, empty staging file. */
  async create(): Promise<StagingFile> {
    const path = join(this.dir, `${this.run}-${++this.sequence}`);
    const handle = await open(path, 'wx+', 0o600);
    return new StagingFile(path, handle);
  }
}

export class StagingFile {
  /** Offsets this file holds (written, or filled from the object). */
  readonly local = new RangeSet();
  private closed = false;

  constructor(readonly path: string, private readonly handle: FileHandle) {}

  /** Writes all of `data` at `position`; a failure (ENOSPC…) throws with nothing recorded as local. */
  async write(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    this.local.add(position, position + data.length);
  }

  /**
   * Reads `length` bytes at `position` into `into[offset…]`. Bytes past the
   * end of the file on disk are zeros (a sparse file's holes already are).
   */
  async read(into: Buffer, offset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(into, offset + done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < length) into.fill(0, offset + done, offset + length);
  }

  /** Sets the on-disk length (growing leaves a hole: zeros); offsets past it stop being local. */
  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
    this.local.truncate(size);
  }

  /** Closes and deletes the file; idempotent. */
  async remove(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.path, { force: true });
  }
}
