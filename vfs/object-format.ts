/**
 * The object format, interoperable with s3fs and rclone: how POSIX attributes,
 * symlinks, directory markers and user xattrs live in plain objects and their
 * user metadata. Pure functions only: no I/O, no state.
 *
 * - mode, uid, gid: decimal strings (s3fs); mode carries the file-type bits.
 *   A mode written in octal with a leading 0 or `0o` (rclone's metadata form) is read too.
 * - mtime, atime, ctime: seconds since the epoch, optionally with a fraction
 *   ("1700000000" from s3fs, "1700000000.123456789" from rclone); written with
 *   nanoseconds, which s3fs reads as whole seconds.
 * - symlink: the object body is the target and the mode has S_IFLNK (s3fs).
 * - directory: an empty `dir/` marker (Content-Type application/x-directory,
 *   as s3fs writes); s3fs's `dir_$folder$` and a `dir` object with that
 *   content type are recognised when reading.
 * - xattr `user.x`: one metadata entry each, `xattr-` + the name with every
 *   byte outside [a-z0-9._-] as %XX (metadata names are case-insensitive);
 *   values that are not plain printable ASCII are stored as `base64:…`.
 */
import type { Metadata } from '../drivers/contract.js';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

export const DIRECTORY_CONTENT_TYPE = 'application/x-directory';
/** s3fs's legacy directory suffix. */
export const FOLDER_SUFFIX = '_$folder$';
const XATTR_PREFIX = 'xattr-';

export type FileKind = 'file' | 'dir' | 'symlink';

export interface PosixAttrs {
  /** Full st_mode including type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  atimeNs: bigint;
  ctimeNs: bigint;
}

export function kindOfMode(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'file';
  }
}

export function typeBits(kind: FileKind): number {
  return kind === 'dir' ? S_IFDIR : kind === 'symlink' ? S_IFLNK : S_IFREG;
}

function parseInteger(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const octal = /^0o?([0-7]+)$/i.exec(v);
  const n = octal ? parseInt(octal[1]!, 8) : /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Parses "sec", "sec.frac" or "-sec.frac" into nanoseconds. */
export function parseTime(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const m = /^(-?)(\d{1,15})(?:\.(\d{1,9})\d*)?$/.exec(value.trim());
  if (!m) return undefined;
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt((m[3] ?? '').padEnd(9, '0') || '0');
  return m[1] === '-' ? -ns : ns;
}

/** Milliseconds (possibly fractional) to nanoseconds, exactly: the whole ms are never scaled in floating point. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

export function formatTime(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

export interface AttrDefaults {
  kind: FileKind;
  uid: number;
  gid: number;
  /** Permission bits for files and directories without a stored mode. */
  fileMode: number;
  dirMode: number;
  /** Used for every time the metadata lacks (the object's Last-Modified). */
  fallbackNs: bigint;
}

/**
 * The POSIX attributes an object's metadata describes, with `defaults` for
 * whatever it lacks. A stored mode whose type contradicts the object's kind
 * (e.g. a directory mode on a plain object) keeps its permission bits only.
 */
export function attrsFromMetadata(metadata: Metadata | undefined, defaults: AttrDefaults): PosixAttrs {
  const m = metadata ?? {};
  const stored = parseInteger(m['mode']);
  const perms = stored === undefined ? (defaults.kind === 'dir' ? defaults.dirMode : defaults.fileMode) : stored & 0o7777;
  let kind = defaults.kind;
  if (stored !== undefined && kindOfMode(stored) === 'symlink' && kind === 'file') kind = 'symlink';
  const mtimeNs = parseTime(m['mtime']) ?? defaults.fallbackNs;
  return {
    mode: typeBits(kind) | perms,
    uid: parseInteger(m['uid']) ?? defaults.uid,
    gid: parseInteger(m['gid']) ?? defaults.gid,
    mtimeNs,
    atimeNs: parseTime(m['atime']) ?? mtimeNs,
    ctimeNs: parseTime(m['ctime']) ?? mtimeNs,
  };
}

/** The metadata entries that store `attrs` (merged over the object's other user metadata by the caller). */
export function metadataFromAttrs(attrs: PosixAttrs): Metadata {
  return {
    mode: String(attrs.mode),
    uid: String(attrs.uid),
    gid: String(attrs.gid),
    mtime: formatTime(attrs.mtimeNs),
    atime: formatTime(attrs.atimeNs),
    ctime: formatTime(attrs.ctimeNs),
  };
}

const XATTR_SAFE = /^[a-z0-9._-]$/;

export function xattrMetadataName(name: string): string {
  let out = XATTR_PREFIX;
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += XATTR_SAFE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function xattrNameFromMetadata(key: string): string | undefined {
  if (!key.startsWith(XATTR_PREFIX)) return undefined;
  const encoded = key.slice(XATTR_PREFIX.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%' && /^[0-9a-fA-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeXattrValue(value: Buffer): string {
  const text = value.toString('latin1');
  const plain = /^[\x20-\x7e]*$/.test(text) && !text.startsWith('base64:') && text.trim() === text;
  return plain ? text : `base64:${value.toString('base64')}`;
}

export function decodeXattrValue(value: string): Buffer {
  return value.startsWith('base64:') ? Buffer.from(value.slice(7), 'base64') : Buffer.from(value, 'latin1');
}

/** The `user.*` xattrs stored in `metadata`. */
export function xattrsFromMetadata(metadata: Metadata | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(metadata ?? {})) {
    const name = xattrNameFromMetadata(key);
    if (name !== undefined) out.set(name, decodeXattrValue(value));
  }
  return out;
}

/** True for an object that stands for a directory rather than a file. */
export function isDirectoryObject(key: string, size: number, contentType: string | undefined): boolean {
  if (key.endsWith('/')) return true;
  if (key.endsWith(FOLDER_SUFFIX)) return size === 0;
  return size === 0 && contentType === DIRECTORY_CONTENT_TYPE;
}
