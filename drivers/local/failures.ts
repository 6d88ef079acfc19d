/**
 * Translation of file-system failures into the storage error kinds, and the
 * local backend's own refusals. Callers decide ENOENT / EEXIST / ENOTDIR in
 * context first (a missing parent may be NoSuchKey, NoSuchBucket or a key
 * conflict); whatever reaches `fsFailure` is translated by errno alone, and
 * an unknown errno is Other, never NotFound.
 */
import { AccessDeniedError, AlreadyExistsError, NotFoundError, OtherError, TransientError } from '../errors.js';
import type { StorageError } from '../errors.js';

export function errno(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function hasCode(e: unknown, ...codes: string[]): boolean {
  const code = errno(e);
  return code !== undefined && codes.includes(code);
}

/** `what` names the object or directory, e.g. `file:///srv/photos/a.jpg`. */
export function fsFailure(e: unknown, what: string): StorageError {
  const code = errno(e) ?? 'unknown error';
  const message = `${what}: ${code} (${(e as Error | null)?.message ?? String(e)})`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new AccessDeniedError(message, { cause: e, reason: code });
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
    case 'EINTR':
      return new TransientError(message, { cause: e, reason: code });
    case 'ENOSPC':
    case 'EDQUOT':
      return new OtherError(message, { cause: e, reason: 'NoSpace' });
    case 'ENAMETOOLONG':
      return new OtherError(`${message}: the key's path is too long for this file system`, { cause: e, reason: 'InvalidKey' });
    default:
      return new OtherError(message, { cause: e, reason: code });
  }
}

export function noSuchKey(what: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`no such object: ${what}`, { reason: 'NoSuchKey', cause });
}

export function noSuchBucket(what: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`no such bucket: ${what}`, { reason: 'NoSuchBucket', cause });
}

export function noSuchUpload(what: string, uploadId: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`no such multipart upload ${uploadId} for ${what}`, { reason: 'NoSuchUpload', cause });
}

/** A key that needs a directory where a file is, or a file where a directory is. */
export function keyConflict(what: string, detail: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(
    `cannot store ${what}: ${detail}; a local bucket cannot hold a key both as a file and as a directory prefix`,
    { reason: 'KeyConflict', cause },
  );
}

/** Symbolic links are never followed, so a key reaching through one is refused. */
export function symlinkRefused(what: string, path: string): OtherError {
  return new OtherError(`refusing ${what}: ${path} is a symbolic link, and the local backend never follows links`, {
    reason: 'Symlink',
  });
}
