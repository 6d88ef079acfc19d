/**
 * The one place errors become errno numbers. Storage error kinds map by an
 * exhaustive switch (a new kind does not compile until it is mapped); VFS
 * errors carry their errno name; anything else is EIO and is logged once per
 * distinct message, so a failing backend does not flood the log.
 */
import { constants } from 'node:os';
import { StorageError, type ErrorKind } from '../drivers/errors.js';
import { VfsError, type ErrnoName } from './types.js';

const E = constants.errno;

export const ERRNO: Readonly<Record<ErrnoName, number>> = {
  ENOENT: E.ENOENT,
  EEXIST: E.EEXIST,
  ENOTEMPTY: E.ENOTEMPTY,
  ENOTDIR: E.ENOTDIR,
  EISDIR: E.EISDIR,
  EINVAL: E.EINVAL,
  EACCES: E.EACCES,
  EPERM: E.EPERM,
  EIO: E.EIO,
  ENOSPC: E.ENOSPC,
  ENOTSUP: E.ENOTSUP,
  ENAMETOOLONG: E.ENAMETOOLONG,
  EXDEV: E.EXDEV,
  EBADF: E.EBADF,
  ENODATA: E.ENODATA,
  ERANGE: E.ERANGE,
  E2BIG: E.E2BIG,
  EROFS: E.EROFS,
  ESTALE: E.ESTALE,
  ETIMEDOUT: E.ETIMEDOUT,
  EAGAIN: E.EAGAIN,
  EFBIG: E.EFBIG,
  EMLINK: E.EMLINK,
  ELOOP: E.ELOOP,
  EBUSY: E.EBUSY,
};

/** The errno name for a storage error kind. */
export function errnoForKind(kind: ErrorKind): ErrnoName {
  switch (kind) {
    case 'NotFound':
      return 'ENOENT';
    case 'AlreadyExists':
      return 'EEXIST';
    case 'NotEmpty':
      return 'ENOTEMPTY';
    case 'PreconditionFailed':
      // Another writer changed the object under us: the cached view is stale.
      return 'ESTALE';
    case 'AccessDenied':
      return 'EACCES';
    case 'Unsupported':
      return 'ENOTSUP';
    case 'Transient':
    case 'Other':
      return 'EIO';
    default: {
      const unmapped: never = kind;
      throw new Error(`unmapped storage error kind ${String(unmapped)}`);
    }
  }
}

/**
 * The errno name of any error: VFS, storage, or unknown (EIO). A local error
 * of the cache disk passes through only when it means the same to the caller
 * (a full or read-only cache disk); any other local failure is EIO, since the
 * caller's file is fine and our cache is not.
 */
export function errnoName(error: unknown): ErrnoName {
  if (error instanceof VfsError) return error.errno;
  if (error instanceof StorageError) return errnoForKind(error.kind);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'ENOSPC';
  if (code === 'EROFS') return 'EROFS';
  return 'EIO';
}

/** True when the error is one an application should expect (ENOENT on lookup…): not worth a log line. */
export function isExpected(error: unknown): boolean {
  return error instanceof VfsError || (error instanceof StorageError && error.kind !== 'Other' && error.kind !== 'Transient');
}

/** The positive errno number (fuse-native wants it negated). */
export function errnoNumber(error: unknown): number {
  return ERRNO[errnoName(error)];
}
