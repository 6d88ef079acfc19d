/**
 * Key ↔ file-name mapping of the local backend, and the one rule that keeps
 * every file operation inside its bucket: a key is never used as a path. It
 * is split on '/', and each segment becomes exactly one file name that is
 * never '', '.' or '..', never holds '/' or NUL and never exceeds NAME_MAX.
 * Segments that cannot be file names as they are get a reversible escaped
 * name. Pure: no I/O here (the names index of hashed segments is in layout.ts).
 */
import { createHash } from 'node:crypto';
import { keyProblem } from '../checks.js';
import { OtherError } from '../errors.js';
import { printable } from '../names.js';

/** The per-bucket directory of internal state; never listed, never a key. */
export const INTERNAL_DIR = '.bucketfs';
/** Every escaped name starts with this, so a literal segment starting with it is escaped too (the mapping stays one-to-one). */
const RESERVED = '.bfs~';
/** `.bfs~e~<base64url of the segment>`: reversible from the name alone. */
const ESCAPED = `${RESERVED}e~`;
/** `.bfs~h~<sha256 hex>`: for segments too long for a name; the segment itself is kept in the names index. */
const HASHED = `${RESERVED}h~`;
/** Linux NAME_MAX: the longest file name, in bytes. */
export const NAME_MAX = 255;

export type DecodedName =
  | { kind: 'segment'; segment: string }
  | { kind: 'hashed'; hash: string }
  | { kind: 'foreign' };

/** Where a key lives: the directory names leading to it and its own name. */
export interface KeyPath {
  /** The key's segments, as given (the marker form has no leaf). */
  readonly dirSegments: readonly string[];
  /** Encoded file names of `dirSegments`. */
  readonly dirNames: readonly string[];
  /** A key ending in '/' is a directory marker: the directory itself. */
  readonly marker: boolean;
  /** Encoded file name of the last segment (files only). */
  readonly leafName: string | undefined;
  /** Segments too long for a file name, which need a names-index entry before they are created. */
  readonly longSegments: readonly string[];
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The file name of one key segment (see the module comment). */
export function encodeSegment(segment: string): string {
  if (isPlainName(segment)) return segment;
  const escaped = ESCAPED + Buffer.from(segment, 'utf8').toString('base64url');
  if (Buffer.byteLength(escaped) <= NAME_MAX) return escaped;
  return HASHED + sha256Hex(segment);
}

function isPlainName(segment: string): boolean {
  return (
    segment !== '' &&
    segment !== '.' &&
    segment !== '..' &&
    !segment.includes('\0') &&
    !segment.startsWith(RESERVED) &&
    Buffer.byteLength(segment) <= NAME_MAX
  );
}

/** True when `encodeSegment` stores this segment under a hashed name. */
export function isHashedName(name: string): boolean {
  return name.startsWith(HASHED);
}

/**
 * Reverses `encodeSegment` for a name found on disk. Reserved names that are
 * not exactly what the encoder produces are 'foreign' (left alone by listings),
 * so no two names ever decode to one segment.
 */
export function decodeName(name: string): DecodedName {
  if (!name.startsWith(RESERVED)) return { kind: 'segment', segment: name };
  if (name.startsWith(HASHED)) {
    const hash = name.slice(HASHED.length);
    return /^[0-9a-f]{64}$/.test(hash) ? { kind: 'hashed', hash } : { kind: 'foreign' };
  }
  if (name.startsWith(ESCAPED)) {
    const segment = Buffer.from(name.slice(ESCAPED.length), 'base64url').toString('utf8');
    return encodeSegment(segment) === name ? { kind: 'segment', segment } : { kind: 'foreign' };
  }
  return { kind: 'foreign' };
}

/**
 * Validates `key` and maps it onto names. Refused (Other 'InvalidKey'): the
 * empty key, lone UTF-16 surrogates (no UTF-8 form), keys over `maxKeyBytes`,
 * and keys inside the internal directory. Everything else maps.
 */
export function keyPath(root: string, bucket: string, key: string, maxKeyBytes: number): KeyPath {
  checkKey(describeKey(root, bucket, key), key, maxKeyBytes);
  const segments = key.split('/');
  const last = segments.pop() ?? '';
  const marker = last === '';
  const all = marker ? segments : [...segments, last];
  return {
    dirSegments: segments,
    dirNames: segments.map(encodeSegment),
    marker,
    leafName: marker ? undefined : encodeSegment(last),
    longSegments: all.filter((s) => isHashedName(encodeSegment(s))),
  };
}

function checkKey(name: string, key: string, maxKeyBytes: number): void {
  const internal = key.split('/', 1)[0] === INTERNAL_DIR ? `'${INTERNAL_DIR}/' holds the backend's internal state` : undefined;
  const why = keyProblem(key, maxKeyBytes) ?? internal;
  if (why !== undefined) throw new OtherError(`invalid key ${name}: ${why}`, { reason: 'InvalidKey' });
}

/** Bucket names are one plain path segment that is not hidden. */
export function checkBucketName(bucket: string): void {
  const ok =
    bucket !== '' &&
    !bucket.startsWith('.') &&
    !bucket.includes('/') &&
    !bucket.includes('\0') &&
    !/\p{Cs}/u.test(bucket) &&
    Buffer.byteLength(bucket) <= NAME_MAX;
  if (!ok) {
    throw new OtherError(
      `invalid bucket name ${JSON.stringify(bucket)}: a local bucket is one directory name, not empty, without '/' and not starting with '.'`,
      { reason: 'InvalidBucketName' },
    );
  }
}

/** `file:///root/bucket/key` for messages, with control characters made visible. */
export function describeKey(root: string, bucket: string, key: string): string {
  const dir = root.endsWith('/') ? root : `${root}/`;
  return `file://${dir}${bucket}/${printable(key)}`;
}
