/**
 * The four workloads of the driver benchmark, run on any BenchClient and
 * timed the same way: a large (1 GiB) upload from a file (every upload method the
 * client offers), its download to a file, 1,000 small PUTs and 1,000 HEADs
 * at concurrency 16. Each run deletes what it wrote before returning, so the
 * server never holds more than one large object at a time.
 */
import { randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchClient } from './client.js';
import type { Sample } from './stats.js';

export const MiB = 2 ** 20;
export const SMALL_SIZE = 4 * 1024;
export const SMALL_COUNT = 1000;
export const SMALL_CONCURRENCY = 16;

export const WORKLOADS = {
  upload: 'upload large file',
  download: 'download large file',
  put: `PUT ${SMALL_COUNT}×4 KiB, c=${SMALL_CONCURRENCY}`,
  head: `HEAD ×${SMALL_COUNT}, c=${SMALL_CONCURRENCY}`,
} as const;

export interface Measurement {
  workload: string;
  /** The row this sample belongs to (a client name or one of its upload methods). */
  row: string;
  unit: 'MiB/s' | 'ops/s';
  sample: Sample;
}

/** Writes `size` random bytes to `path` in 64 MiB slices (incompressible, so no layer can cheat). */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const slice = Buffer.allocUnsafe(64 * MiB);
  const file = await open(path, 'wx', 0o600);
  try {
    for (let done = 0; done < size; done += slice.length) {
      const length = Math.min(slice.length, size - done);
      randomFillSync(slice, 0, length);
      await file.write(slice, 0, length, done);
    }
  } finally {
    await file.close();
  }
}

/** Runs `run` and rates it: `amount` (MiB or operations) per second, plus this process's CPU time (all threads). */
async function timed(amount: number, run: () => Promise<void>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { value: amount / seconds, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Runs `op(0..count-1)` with at most `concurrency` in flight; the first failure fails the whole run. */
export async function pool(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) await op(i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Tracks keys written but not yet deleted, so an interrupted run can still clean up. */
export class KeyLedger {
  readonly live = new Map<BenchClient, Set<string>>();

  add(client: BenchClient, keys: string[]): void {
    const set = this.live.get(client) ?? new Set<string>();
    for (const key of keys) set.add(key);
    this.live.set(client, set);
  }

  async remove(client: BenchClient, keys: string[]): Promise<void> {
    await client.remove(keys);
    for (const key of keys) this.live.get(client)?.delete(key);
  }

  /** Best effort, for the end of an interrupted run. */
  async removeAll(): Promise<void> {
    for (const [client, keys] of this.live) {
      if (keys.size > 0) await client.remove([...keys]).catch(() => undefined);
    }
  }
}

export interface LargeRun {
  client: BenchClient;
  source: { path: string; size: number };
  /** Directory the download lands in (removed again afterwards). */
  scratchDir: string;
  keyPrefix: string;
  ledger: KeyLedger;
}

/** Every upload method of the client; the object of the first one is then downloaded. */
export async function runLarge({ client, source, scratchDir, keyPrefix, ledger }: LargeRun): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const mib = source.size / MiB;
  for (const [i, method] of client.uploads.entries()) {
    const key = `${keyPrefix}big-${i}`;
    ledger.add(client, [key]);
    const up = await timed(mib, () => method.run(source.path, source.size, key));
    out.push({ workload: WORKLOADS.upload, row: method.label, unit: 'MiB/s', sample: up });
    if (i === 0) {
      const dest = join(scratchDir, 'download.bin');
      const down = await timed(mib, () => client.download(key, dest));
      await rm(dest, { force: true });
      out.push({ workload: WORKLOADS.download, row: client.name, unit: 'MiB/s', sample: down });
    }
    await ledger.remove(client, [key]);
  }
  return out;
}

/** `count` PUTs of 4 KiB, then `count` HEADs of those objects, then one batched delete. */
export async function runSmall(client: BenchClient, keyPrefix: string, ledger: KeyLedger, count = SMALL_COUNT): Promise<Measurement[]> {
  const body = randomFillSync(Buffer.allocUnsafe(SMALL_SIZE));
  const keys = Array.from({ length: count }, (_, i) => `${keyPrefix}small-${String(i).padStart(4, '0')}`);
  ledger.add(client, keys);
  const put = await timed(count, () => pool(count, SMALL_CONCURRENCY, (i) => client.putSmall(keys[i] as string, body)));
  const head = await timed(count, () => pool(count, SMALL_CONCURRENCY, (i) => client.head(keys[i] as string)));
  await ledger.remove(client, keys);
  return [
    { workload: WORKLOADS.put, row: client.name, unit: 'ops/s', sample: put },
    { workload: WORKLOADS.head, row: client.name, unit: 'ops/s', sample: head },
  ];
}

/**
 * Not measured: loads each client's lazily imported code, opens its sockets and
 * lets the JIT optimise the request paths. After 64 warm-up operations the first
 * measured run still cost up to 2× the CPU per operation of later runs; after
 * 1,000 about 1.5×, and rotating the client order per round spreads the rest.
 */
export async function warmUp(client: BenchClient, keyPrefix: string, ledger: KeyLedger): Promise<void> {
  await runSmall(client, keyPrefix, ledger, SMALL_COUNT);
}
