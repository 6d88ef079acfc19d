/**
 * Prompt garbage collection of the buffers a data stream leaves behind.
 *
 * Every GET body arrives as many small Buffers (one per socket read, ~64 KiB)
 * that are garbage as soon as they are copied into a chunk or part buffer.
 * V8 frees their memory only at a collection, and it starts one for external
 * memory only after ~64 MiB more of it: reading through the mount, the daemon
 * peaked 60–90 MiB above its buffers (measured with the bounds test and the
 * bench). A minor collection (young generation, where those Buffers die)
 * takes ~0.3 ms; one per COLLECT_EVERY bytes fetched keeps that garbage
 * small for a negligible cost (a 1 GiB read: 128 collections, ~40 ms).
 *
 * `gc` is not exposed to a program started without --expose-gc; it can be
 * obtained at run time (the Node documentation's v8.setFlagsFromString
 * example). Where that fails, collecting is a no-op and only memory suffers.
 *
 * Measured on Node 20 (V8 11.3), 64 MiB of dropped buffers, memory freed:
 *   - `gc({ type: 'major', execution: 'sync' })` returned in 0.2 ms and
 *     freed nothing, even 100 ms and a second call later: no full collection;
 *   - `gc()` (no options) took ~2 ms; the memory went only when V8's
 *     background sweeper got to it, 0–50 ms later;
 *   - `gc()` with --no-concurrent-array-buffer-sweeping: freed on return.
 * So a full collection here is `gc()`, with array buffers swept during the
 * collection itself: the flag is set at run time around that one call, so
 * every other collection keeps sweeping off the JS thread.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collector = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/** How long idle buffers (the upload budget's kept parts, the chunk pool's spare ones) outlive their last use. */
export const IDLE_BUFFERS_MS = 1000;

/** Bytes fetched between two minor collections. */
export const COLLECT_EVERY = 8 * 1024 * 1024;

let collector: Collector | null | undefined;

function obtain(): Collector | null {
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      collector = typeof gc === 'function' ? (gc as Collector) : null;
    } catch {
      collector = null;
    }
  }
  return collector;
}

/** Counts bytes that went through short-lived Buffers; every COLLECT_EVERY of them, one minor collection. */
export class GarbageMeter {
  private since = 0;

  constructor(private readonly every = COLLECT_EVERY) {}

  add(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since = 0;
    obtain()?.({ type: 'minor' });
  }
}

/**
 * Drops idle buffers: `onIdle` runs once IDLE_BUFFERS_MS have passed since
 * the last `touch` (each touch starts the wait again), then a background
 * collection frees what it dropped. The timer never keeps the process alive.
 */
export class IdleTrim {
  private timer: NodeJS.Timeout | undefined;

  /** `onIdle` drops the spare buffers and says whether it dropped any. */
  constructor(private readonly onIdle: () => boolean) {}

  touch(): void {
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.onIdle()) collectSoon();
    }, IDLE_BUFFERS_MS);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A full collection in the background: after dropping long-lived buffers (kept part buffers), so their memory goes now. */
export function collectSoon(): void {
  obtain()?.({ type: 'major', execution: 'async' });
}

/**
 * A full collection now: dropped long-lived buffers are freed before a new
 * allocation takes their place. Call it from a frame that did not hold them
 * (the caller's locals are roots of the collection).
 */
export function collectNow(): void {
  const gc = obtain();
  if (gc === null) return;
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  try {
    gc();
  } finally {
    setFlagsFromString('--concurrent-array-buffer-sweeping');
  }
}
