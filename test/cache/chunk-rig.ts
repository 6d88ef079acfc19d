/**
 * The chunk store of the cache tests, fetching from a memory backend whose
 * counters show every GET; stores made from it are closed at teardown.
 */
import type { Test } from 'tap';
import { ChunkStore, type ChunkSource, type ChunkStoreOptions } from '../../cache/chunks.js';
import { MemoryBackend } from '../../drivers/memory.js';
import { Driver, type Container } from '../../drivers/storage.js';

export const KiB = 1024;
export const CHUNK = 64 * KiB;

export interface Rig {
  memory: MemoryBackend;
  container: Container;
  dir: string;
  store(options?: Partial<ChunkStoreOptions>): Promise<ChunkStore>;
  source(key: string): Promise<ChunkSource>;
}

export async function rig(t: Test): Promise<Rig> {
  const memory = new MemoryBackend();
  await memory.createBucket('chunks');
  const container = new Driver(memory).container('chunks');
  const stores: ChunkStore[] = [];
  // Registered before t.testdir(): tap then closes the stores before removing the directory.
  t.teardown(async () => {
    for (const store of stores) await store.close();
  });
  const dir = t.testdir();
  return {
    memory,
    container,
    dir,
    async store(options = {}) {
      const store = new ChunkStore({
        cacheDir: dir,
        chunkSize: CHUNK,
        fetch: (source, range) => container.getRange(source.key, range, { ifMatch: source.etag }),
        stream: (source, range) => container.openObject(source.key, range, { ifMatch: source.etag }),
        ...options,
      });
      stores.push(store);
      await store.open();
      return store;
    },
    async source(key) {
      const info = await container.head(key);
      return { key, etag: info.etag, size: info.size };
    },
  };
}
