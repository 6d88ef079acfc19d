/**
 * Open handles of chunk files, kept in an LRU: reopening a chunk file for
 * every 128 KiB read cost more than the read itself. Dropping an entry closes
 * its handle; FileHandle.close waits for reads in progress, and a read that
 * starts on a closed handle fails (its caller fetches the chunk again).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';

export type Opening = Promise<FileHandle | undefined>;

export class OpenChunkFiles {
  private readonly handles: LRUCache<string, Opening>;

  constructor(readonly dir: string, max: number) {
    this.handles = new LRUCache<string, Opening>({
      max,
      dispose: (handle) => void handle.then((h) => h?.close()).catch(() => undefined),
    });
  }

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  /** The open handle of chunk file `id` (opened on first use); undefined when the file is gone. */
  get(id: string): Opening {
    let handle = this.handles.get(id);
    if (handle === undefined) {
      const opening: Opening = open(this.pathOf(id), 'r').catch(() => undefined);
      this.handles.set(id, opening);
      void opening.then((h) => {
        if (h === undefined && this.handles.get(id) === opening) this.handles.delete(id);
      });
      handle = opening;
    }
    return handle;
  }

  /** Whether `opening` is still the handle kept for `id` (not closed by an eviction meanwhile). */
  isCurrent(id: string, opening: Opening): boolean {
    return this.handles.peek(id) === opening;
  }

  /** Closes the handle of `id`, if open (the file was evicted, dropped or is being replaced). */
  drop(id: string): void {
    this.handles.delete(id);
  }

  async closeAll(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(handles.map(async (h) => (await h)?.close()));
  }
}
