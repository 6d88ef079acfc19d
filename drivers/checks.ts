/**
 * The request rules S3 enforces, written once for the backends that must
 * enforce them themselves (memory and local have no server to do it; the
 * S3-speaking backends check keys and part numbers before a request is sent):
 * keys, metadata names and size, tags, storage classes, part numbers, batch
 * sizes, and how entity tags compare. Each throws OtherError with S3's error
 * code as the reason; `what` names the object in the message. Pure.
 */
import type { Metadata } from './contract.js';
import { OtherError } from './errors.js';

/** S3 caps user metadata (names plus values, in UTF-8 bytes) at 2 KB. */
const MAX_METADATA_BYTES = 2048;
/** S3 object tagging limits. */
const MAX_TAGS = 10;
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;
/** An HTTP header token: what a metadata name must be to travel as `x-amz-meta-<name>`. */
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export const STORAGE_CLASSES: ReadonlySet<string> = new Set([
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'GLACIER_IR',
  'DEEP_ARCHIVE',
]);

/**
 * Why S3 would refuse `key`, or undefined: the empty key, a lone UTF-16
 * surrogate (it has no UTF-8 form: it would be stored as U+FFFD and never
 * found again), or more than `maxKeyBytes` bytes of UTF-8.
 */
export function keyProblem(key: string, maxKeyBytes: number): string | undefined {
  if (key === '') return 'the empty key names no object';
  if (/\p{Cs}/u.test(key)) return 'it holds a lone UTF-16 surrogate, which has no UTF-8 form';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxKeyBytes) return `it is ${bytes} bytes long, over the ${maxKeyBytes}-byte limit`;
  return undefined;
}

/** True when `name` (lower-cased) can travel as a header name. */
export function isHeaderToken(name: string): boolean {
  return HEADER_TOKEN.test(name);
}

/** Lower-cases names as S3 does, and refuses what S3 would refuse. */
export function normaliseMetadata(metadata: Metadata | undefined, what: string): Metadata {
  const result: Metadata = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const lower = name.toLowerCase();
    if (!isHeaderToken(lower)) {
      throw new OtherError(`metadata name '${name}' is not a valid header name (${what})`, { reason: 'InvalidArgument' });
    }
    result[lower] = value;
    bytes += Buffer.byteLength(lower) + Buffer.byteLength(value);
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new OtherError(`user metadata of ${bytes} bytes exceeds the ${MAX_METADATA_BYTES}-byte limit (${what})`, {
      reason: 'MetadataTooLarge',
    });
  }
  return result;
}

export function checkTags(tags: Record<string, string>, what: string): Record<string, string> {
  const entries = Object.entries(tags);
  const bad = (detail: string) => new OtherError(`invalid tags for ${what}: ${detail}`, { reason: 'InvalidTag' });
  if (entries.length > MAX_TAGS) throw bad(`${entries.length} tags, at most ${MAX_TAGS} allowed`);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > MAX_TAG_KEY) throw bad(`tag key '${k}' must be 1..${MAX_TAG_KEY} characters`);
    if (v.length > MAX_TAG_VALUE) throw bad(`the value of tag '${k}' is over ${MAX_TAG_VALUE} characters`);
  }
  return { ...tags };
}

export function checkStorageClass(storageClass: string | undefined, what: string): string {
  if (storageClass === undefined) return 'STANDARD';
  if (!STORAGE_CLASSES.has(storageClass)) {
    throw new OtherError(`storage class '${storageClass}' is not known (${what})`, { reason: 'InvalidStorageClass' });
  }
  return storageClass;
}

/** Part numbers run from 1 to `maxParts` (S3: 10,000). */
export function checkPartNumber(partNumber: number, maxParts: number, what: string): void {
  if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > maxParts) {
    throw new OtherError(`part number ${String(partNumber)} is outside 1..${maxParts} (${what})`, {
      reason: 'InvalidArgument',
    });
  }
}

/** A DeleteObjects request names 1 to `maxBatch` keys; S3 answers MalformedXML otherwise. */
export function checkDeleteBatch(count: number, maxBatch: number, what: string): void {
  if (count === 0 || count > maxBatch) {
    throw new OtherError(`a batch delete takes 1..${maxBatch} keys, got ${count} (${what})`, { reason: 'MalformedXML' });
  }
}

/** Etags compare without their quotes: callers may hand back either form. */
export function sameEtag(a: string, b: string): boolean {
  return a.replace(/"/g, '') === b.replace(/"/g, '');
}
