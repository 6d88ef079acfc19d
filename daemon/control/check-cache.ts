/**
 * The daemon's half of `bucketfs check MOUNTPOINT`: files and symlinks its
 * metadata cache holds that the bucket, listed just now, shows differently
 * (another etag or size) or not at all. Such entries are what the mount
 * serves until their TTL runs out; `bucketfs invalidate` drops them at once.
 * Files not uploaded yet (local only, or pending upload) differ by design
 * and are skipped. The walk yields to the event loop between pages: the
 * daemon's one thread also answers FUSE.
 */
import type { ObjectInfo } from '../../drivers/contract.js';
import { nameOf, ROOT } from '../../cache/metadata/paths.js';
import type { Entry } from '../../cache/metadata/types.js';
import { KeyMap } from '../../vfs/namespace/keys.js';
import type { CacheDisagreement } from './protocol.js';

/** What the walk needs of the metadata store. */
export interface CachedEntries {
  childrenPage(dir: string, afterName: string | undefined, limit: number): Entry[];
}

const PAGE = 500;

async function* walk(store: CachedEntries, dir: string): AsyncGenerator<Entry> {
  let after: string | undefined;
  for (;;) {
    const page = store.childrenPage(dir, after, PAGE);
    for (const entry of page) {
      yield entry;
      if (entry.kind === 'dir') yield* walk(store, entry.path);
    }
    if (page.length < PAGE) return;
    after = nameOf(page[page.length - 1]!.path);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function compare(entry: Entry, listed: ObjectInfo | undefined): string | undefined {
  if (listed === undefined) return 'cached, but no such object in the bucket';
  if (entry.etag !== undefined && entry.etag !== listed.etag) return `cached etag ${entry.etag}, the bucket has ${listed.etag}`;
  if (entry.size !== listed.size && entry.kind === 'file') return `cached size ${entry.size}, the bucket has ${listed.size}`;
  return undefined;
}

export async function cacheDisagreements(
  store: CachedEntries,
  prefix: string,
  objects: readonly ObjectInfo[],
  pendingPaths: ReadonlySet<string>,
): Promise<{ entriesChecked: number; disagreements: CacheDisagreement[] }> {
  const keys = new KeyMap(prefix);
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const disagreements: CacheDisagreement[] = [];
  let entriesChecked = 0;
  for await (const entry of walk(store, ROOT)) {
    if (entry.kind === 'dir' || entry.localOnly || pendingPaths.has(entry.path)) continue;
    entriesChecked++;
    const key = keys.fileKey(entry.path);
    const listed = byKey.get(key);
    const problem = compare(entry, listed);
    if (problem === undefined) continue;
    disagreements.push({
      path: entry.path,
      key,
      problem,
      cached: { size: entry.size, etag: entry.etag },
      ...(listed === undefined ? {} : { bucket: { size: listed.size, etag: listed.etag } }),
    });
  }
  return { entriesChecked, disagreements };
}
