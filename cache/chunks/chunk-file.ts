/**
 * The on-disk form of one clean chunk: the chunk's bytes followed by an
 * 8-byte trailer (CRC-32 of the bytes, then their length, both little
 * endian). A chunk file appears only by rename of a complete temp file, but
 * a crash can still leave one torn (renamed before its pages reached the
 * disk): the trailer lets the first read after a restart tell a whole chunk
 * from a torn one without asking the bucket.
 *
 * CRC-32 (zlib.crc32, 1.3 ms per 8 MiB chunk when idle) rather than a
 * cryptographic hash: it guards against torn and truncated files, not
 * against an adversary (MD5 would cost ~10 ms). Chunks in shared memory are
 * written on a thread of their own (file-writer.ts, with trailerOf).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

export const TRAILER_BYTES = 8;

/** Bytes a chunk of `length` bytes occupies on disk. */
export const fileBytes = (length: number): number => length + TRAILER_BYTES;

/**
 * The trailer of `chunk`, with `crc` being zlib.crc32. Self-contained (no
 * reference to anything else in this module): the chunk writer thread runs
 * its source text (file-writer.ts).
 */
export function trailerOf(chunk: Buffer, crc: (data: Buffer) => number): Buffer {
  const trailer = Buffer.alloc(8); // TRAILER_BYTES
  trailer.writeUInt32LE(crc(chunk) >>> 0, 0);
  trailer.writeUInt32LE(chunk.length, 4);
  return trailer;
}

/** A fresh temp name beside `path` (the store deletes leftovers of these when it opens). */
export const chunkTempPath = (path: string): string => `${path}.tmp-${randomBytes(4).toString('hex')}`;

/** Writes `chunk` and its trailer to a temp file, then renames it to `path` (no fsync: a torn file is caught by the trailer). */
export async function writeChunkFile(path: string, chunk: Buffer): Promise<void> {
  const temp = chunkTempPath(path);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writev([chunk, trailerOf(chunk, crc32)]);
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Reads exactly `length` bytes at `position` of the handle into `into[offset…]`; false at a premature end of file. */
export async function readFully(handle: FileHandle, into: Buffer, offset: number, length: number, position: number): Promise<boolean> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, offset + done, length - done, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

/** Reads a whole chunk file and checks its trailer; undefined when it is torn, short, long or fails its checksum. */
export async function readVerified(handle: FileHandle, length: number): Promise<Buffer | undefined> {
  if ((await handle.stat()).size !== fileBytes(length)) return undefined;
  const whole = Buffer.allocUnsafe(fileBytes(length));
  if (!(await readFully(handle, whole, 0, whole.length, 0))) return undefined;
  const chunk = whole.subarray(0, length);
  const crc = whole.readUInt32LE(length);
  const stored = whole.readUInt32LE(length + 4);
  return stored === length && crc === crc32(chunk) >>> 0 ? chunk : undefined;
}
