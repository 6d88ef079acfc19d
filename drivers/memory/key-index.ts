/**
 * The sorted key index of one in-memory bucket and the ListObjectsV2 walk
 * over it. Order is S3's: by the UTF-8 bytes of the key, which differs from
 * JavaScript's UTF-16 string order for characters beyond U+FFFF, so keys are
 * compared as Buffers, never as strings.
 *
 * Owns only ordering and paging; object data lives in store.ts.
 */
import type { ListOptions } from '../contract.js';
import { OtherError } from '../errors.js';

interface IndexedKey {
  key: string;
  bytes: Buffer;
}

/** S3 never returns more than 1,000 entries per page, whatever max-keys asks. */
export const MAX_LIST_KEYS = 1000;

export class KeyIndex {
  private readonly keys: IndexedKey[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** First position whose key is >= `bytes` (or > when `after`). */
  private bound(bytes: Buffer, after: boolean): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.keys[mid]!.bytes, bytes);
      if (c < 0 || (after && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(key: string): void {
    const bytes = Buffer.from(key, 'utf8');
    const at = this.bound(bytes, false);
    if (this.keys[at]?.key === key) return;
    this.keys.splice(at, 0, { key, bytes });
  }

  remove(key: string): void {
    const at = this.bound(Buffer.from(key, 'utf8'), false);
    if (this.keys[at]?.key === key) this.keys.splice(at, 1);
  }

  /** Keys in byte order starting at `from` (inclusive) or just after it. */
  *walk(from: string, after: boolean): Generator<string> {
    for (let i = this.bound(Buffer.from(from, 'utf8'), after); i < this.keys.length; i++) yield this.keys[i]!.key;
  }
}

/** One listing entry in order: a key, or a common prefix standing for all keys under it. */
export type ListEntry = { key: string } | { prefix: string };

export interface KeyPage {
  entries: ListEntry[];
  nextToken?: string;
}

/** The token resumes after the last entry of a page; opaque to callers. */
interface Token {
  after: string;
  /** The last entry was a common prefix: skip every key under it. */
  prefix: boolean;
}

function encodeToken(token: Token): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/** A token that resumes a listing after `key`, whatever lies there (for listings split into ranges). */
export function startAfterToken(key: string): string {
  return encodeToken({ after: key, prefix: false });
}

function decodeToken(token: string): Token {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const t = parsed as Partial<Token>;
    if (typeof t.after === 'string' && typeof t.prefix === 'boolean') return { after: t.after, prefix: t.prefix };
  } catch {
    // fall through: a malformed token is reported below
  }
  throw new OtherError('the continuation token is not valid', { reason: 'InvalidArgument' });
}

function checkMaxKeys(maxKeys: number | undefined): number {
  if (maxKeys === undefined) return MAX_LIST_KEYS;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 0) {
    throw new OtherError(`maxKeys must be a non-negative integer, got ${String(maxKeys)}`, { reason: 'InvalidArgument' });
  }
  return Math.min(maxKeys, MAX_LIST_KEYS);
}

/** The entry a key stands for under `prefix`/`delimiter`: itself, or the common prefix that holds it. */
function entryOf(key: string, prefix: string, delimiter: string | undefined): ListEntry {
  if (delimiter) {
    const at = key.indexOf(delimiter, prefix.length);
    if (at >= 0) return { prefix: key.slice(0, at + delimiter.length) };
  }
  return { key };
}

/**
 * One ListObjectsV2 page: keys under `prefix` in byte order, keys that hold
 * `delimiter` after the prefix rolled up into one common prefix each, at most
 * `maxKeys` entries (keys and prefixes together), and a token when more follow.
 */
export function listKeys(index: KeyIndex, options: ListOptions = {}): KeyPage {
  const prefix = options.prefix ?? '';
  const maxKeys = checkMaxKeys(options.maxKeys);
  const token = options.token === undefined ? undefined : decodeToken(options.token);
  // A token from before the prefix (or from another listing) cannot skip keys under the prefix.
  const resume = token !== undefined && Buffer.compare(Buffer.from(token.after), Buffer.from(prefix)) > 0;
  const from = resume ? token.after : prefix;
  const entries: ListEntry[] = [];
  if (maxKeys === 0) return { entries };
  let last: ListEntry | undefined;
  for (const key of index.walk(from, resume)) {
    if (!key.startsWith(prefix)) break;
    if (resume && token.prefix && key.startsWith(token.after)) continue;
    if (last && 'prefix' in last && key.startsWith(last.prefix)) continue;
    const entry = entryOf(key, prefix, options.delimiter);
    if (entries.length === maxKeys) {
      const after = last === undefined ? from : 'key' in last ? last.key : last.prefix;
      return { entries, nextToken: encodeToken({ after, prefix: last !== undefined && 'prefix' in last }) };
    }
    entries.push(entry);
    last = entry;
  }
  return { entries };
}
