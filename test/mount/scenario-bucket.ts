/**
 * The bucket behind a mount, seen directly (not through the mount): tests
 * plant objects the way another program would, and check what the mount
 * stored — keys, bodies, content types, metadata. Opens the target's remote
 * with the target's own credentials (environment only, never argv).
 */
import type { Metadata } from '../../drivers/contract.js';
import { openRemote, type Remote } from '../../drivers/remote.js';

export interface PlantedObject {
  body: string | Buffer;
  contentType?: string;
  metadata?: Metadata;
}

export interface StoredState {
  body: Buffer;
  size: number;
  etag: string;
  contentType: string | undefined;
  metadata: Metadata;
}

export interface BucketView {
  /** The remote's own key prefix ('' or ending in '/'). */
  readonly prefix: string;
  /** A remote URL for the `bucketfs` command line naming `keyPrefix` (relative to the remote). */
  remoteUrl(keyPrefix: string): string;
  put(key: string, object: PlantedObject): Promise<void>;
  /** Every object under `keyPrefix` (relative keys → state), bodies included; for small test trees. */
  objects(keyPrefix: string): Promise<Map<string, StoredState>>;
  /** Keys under `keyPrefix`, relative, sorted; no bodies. */
  keys(keyPrefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A remote URL for the command line naming `keyPrefix` inside `remote` (file:// takes it as ?prefix=). */
export function remoteUrlFor(remote: string, keyPrefix: string): string {
  const url = new URL(remote);
  if (url.protocol === 'file:') {
    const base = url.searchParams.get('prefix') ?? '';
    url.searchParams.set('prefix', base + keyPrefix);
    return url.toString();
  }
  const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  url.pathname = path + keyPrefix.split('/').map(encodeURIComponent).join('/');
  return url.toString();
}

async function stateOf(remote: Remote, key: string): Promise<StoredState> {
  const info = await remote.container.head(key);
  const body = info.size === 0 ? Buffer.alloc(0) : await remote.container.getRange(key, { start: 0, end: info.size });
  return { body, size: info.size, etag: info.etag, contentType: info.contentType, metadata: info.metadata ?? {} };
}

export async function openBucket(target: { remote: string; env: Record<string, string> }): Promise<BucketView> {
  const remote = await openRemote(target.remote, { env: { ...process.env, ...target.env } });
  const full = (key: string) => remote.prefix + key;
  const keys = async (keyPrefix: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const page of remote.container.pages({ prefix: full(keyPrefix) })) {
      for (const object of page.objects) out.push(object.key.slice(full(keyPrefix).length));
    }
    return out.sort();
  };
  return {
    prefix: remote.prefix,
    remoteUrl: (keyPrefix) => remoteUrlFor(target.remote, keyPrefix),
    async put(key, object) {
      const body = typeof object.body === 'string' ? Buffer.from(object.body, 'utf8') : object.body;
      await remote.container.put(full(key), body, {
        ...(object.metadata !== undefined && { metadata: object.metadata }),
        ...(object.contentType !== undefined && { contentType: object.contentType }),
      });
    },
    keys,
    async objects(keyPrefix) {
      const out = new Map<string, StoredState>();
      for (const key of await keys(keyPrefix)) out.set(key, await stateOf(remote, full(keyPrefix + key)));
      return out;
    },
    close: () => remote.close(),
  };
}
