/**
 * Peak resources of a mounted tool during one benchmark run: resident memory
 * of its process (VmHWM from /proc/<pid>/status — the kernel's own high-water
 * mark over the whole life of the process, exact, and each run has a fresh
 * process) and the size on disk of its cache directory (`du`, polled every
 * CACHE_POLL_MS; a poll starts only after the previous one ended, so on a
 * loaded machine the interval grows and a short peak can be missed).
 * Everything is read asynchronously: the benchmark never blocks on a mount.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const CACHE_POLL_MS = 200;
const KiB = 1024;

export interface Peaks {
  /** VmHWM of the tool's process, bytes; absent when its pid is unknown. */
  rssBytes?: number;
  /** Largest allocated size of its cache directory seen, bytes; absent when it has none. */
  cacheBytes?: number;
}

/** VmHWM of `pid` in bytes, or undefined when the process is gone. */
export async function peakRss(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * KiB;
  } catch {
    return undefined;
  }
}

/** Bytes allocated under `dir` (du -s, blocks actually used: sparse files count what they hold). */
function diskUsage(dir: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('du', ['-s', '--block-size=1', dir], { timeout: 10_000 }, (error, stdout) => {
      // du complains about files deleted while it walks; its total is still right for the rest.
      const total = /^(\d+)\s/.exec(stdout)?.[1];
      resolve(total === undefined ? (error === null ? 0 : undefined) : Number(total));
    });
  });
}

/** Polls a cache directory's size until stopped; `stop()` resolves to the largest size seen. */
export function watchCacheDir(dir: string): { stop(): Promise<number | undefined> } {
  let peak: number | undefined;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const poll = () => {
    current = diskUsage(dir).then((bytes) => {
      if (bytes !== undefined) peak = Math.max(peak ?? 0, bytes);
      if (running) timer = setTimeout(poll, CACHE_POLL_MS);
    });
  };
  poll();
  return {
    stop: async () => {
      running = false;
      clearTimeout(timer);
      await current;
      // One last look: what is left at the end counts too.
      const last = await diskUsage(dir);
      return last === undefined ? peak : Math.max(peak ?? 0, last);
    },
  };
}

/** Starts watching a mounted tool; `finish()` (call before stopping the tool; again returns the same) gives its peaks. */
export function watchPeaks(target: { pid?: number | undefined; cacheDir?: string | undefined }): { finish(): Promise<Peaks> } {
  const cache = target.cacheDir === undefined ? undefined : watchCacheDir(target.cacheDir);
  let result: Promise<Peaks> | undefined;
  const finish = async (): Promise<Peaks> => {
    const peaks: Peaks = {};
    const cacheBytes = await cache?.stop();
    if (cacheBytes !== undefined) peaks.cacheBytes = cacheBytes;
    const rss = target.pid === undefined ? undefined : await peakRss(target.pid);
    if (rss !== undefined) peaks.rssBytes = rss;
    return peaks;
  };
  // Idempotent: a failed run still stops the polling in its clean-up.
  return { finish: () => (result ??= finish()) };
}
