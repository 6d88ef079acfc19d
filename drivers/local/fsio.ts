/**
 * Crash-safe file writing for the local backend: every object, part and
 * sidecar is written to a fresh temp file (O_EXCL, never following links),
 * fsynced, and only then renamed into place, so a reader or a crash sees the
 * old file or the new one, never a torn one. Owns only byte moving; where a
 * file goes and what it means is decided by the callers.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { constants } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Body } from '../contract.js';
import { OtherError } from '../errors.js';
import { hasCode } from './failures.js';

/** Copy buffer: big enough to amortize syscalls, small enough to be irrelevant in memory. */
const COPY_CHUNK = 1024 * 1024;

const CREATE_FLAGS = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW;
/** O_NONBLOCK: opening a FIFO dropped into a bucket must not hang the reader; regular files ignore it. */
export const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** A temp file that is complete and durable, ready to be renamed into place. */
export interface TempFile {
  readonly path: string;
  /** Hex MD5 of the content (empty when the writer did not hash). */
  readonly md5: string;
  /** Stat after fsync; rename keeps inode, size and mtime, which sidecars record. */
  readonly stat: BigIntStats;
}

/** Where bytes go: it is done with a chunk when `write` resolves. */
export interface Sink {
  write(chunk: Buffer): Promise<void>;
}

/**
 * Creates a temp file in `tmpDir`, lets `fill` write it, fsyncs it and
 * returns it; on any failure the temp file is removed and the error rethrown.
 */
export async function writeTemp(tmpDir: string, fill: (sink: Sink) => Promise<void>, hash = true): Promise<TempFile> {
  const path = join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  const fh = await open(path, CREATE_FLAGS, 0o666);
  const md5: Hash | undefined = hash ? createHash('md5') : undefined;
  try {
    await fill({
      write: async (chunk) => {
        md5?.update(chunk);
        await writeAll(fh, chunk);
      },
    });
    await fh.sync();
    const stat = await fh.stat({ bigint: true });
    await fh.close();
    return { path, md5: md5 ? md5.digest('hex') : '', stat };
  } catch (e) {
    await fh.close().catch(() => undefined);
    await removeQuietly(path);
    throw e;
  }
}

export async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** Writes a put body: a Buffer, or a stream that must yield exactly `size` bytes. */
export async function writeBody(tmpDir: string, body: Body, size: number | undefined, what: string): Promise<TempFile> {
  return writeTemp(tmpDir, async (sink) => {
    if (Buffer.isBuffer(body)) {
      await sink.write(body);
      return;
    }
    let received = 0;
    for await (const chunk of body as Readable) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      received += bytes.length;
      await sink.write(bytes);
    }
    if (received !== size) {
      throw new OtherError(`body of ${what} had ${received} bytes, but its size was given as ${String(size)}`, {
        reason: 'IncompleteBody',
      });
    }
  });
}

/** Copies [start, end) of an open file into `sink`. */
export async function copyRange(source: FileHandle, start: number, end: number, sink: Sink): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(end - start, 1)));
  let position = start;
  while (position < end) {
    const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, end - position), position);
    if (bytesRead === 0) {
      throw new OtherError(`file shrank while being copied (expected ${end} bytes, ended at ${position})`, {
        reason: 'ConcurrentModification',
      });
    }
    // The sink has finished with the chunk when its write resolves, so the buffer is reused.
    await sink.write(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** Copies the whole of `path` (opened without following links) into `sink`. */
export async function copyFile(path: string, size: number, sink: Sink): Promise<void> {
  const fh = await open(path, READ_FLAGS);
  try {
    await copyRange(fh, 0, size, sink);
  } finally {
    await fh.close();
  }
}

/** Writes `value` as JSON to `dest` through a temp file in `tmpDir` (temp + fsync + rename). */
export async function writeJsonAtomic(tmpDir: string, dest: string, value: unknown): Promise<void> {
  const temp = await writeTemp(tmpDir, (sink) => sink.write(Buffer.from(JSON.stringify(value))), false);
  try {
    await rename(temp.path, dest);
  } catch (e) {
    await removeQuietly(temp.path);
    throw e;
  }
}

/** Reads and parses a small JSON file without following links; undefined when missing or unreadable. */
export async function readJson(path: string): Promise<unknown> {
  let fh: FileHandle;
  try {
    fh = await open(path, READ_FLAGS);
  } catch (e) {
    if (hasCode(e, 'ENOENT', 'ENOTDIR', 'ELOOP')) return undefined;
    throw e;
  }
  try {
    return JSON.parse(await fh.readFile('utf8')) as unknown;
  } catch (e) {
    // A torn or foreign file is treated as absent: every reader validates what it gets anyway.
    if (e instanceof SyntaxError) return undefined;
    throw e;
  } finally {
    await fh.close();
  }
}

/** Makes a rename in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** MD5 of no bytes: the etag of every empty object and directory marker. */
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Hex MD5 of the first `size` bytes of the file at `path`, streamed. */
export async function md5OfFile(path: string, size: number): Promise<string> {
  const hash = createHash('md5');
  await copyFile(path, size, { write: async (chunk) => void hash.update(chunk) });
  return hash.digest('hex');
}

/** An empty body stream. */
export function emptyBody(): Readable {
  return Readable.from([]);
}
