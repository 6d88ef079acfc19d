/**
 * Change notifications of the in-memory backend: listeners per bucket and
 * prefix. Events are delivered after the write returns (on a microtask), as a
 * real notification arrives after the request, and a listener that throws
 * cannot fail the write that caused the event.
 */
import type { ChangeEvent, Watcher } from '../contract.js';

interface Listener {
  bucket: string;
  prefix: string;
  onEvent: (event: ChangeEvent) => void;
}

export class Watchers {
  private readonly listeners = new Set<Listener>();

  add(bucket: string, prefix: string, onEvent: (event: ChangeEvent) => void): Watcher {
    const listener: Listener = { bucket, prefix, onEvent };
    this.listeners.add(listener);
    return {
      close: async () => {
        this.listeners.delete(listener);
      },
    };
  }

  emit(bucket: string, event: ChangeEvent): void {
    for (const listener of this.listeners) {
      if (listener.bucket !== bucket || !event.key.startsWith(listener.prefix)) continue;
      queueMicrotask(() => {
        // A closed watcher gets nothing, even for events raised before it closed.
        if (!this.listeners.has(listener)) return;
        try {
          listener.onEvent({ ...event });
        } catch (error) {
          process.emitWarning(`a change listener on memory://${bucket} threw: ${String(error)}`);
        }
      });
    }
  }

  closeAll(): void {
    this.listeners.clear();
  }
}
