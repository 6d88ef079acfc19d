/**
 * The mount benchmark's workloads, each run through a fresh mount of every
 * tool and, where a lower bound makes sense, with the raw SDK. Objects the
 * workload reads are put directly into the bucket with the SDK beforehand
 * (not timed); what it writes is removed afterwards (RGW's memstore holds
 * everything in RAM). File operations on mounts run in child processes
 * (bash, ls, stat, dd, mv) through the test harness's asynchronous `sh`.
 *
 * "Until in the bucket": when a listing made right after the command already
 * shows everything, the time is the command's; otherwise it is the end of the
 * first listing that does (polled every POLL_MS) — rclone uploads after close.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sh } from '../mount/harness.js';
import { directStatCommand, plainEnv } from '../mount/scenario-tree.js';
import type { RawSdkClient } from './raw-sdk.js';
import { SMALL_SIZE, pool } from './workloads.js';

export const LS_COUNT = 10_000;
export const STAT_COUNT = 1_000;
export const CREATE_COUNT = 1_000;
export const RENAME_COUNT = 1_000;
/** Setting up objects: as many PUTs in flight as a busy uploader would use. */
const SETUP_CONCURRENCY = 32;
/** The raw SDK's rename copies as many objects at once as bucketfs does. */
const RAW_COPY_CONCURRENCY = 16;
const POLL_MS = 100;
/** The slowest expected step (s3fs renaming 1,000 objects one by one, a 1 GiB upload on a loaded machine) fits well inside. */
const STEP_TIMEOUT_MS = 600_000;

export const METRICS = {
  lsCold: `ls -l of ${LS_COUNT.toLocaleString('en')} entries, cold`,
  lsWarm: `ls -l of ${LS_COUNT.toLocaleString('en')} entries, warm`,
  stat: `stat ${STAT_COUNT.toLocaleString('en')} files by name, cold`,
  create: `create ${CREATE_COUNT.toLocaleString('en')} × 4 KiB files`,
  write: 'write 1 GiB file (dd bs=1M)',
  read: 'read 1 GiB file, cold (dd bs=1M)',
  rename: `mv directory of ${RENAME_COUNT.toLocaleString('en')} files`,
} as const;

export interface BenchContext {
  raw: RawSdkClient;
  /** tmpfs directory for sources and path lists. */
  scratch: string;
  /** Random file (tmpfs) written through the mounts and uploaded by the raw SDK. */
  bigSource: { path: string; size: number };
  /** 4 KiB of text: the content of every small file. */
  smallBody: Buffer;
  /** Requests the tools sent since the last call, when requests are counted. */
  takeRequests?: () => Record<string, number>;
}

export interface Timing {
  metric: string;
  seconds: number;
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
const seconds = (from: number, to = performance.now()) => (to - from) / 1000;
const keyNumber = (i: number, width: number) => String(i).padStart(width, '0');

/** Runs a command in `cwd` (a mountpoint); its output, or an error with its stderr. */
async function shell(command: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  const result = await sh(command, { cwd, env: plainEnv(), timeoutMs: STEP_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`\`${command.slice(0, 200)}\` in ${cwd} exited ${result.code}: ${result.stderr.slice(-2000)}`);
  return result;
}

/** Times `command`, then waits until `inBucket` holds (see the module comment); tools' requests are counted to the end. */
async function untilInBucket(ctx: BenchContext, metric: string, command: () => Promise<void>, inBucket: () => Promise<boolean>): Promise<Timing> {
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

function withRequests(ctx: BenchContext, timing: Timing): Timing {
  const requests = ctx.takeRequests?.();
  return requests === undefined ? timing : { ...timing, requests };
}

async function timedShell(ctx: BenchContext, metric: string, command: string, cwd: string): Promise<{ timing: Timing; stdout: string; stderr: string }> {
  ctx.takeRequests?.();
  const start = performance.now();
  const out = await shell(command, cwd);
  return { timing: withRequests(ctx, { metric, seconds: seconds(start) }), ...out };
}

async function timedRaw(metric: string, work: () => Promise<void>): Promise<Timing[]> {
  const start = performance.now();
  await work();
  return [{ metric, seconds: seconds(start) }];
}

function expect(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: ${actual}, expected ${expected}`);
}

/** PUTs `count` small objects `<prefix>f<n>` in parallel. */
async function putMany(ctx: BenchContext, prefix: string, count: number, width: number): Promise<void> {
  await pool(count, SETUP_CONCURRENCY, (i) => ctx.raw.putSmall(`${prefix}f${keyNumber(i, width)}`, ctx.smallBody));
}

async function removePrefix(ctx: BenchContext, prefix: string): Promise<void> {
  await ctx.raw.remove((await ctx.raw.list(prefix)).map((o) => o.key));
}

const LS_DIR = 'ls10k';

export const listing: Workload = {
  name: 'ls',
  describe: `\`ls -l ${LS_DIR}\` (${LS_COUNT} objects of 4 KiB), twice on one fresh mount: cold, then warm`,
  setUp: (ctx) => putMany(ctx, `${LS_DIR}/`, LS_COUNT, 5),
  throughMount: async (ctx, dir) => {
    const command = `ls -l ${LS_DIR} | tail -n +2 | wc -l`;
    const out: Timing[] = [];
    for (const metric of [METRICS.lsCold, METRICS.lsWarm]) {
      const { timing, stdout } = await timedShell(ctx, metric, command, dir);
      expect(`${metric}: entries listed`, Number(stdout.trim()), LS_COUNT);
      out.push(timing);
    }
    return out;
  },
  raw: () => [{
    label: 'raw SDK (ListObjectsV2 pages)',
    run: (ctx) => timedRaw(METRICS.lsCold, async () => expect('objects listed', (await ctx.raw.list(`${LS_DIR}/`)).length, LS_COUNT)),
  }],
};

const STAT_DIR = 'stat1k';
const statPaths = () => Array.from({ length: STAT_COUNT }, (_, i) => `${STAT_DIR}/f${keyNumber(i, 4)}`);

export const stat: Workload = {
  name: 'stat',
  describe: `\`xargs stat --printf … < list\`: one stat process, ${STAT_COUNT} paths ${STAT_DIR}/fNNNN by name, no listing first`,
  setUp: async (ctx) => {
    await putMany(ctx, `${STAT_DIR}/`, STAT_COUNT, 4);
    await writeFile(join(ctx.scratch, 'stat-paths.txt'), `${statPaths().join('\n')}\n`);
  },
  throughMount: async (ctx, dir) => {
    // One `stat` process over every path (xargs), each stat'ed by name: no directory is listed first.
    const { timing, stdout } = await timedShell(ctx, METRICS.stat, directStatCommand(join(ctx.scratch, 'stat-paths.txt')), dir);
    const sized = stdout.split('\n').filter((line) => line.split('\t')[3] === String(SMALL_SIZE));
    expect(`${METRICS.stat}: files of ${SMALL_SIZE} bytes`, sized.length, STAT_COUNT);
    return [timing];
  },
  raw: () => [{
    label: 'raw SDK (HeadObject, one at a time)',
    run: (ctx) => timedRaw(METRICS.stat, async () => {
      for (const key of statPaths()) await ctx.raw.head(key);
    }),
  }],
};

const createPrefix = (tag: string) => `create/${tag}/`;

async function allCreated(ctx: BenchContext, tag: string): Promise<boolean> {
  const files = (await ctx.raw.list(createPrefix(tag))).filter((o) => /\/f\d+$/.test(o.key) && o.size === SMALL_SIZE);
  return files.length === CREATE_COUNT;
}

export const create: Workload = {
  name: 'create',
  describe: `bash loop \`printf '%s' "$data" > fNNN\` (4 KiB each) in a new directory, until all ${CREATE_COUNT} are listable in the bucket`,
  setUp: (ctx) => writeFile(join(ctx.scratch, 'small.txt'), ctx.smallBody),
  throughMount: async (ctx, dir, tag) => {
    // bash's builtin printf writes each file: no process per file, so the loop itself costs next to nothing.
    const script = `set -e; mkdir -p create/${tag}; cd create/${tag}; data=$(cat '${join(ctx.scratch, 'small.txt')}')
for i in $(seq -w 0 ${CREATE_COUNT - 1}); do printf '%s' "$data" > f$i; done`;
    ctx.takeRequests?.();
    return [await untilInBucket(ctx, METRICS.create, async () => void (await shell(script, dir)), () => allCreated(ctx, tag))];
  },
  raw: () => [{
    label: 'raw SDK (PutObject, one at a time)',
    run: (ctx, tag) => timedRaw(METRICS.create, async () => {
      for (let i = 0; i < CREATE_COUNT; i++) await ctx.raw.putSmall(`${createPrefix(tag)}f${keyNumber(i, 3)}`, ctx.smallBody);
    }),
  }],
  cleanup: (ctx, tag) => removePrefix(ctx, createPrefix(tag)),
};

const writeKey = (tag: string) => `bigw-${tag}`;

export const write: Workload = {
  name: 'write',
  describe: '`dd if=<random file in /dev/shm> of=MNT/bigw bs=1M`, until a HEAD shows the object at full size',
  throughMount: async (ctx, dir, tag) => {
    const { path, size } = ctx.bigSource;
    ctx.takeRequests?.();
    const command = async () => void (await shell(`dd if='${path}' of=${writeKey(tag)} bs=1M status=none`, dir));
    return [await untilInBucket(ctx, METRICS.write, command, async () => (await ctx.raw.sizeOf(writeKey(tag))) === size)];
  },
  // Both of the driver benchmark's raw uploads: parallel multipart and one streamed PutObject.
  raw: (ctx) => ctx.raw.uploads.map((method) => ({
    label: method.label,
    run: (ctx, tag) => timedRaw(METRICS.write, () => method.run(ctx.bigSource.path, ctx.bigSource.size, writeKey(tag))),
  })),
  cleanup: (ctx, tag) => ctx.raw.remove([writeKey(tag)]),
};

const READ_KEY = 'bigread.bin';

export const read: Workload = {
  name: 'read',
  describe: `\`dd if=MNT/${READ_KEY} of=/dev/null bs=1M\` (object put by the raw SDK, multipart 8 MiB parts)`,
  setUp: (ctx) => ctx.raw.uploads[0]!.run(ctx.bigSource.path, ctx.bigSource.size, READ_KEY),
  throughMount: async (ctx, dir) => {
    const { timing, stderr } = await timedShell(ctx, METRICS.read, `dd if=${READ_KEY} of=/dev/null bs=1M`, dir);
    expect(`${METRICS.read}: bytes read`, Number(/^(\d+) bytes/m.exec(stderr)?.[1]), ctx.bigSource.size);
    return [timing];
  },
  raw: () => [{
    label: 'raw SDK (GetObject stream, discarded)',
    run: (ctx) => timedRaw(METRICS.read, async () => expect('bytes read', await ctx.raw.drain(READ_KEY), ctx.bigSource.size)),
  }],
};

const renamePrefix = (tag: string) => `ren/${tag}/`;

async function allRenamed(ctx: BenchContext, tag: string): Promise<boolean> {
  const keys = (await ctx.raw.list(renamePrefix(tag))).map((o) => o.key);
  const moved = keys.filter((k) => /\/dst\/f\d+$/.test(k)).length;
  return moved === RENAME_COUNT && !keys.some((k) => k.includes('/src/'));
}

export const rename: Workload = {
  name: 'rename',
  describe: `\`mv ren/T/src ren/T/dst\` (${RENAME_COUNT} objects of 4 KiB), until the listing shows all under dst/ and none under src/`,
  prepare: (ctx, tag) => putMany(ctx, `${renamePrefix(tag)}src/`, RENAME_COUNT, 4),
  throughMount: async (ctx, dir, tag) => {
    ctx.takeRequests?.();
    const command = async () => void (await shell(`mv ren/${tag}/src ren/${tag}/dst`, dir));
    return [await untilInBucket(ctx, METRICS.rename, command, () => allRenamed(ctx, tag))];
  },
  raw: () => [{
    label: `raw SDK (CopyObject ×${RAW_COPY_CONCURRENCY} at a time, DeleteObjects)`,
    run: (ctx, tag) => timedRaw(METRICS.rename, async () => {
      const keys = Array.from({ length: RENAME_COUNT }, (_, i) => `${renamePrefix(tag)}src/f${keyNumber(i, 4)}`);
      await pool(keys.length, RAW_COPY_CONCURRENCY, (i) => ctx.raw.copy(keys[i]!, keys[i]!.replace('/src/', '/dst/')));
      await ctx.raw.remove(keys);
    }),
  }],
  cleanup: (ctx, tag) => removePrefix(ctx, renamePrefix(tag)),
};

export const ALL_WORKLOADS = [listing, stat, create, write, read, rename];
