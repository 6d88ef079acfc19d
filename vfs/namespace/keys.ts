/**
 * Mount paths ↔ object keys, and which listing names can be file names.
 * The file `/a/b` is the object `<prefix>a/b`; the directory `/a` is the
 * prefix (and marker key) `<prefix>a/`; the root is `<prefix>` itself.
 * Pure: no I/O.
 */
import { FOLDER_SUFFIX } from '../object-format.js';
import { vfsError } from '../types.js';
import { ROOT } from '../../cache/metadata/paths.js';

/** Linux NAME_MAX, in bytes. */
export const NAME_MAX = 255;
/** S3's longest key, in bytes. */
export const MAX_KEY_BYTES = 1024;

export class KeyMap {
  constructor(readonly prefix: string) {}

  /** The object key of the file (or symlink) at `path`. */
  fileKey(path: string): string {
    return this.prefix + path.slice(1);
  }

  /** The key prefix of the directory at `path` (its marker's key), ending in '/' except for an empty root prefix. */
  dirKey(path: string): string {
    return path === ROOT ? this.prefix : `${this.prefix}${path.slice(1)}/`;
  }

  /** s3fs's legacy marker for the directory at `path`. */
  folderKey(path: string): string {
    return `${this.prefix}${path.slice(1)}${FOLDER_SUFFIX}`;
  }

  /** Refuses a path this mount could not store as a file (or, with `asDirectory`, a directory marker): ENAMETOOLONG. */
  checkStorable(path: string, asDirectory = false): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (Buffer.byteLength(name) > NAME_MAX) throw vfsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes: ${path}`);
    if (Buffer.byteLength(asDirectory ? this.dirKey(path) : this.fileKey(path)) > MAX_KEY_BYTES) {
      throw vfsError('ENAMETOOLONG', `object key longer than ${MAX_KEY_BYTES} bytes: ${path}`);
    }
  }
}

/**
 * True when a listing name can be shown as a file name: not empty (from
 * `a//b`), not '.' or '..', no NUL, at most NAME_MAX bytes. Every other
 * byte (control characters included) is valid in a Linux file name.
 */
export function isValidName(name: string): boolean {
  return invalidNameReason(name) === undefined;
}

/** Why a listing name cannot be shown (for the warning), or undefined when it can. */
export function invalidNameReason(name: string): string | undefined {
  if (name === '') return 'empty path segment (a // in the key)';
  if (name === '.' || name === '..') return `'${name}' path segment`;
  if (name.includes('\0')) return 'NUL byte in the name';
  if (Buffer.byteLength(name) > NAME_MAX) return `segment longer than ${NAME_MAX} bytes`;
  return undefined;
}
