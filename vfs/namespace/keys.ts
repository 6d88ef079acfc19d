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
  // A UTF-16 unit is at most 3 UTF-8 bytes: short names need no encoding (a listing checks thousands).
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) return `segment longer than ${NAME_MAX} bytes`;
  return undefined;
}

/** The directory name an s3fs legacy folder object (`name_$folder$`, empty) stands for; undefined for any other object name. */
export function legacyFolderName(name: string, size: number): string | undefined {
  return size === 0 && name.endsWith(FOLDER_SUFFIX) ? name.slice(0, -FOLDER_SUFFIX.length) : undefined;
}

/** How a mount of a prefix shows one object key: as a path (file or directory), or not at all, and why. */
export type KeyVerdict =
  | { shown: true; path: string; kind: 'file' | 'dir' }
  | { shown: false; reason: string };

/**
 * Whether the object `key` (of `size` bytes, when known) can be shown by a
 * mount of `prefix`, and as what: the rules listings apply, key by key
 * (for `bucketfs check`). A key ending in '/' is a directory marker, an
 * empty `name_$folder$` is s3fs's legacy one; a key with a path segment no
 * file name can hold (`a//b`, `.`, `..`, NUL, over 255 bytes) is not shown.
 * One key alone cannot tell the last rule listings apply: an object `a`
 * beside keys under `a/` is hidden by the directory `a`.
 */
export function classifyKey(key: string, prefix: string, size?: number): KeyVerdict {
  if (!key.startsWith(prefix)) return { shown: false, reason: `outside the mounted prefix ${JSON.stringify(prefix)}` };
  const rest = key.slice(prefix.length);
  if (rest === '') return { shown: true, path: ROOT, kind: 'dir' };
  const segments = rest.split('/');
  let kind: 'file' | 'dir' = 'file';
  if (segments.length > 1 && segments[segments.length - 1] === '') {
    segments.pop();
    kind = 'dir';
  } else {
    const folder = legacyFolderName(segments[segments.length - 1]!, size ?? -1);
    if (folder !== undefined) {
      segments[segments.length - 1] = folder;
      kind = 'dir';
    }
  }
  for (const segment of segments) {
    const reason = invalidNameReason(segment);
    if (reason !== undefined) return { shown: false, reason };
  }
  return { shown: true, path: `/${segments.join('/')}`, kind };
}
