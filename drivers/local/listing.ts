/**
 * Listings of the local backend with S3 ListObjectsV2 semantics: keys in
 * UTF-8 byte order, `prefix`, `delimiter` roll-up into common prefixes,
 * `maxKeys` counting keys plus prefixes, and an opaque continuation token
 * (the last key or prefix returned, base64url).
 *
 * The tree is walked lazily, one directory at a time: each directory's
 * entries are sorted by the key they stand for (a file by its segment, a
 * directory by its segment plus '/', which is where all its keys sort), so
 * yielding them depth-first is yielding keys in order. Subtrees wholly before
 * the token, outside the prefix, or inside an already returned common prefix
 * are never read. Links and special files are never entered nor listed.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListOptions, ListPage, ObjectInfo } from '../contract.js';
import { OtherError } from '../errors.js';
import { compareKeys } from '../wire/s3-format.js';
import type { LocalContext } from './context.js';
import { fsFailure, hasCode } from './failures.js';
import { INTERNAL_DIR, decodeName, encodeSegment } from './keys.js';
import type { BucketLayout } from './layout.js';
import { objectInfo, readSidecar } from './sidecar.js';

/** S3's largest page. */
const MAX_PAGE = 1000;
/** Stats and sidecar reads of one page in flight at once. */
const STAT_CONCURRENCY = 16;

interface Entry {
  readonly name: string;
  /** The key text this entry adds: a file's segment, or a directory's segment plus '/'. */
  readonly sortKey: string;
  readonly dir: boolean;
}

interface Bounds {
  readonly prefix: string;
  readonly after: string | undefined;
  /** Keys starting with this were rolled into a common prefix already returned. */
  skip: string | undefined;
}

interface Found {
  readonly key: string;
  readonly path: string;
  readonly marker: boolean;
}

export async function listPage(ctx: LocalContext, bucket: string, options: ListOptions): Promise<ListPage> {
  const layout = await ctx.layout(bucket);
  await layout.statBucket();
  const prefix = options.prefix ?? '';
  const delimiter = options.delimiter === '' ? undefined : options.delimiter;
  const maxKeys = Math.min(options.maxKeys ?? MAX_PAGE, MAX_PAGE);
  const after = options.token === undefined ? undefined : decodeToken(options.token, layout.what());
  const resumesRollup = after !== undefined && delimiter !== undefined && rollup(after, prefix, delimiter) === after;
  const bounds: Bounds = { prefix, after, skip: resumesRollup ? after : undefined };
  const found: Found[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  let truncated = false;
  for await (const item of walkFrom(layout, bounds)) {
    if (found.length + prefixes.length >= maxKeys) {
      truncated = maxKeys > 0;
      break;
    }
    const rolled = delimiter === undefined ? undefined : rollup(item.key, prefix, delimiter);
    if (rolled === undefined) found.push(item);
    else prefixes.push((bounds.skip = rolled));
    last = rolled ?? item.key;
  }
  const page: ListPage = { objects: await describeAll(layout, found), prefixes };
  if (truncated && last !== undefined) page.nextToken = Buffer.from(last, 'utf8').toString('base64url');
  return page;
}

/** True when the bucket holds at least one object. */
export async function hasObjects(layout: BucketLayout): Promise<boolean> {
  const walker = walkFrom(layout, { prefix: '', after: undefined, skip: undefined });
  const first = await walker.next();
  await walker.return(undefined);
  return first.done !== true;
}

/** The common prefix `key` rolls up into, if any. */
function rollup(key: string, prefix: string, delimiter: string): string | undefined {
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

function decodeToken(token: string, what: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (Buffer.from(key, 'utf8').toString('base64url') !== token) {
    throw new OtherError(`invalid continuation token for ${what}`, { reason: 'InvalidToken' });
  }
  return key;
}

/** Walks from one level above the deepest directory the prefix names (so that directory's marker is seen). */
async function* walkFrom(layout: BucketLayout, bounds: Bounds): AsyncGenerator<Found> {
  const cut = bounds.prefix.lastIndexOf('/');
  const segments = cut < 0 ? [] : bounds.prefix.slice(0, cut).split('/').slice(0, -1);
  if (segments[0] === INTERNAL_DIR) return;
  const start = join(layout.dir, ...segments.map(encodeSegment));
  if (!(await layout.isRealDir(start))) return;
  const keyPrefix = segments.length === 0 ? '' : `${segments.join('/')}/`;
  const { entries } = await readEntries(layout, start, segments.length === 0);
  yield* walkEntries(layout, start, keyPrefix, entries, bounds);
}

async function* walkEntries(
  layout: BucketLayout,
  dir: string,
  keyPrefix: string,
  entries: readonly Entry[],
  bounds: Bounds,
): AsyncGenerator<Found> {
  for (const entry of entries) {
    const key = keyPrefix + entry.sortKey;
    const path = join(dir, entry.name);
    if (!entry.dir) {
      if (wanted(key, bounds)) yield { key, path, marker: false };
    } else if (subtreeWanted(key, bounds)) {
      const inner = await readEntries(layout, path, false);
      // A directory's marker key sorts before every key inside it.
      if (wanted(key, bounds) && (inner.empty || (await isExplicitMarker(layout, key, path)))) {
        yield { key, path, marker: true };
      }
      yield* walkEntries(layout, path, key, inner.entries, bounds);
    }
  }
}

function wanted(key: string, bounds: Bounds): boolean {
  if (!key.startsWith(bounds.prefix)) return false;
  if (bounds.skip !== undefined && key.startsWith(bounds.skip)) return false;
  return bounds.after === undefined || compareKeys(key, bounds.after) > 0;
}

/** Whether any key starting with `dirKey` (all of them sort together) can be wanted. */
function subtreeWanted(dirKey: string, bounds: Bounds): boolean {
  if (!dirKey.startsWith(bounds.prefix) && !bounds.prefix.startsWith(dirKey)) return false;
  if (bounds.skip !== undefined && dirKey.startsWith(bounds.skip)) return false;
  if (bounds.after === undefined || bounds.after.startsWith(dirKey)) return true;
  return compareKeys(dirKey, bounds.after) > 0;
}

async function isExplicitMarker(layout: BucketLayout, key: string, path: string): Promise<boolean> {
  const stat = await lstat(path, { bigint: true }).catch(() => undefined);
  return stat !== undefined && (await readSidecar(layout, key, stat, true)) !== undefined;
}

/**
 * The listable entries of `dir`, sorted by key, and whether it is empty.
 * Names that are not UTF-8 (no key can name them), foreign reserved names,
 * the internal directory, links and special files are left out.
 */
async function readEntries(layout: BucketLayout, dir: string, bucketRoot: boolean): Promise<{ entries: Entry[]; empty: boolean }> {
  let dirents: Dirent<Buffer>[];
  try {
    dirents = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (e) {
    if (hasCode(e, 'ENOENT', 'ENOTDIR')) return { entries: [], empty: false };
    throw fsFailure(e, dir);
  }
  const entries: Entry[] = [];
  for (const dirent of dirents) {
    const name = dirent.name.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(dirent.name) || (bucketRoot && name === INTERNAL_DIR)) continue;
    const kind = await entryKind(dirent, join(dir, name));
    const segment = kind === undefined ? undefined : await segmentOf(layout, name);
    if (kind === undefined || segment === undefined) continue;
    entries.push({ name, dir: kind === 'dir', sortKey: kind === 'dir' ? `${segment}/` : segment });
  }
  entries.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  return { entries, empty: dirents.length === 0 };
}

async function entryKind(dirent: Dirent<Buffer>, path: string): Promise<'file' | 'dir' | undefined> {
  if (dirent.isFile()) return 'file';
  if (dirent.isDirectory()) return 'dir';
  if (dirent.isSymbolicLink() || dirent.isFIFO() || dirent.isSocket() || dirent.isBlockDevice() || dirent.isCharacterDevice()) {
    return undefined;
  }
  // Some file systems do not report types in readdir.
  const stat = await lstat(path).catch(() => undefined);
  return stat?.isFile() ? 'file' : stat?.isDirectory() ? 'dir' : undefined;
}

async function segmentOf(layout: BucketLayout, name: string): Promise<string | undefined> {
  const decoded = decodeName(name);
  if (decoded.kind === 'segment') return decoded.segment;
  if (decoded.kind === 'hashed') return layout.lookupName(decoded.hash);
  return undefined;
}

/** The ObjectInfo of each found key; keys whose file vanished meanwhile are left out. */
async function describeAll(layout: BucketLayout, found: readonly Found[]): Promise<ObjectInfo[]> {
  const infos: (ObjectInfo | undefined)[] = new Array<ObjectInfo | undefined>(found.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < found.length) {
      const i = next++;
      infos[i] = await describe(layout, found[i] as Found);
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, found.length) }, worker));
  return infos.filter((i): i is ObjectInfo => i !== undefined);
}

async function describe(layout: BucketLayout, item: Found): Promise<ObjectInfo | undefined> {
  let stat: BigIntStats;
  try {
    stat = await lstat(item.path, { bigint: true });
  } catch (e) {
    if (hasCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw e;
  }
  if (item.marker ? !stat.isDirectory() : !stat.isFile()) return undefined;
  const record = await readSidecar(layout, item.key, stat, item.marker);
  return objectInfo(item.key, stat, record, false);
}
