/**
 * What every mount-benchmark workload is built from: the context a run gets,
 * the shape of a workload and of its timings, and the timed steps — a shell
 * command on a mount, "until in the bucket", a raw SDK call.
 *
 * "Until in the bucket": when a check made right after the command already
 * shows the result in the bucket, the time is the command's; otherwise it is
 * the end of the first check that does (polled every POLL_MS) — rclone and
 * bucketfs's async mode upload after close.
 */
import { sh } from '../mount/harness.js';
import { plainEnv } from '../mount/scenario-tree.js';
import type { RawSdkClient } from './raw-sdk.js';
import { pool } from './workloads.js';

/** Setting up objects: as many PUTs in flight as a busy uploader would use. */
const SETUP_CONCURRENCY = 32;
const POLL_MS = 100;
/** The slowest expected step (s3fs renaming 1,000 objects one by one, a 1 GiB upload on a loaded machine) fits well inside. */
export const STEP_TIMEOUT_MS = 600_000;

export interface BenchContext {
  raw: RawSdkClient;
  /** tmpfs directory for sources and path lists. */
  scratch: string;
  /** Random file (tmpfs) written through the mounts and uploaded by the raw SDK. */
  bigSource: { path: string; size: number };
  /** 4 KiB of text: the content of every small file. */
  smallBody: Buffer;
  /** Seconds each time-based fio run lasts. */
  fioSeconds: number;
  /** Requests the tools sent since the last call, when requests are counted. */
  takeRequests?: () => Record<string, number>;
}

export interface Timing {
  metric: string;
  seconds: number;
  /** Bytes the timed step moved (for MiB/s). */
  bytes?: number;
  /** For fio metrics: I/O operations per second (then `seconds` is fio's run time). */
  iops?: number;
  requests?: Record<string, number>;
}

export interface RawVariant {
  label: string;
  run(ctx: BenchContext, tag: string): Promise<Timing[]>;
}

export interface Workload {
  name: string;
  /** What runs on each mount, for the report. */
  describe: string;
  /** The metrics a run reports, in order. */
  metrics: readonly string[];
  /** The run writes: bucketfs's write modes (sync, async) both run it. */
  writes?: boolean;
  /** Options bucketfs's command line gets for this workload, each used only when `bucketfs mount --help` lists it. */
  bucketfsArgs?(ctx: BenchContext): string[];
  /** Once, before the first round: objects every run reads. */
  setUp?(ctx: BenchContext): Promise<void>;
  /** Before each run, not timed: objects the run consumes. */
  prepare?(ctx: BenchContext, tag: string): Promise<void>;
  throughMount(ctx: BenchContext, dir: string, tag: string): Promise<Timing[]>;
  /** The raw SDK's ways of doing the same work (none where no lower bound makes sense). */
  raw(ctx: BenchContext): RawVariant[];
  /** After each run (mount stopped), not timed. */
  cleanup?(ctx: BenchContext, tag: string): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const seconds = (from: number, to = performance.now()) => (to - from) / 1000;
export const keyNumber = (i: number, width: number) => String(i).padStart(width, '0');

/** Runs a command in `cwd` (a mountpoint); its output, or an error with its stderr. */
export async function shell(command: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  const result = await sh(command, { cwd, env: plainEnv(), timeoutMs: STEP_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`\`${command.slice(0, 200)}\` in ${cwd} exited ${result.code}: ${result.stderr.slice(-2000)}`);
  return result;
}

export function withRequests(ctx: BenchContext, timing: Timing): Timing {
  const requests = ctx.takeRequests?.();
  return requests === undefined ? timing : { ...timing, requests };
}

/** Times `command`, then waits until `inBucket` holds (see the module comment); tools' requests are counted to the end. */
export async function untilInBucket(ctx: BenchContext, metric: string, command: () => Promise<void>, inBucket: () => Promise<boolean>): Promise<Timing> {
  const start = performance.now();
  await command();
  let end = performance.now();
  if (!(await inBucket())) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    do {
      if (Date.now() > deadline) throw new Error(`${metric}: not in the bucket ${STEP_TIMEOUT_MS / 1000} s after the command`);
      await sleep(POLL_MS);
    } while (!(await inBucket()));
    end = performance.now();
  }
  return withRequests(ctx, { metric, seconds: seconds(start, end) });
}

export async function timedShell(ctx: BenchContext, metric: string, command: string, cwd: string): Promise<{ timing: Timing; stdout: string; stderr: string }> {
  ctx.takeRequests?.();
  const start = performance.now();
  const out = await shell(command, cwd);
  return { timing: withRequests(ctx, { metric, seconds: seconds(start) }), ...out };
}

export async function timedRaw(metric: string, work: () => Promise<void>, bytes?: number): Promise<Timing[]> {
  const start = performance.now();
  await work();
  return [{ metric, seconds: seconds(start), ...(bytes === undefined ? {} : { bytes }) }];
}

export function expect(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: ${actual}, expected ${expected}`);
}

/** PUTs `count` small objects `<prefix>f<n>` in parallel. */
export async function putMany(ctx: BenchContext, prefix: string, count: number, width: number): Promise<void> {
  await pool(count, SETUP_CONCURRENCY, (i) => ctx.raw.putSmall(`${prefix}f${keyNumber(i, width)}`, ctx.smallBody));
}

export async function removePrefix(ctx: BenchContext, prefix: string): Promise<void> {
  await ctx.raw.remove((await ctx.raw.list(prefix)).map((o) => o.key));
}

const done = new WeakMap<BenchContext, Map<string, Promise<void>>>();

/** Runs `work` once per context (several workloads share one prepared object); later calls wait for the first. */
export function once(ctx: BenchContext, name: string, work: () => Promise<void>): Promise<void> {
  const mine = done.get(ctx) ?? new Map<string, Promise<void>>();
  done.set(ctx, mine);
  let running = mine.get(name);
  if (running === undefined) {
    running = work();
    mine.set(name, running);
  }
  return running;
}

/** Bytes of `file` (in `cwd`) resident in the page cache, from fincore. */
async function residentBytes(file: string, cwd: string): Promise<number> {
  const { stdout } = await shell(`fincore --bytes --noheadings --output RES -- '${file}'`, cwd);
  return Number(stdout.trim());
}

/**
 * Drops `file`'s pages from the kernel's page cache, so the next read is
 * served by the file system: fadvise(DONTNEED) on that one file (dd
 * iflag=nocache count=0); if fincore still sees pages, the machine-wide
 * drop_caches (page cache only, no sync: other mounts are never flushed).
 */
export async function dropPageCache(file: string, cwd: string): Promise<void> {
  await shell(`dd if='${file}' iflag=nocache count=0 status=none`, cwd);
  if ((await residentBytes(file, cwd)) === 0) return;
  await shell('echo 1 > /proc/sys/vm/drop_caches', cwd);
  const left = await residentBytes(file, cwd);
  if (left > 0) throw new Error(`${file}: ${left} bytes still in the page cache after dropping it`);
}
