/**
 * The in-memory backend's side of S3's request checks (the rules themselves
 * are in drivers/checks.ts): keys named in its messages, the exact length of
 * a streamed body, and reads of archived objects that were not restored.
 */
import type { Readable } from 'node:stream';
import type { Body } from '../contract.js';
import { keyProblem } from '../checks.js';
import { isStorageError, OtherError } from '../errors.js';
import { ARCHIVED_CLASSES, type Entry } from './store.js';

/** `memory://bucket/key`, shortened when the key is long, for error messages. */
export function where(bucket: string, key?: string): string {
  if (key === undefined) return `memory://${bucket}`;
  const shown = key.length > 200 ? `${key.slice(0, 200)}…` : key;
  return `memory://${bucket}/${shown}`;
}

export function checkKey(bucket: string, key: string, maxKeyBytes: number): void {
  const why = keyProblem(key, maxKeyBytes);
  if (why !== undefined) throw new OtherError(`invalid key ${where(bucket, key)}: ${why}`, { reason: 'InvalidKey' });
}

/**
 * A copy of the body's bytes. A stream needs its exact `size` up front, as an
 * HTTP PUT needs Content-Length; a body of another length fails like S3's
 * IncompleteBody instead of storing a truncated object.
 */
export async function readBody(body: Body, size: number | undefined, what: string): Promise<Buffer> {
  if (Buffer.isBuffer(body)) {
    if (size !== undefined && size !== body.length) throw lengthMismatch(body.length, size, what);
    return Buffer.from(body);
  }
  if (size === undefined) {
    throw new OtherError(`a stream body needs options.size (${what})`, { reason: 'MissingContentLength' });
  }
  const data = await collect(body, what);
  if (data.length !== size) throw lengthMismatch(data.length, size, what);
  return data;
}

async function collect(stream: Readable, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  } catch (cause) {
    if (isStorageError(cause)) throw cause;
    throw new OtherError(`reading the body to upload failed (${what})`, { cause, reason: 'BodyStreamFailed' });
  }
  return Buffer.concat(chunks);
}

function lengthMismatch(actual: number, declared: number, what: string): OtherError {
  return new OtherError(`the body holds ${actual} bytes but its size was given as ${declared} (${what})`, {
    reason: 'IncompleteBody',
  });
}

/** Archived objects (GLACIER, DEEP_ARCHIVE) can be read only while a restore holds. */
export function checkReadable(entry: Entry, what: string): void {
  if (!ARCHIVED_CLASSES.has(entry.storageClass)) return;
  if (entry.restoredUntil !== undefined && entry.restoredUntil > new Date()) return;
  throw new OtherError(`the object is archived (${entry.storageClass}) and must be restored before it is read: ${what}`, {
    reason: 'InvalidObjectState',
  });
}
