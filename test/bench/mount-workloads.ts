/**
 * The mount benchmark's namespace and whole-file workloads, each run through
 * a fresh mount of every tool and, where a lower bound makes sense, with the
 * raw SDK: ls -l, stat by name, creating small files, writing and reading a
 * large file (cold, then again on the same mount), renaming a directory.
 * Objects the workload reads are put directly into the bucket with the SDK
 * beforehand (not timed); what it writes is removed afterwards (RGW's
 * memstore holds everything in RAM). File operations on mounts run in child
 * processes (bash, ls, stat, dd, mv) through the test harness's asynchronous `sh`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { directStatCommand } from '../mount/scenario-tree.js';
import {
  dropPageCache, expect, keyNumber, once, putMany, removePrefix, shell, timedRaw, timedShell, untilInBucket,
  type BenchContext, type Timing, type Workload,
} from './mount-steps.js';
import { SMALL_SIZE, pool } from './workloads.js';

export const LS_COUNT = 10_000;
export const STAT_COUNT = 1_000;
export const CREATE_COUNT = 1_000;
export const RENAME_COUNT = 1_000;
/** The raw SDK's rename copies as many objects at once as bucketfs does. */
const RAW_COPY_CONCURRENCY = 16;

export const METRICS = {
  lsCold: `ls -l of ${LS_COUNT.toLocaleString('en')} entries, cold`,
  lsWarm: `ls -l of ${LS_COUNT.toLocaleString('en')} entries, warm`,
  stat: `stat ${STAT_COUNT.toLocaleString('en')} files by name, cold`,
  create: `create ${CREATE_COUNT.toLocaleString('en')} × 4 KiB files`,
  write: 'write 1 GiB file (dd bs=1M), until in the bucket',
  read: 'read 1 GiB file, cold (dd bs=1M)',
  readWarm: 'read 1 GiB again, same mount (page cache as left)',
  readCached: 'read 1 GiB again, page cache dropped (daemon cache)',
  rename: `mv directory of ${RENAME_COUNT.toLocaleString('en')} files`,
} as const;

const LS_DIR = 'ls10k';

export const listing: Workload = {
  name: 'ls',
  describe: `\`ls -l ${LS_DIR}\` (${LS_COUNT} objects of 4 KiB), twice on one fresh mount: cold, then warm`,
  metrics: [METRICS.lsCold, METRICS.lsWarm],
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
  metrics: [METRICS.stat],
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
  metrics: [METRICS.create],
  writes: true,
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
  metrics: [METRICS.write],
  writes: true,
  throughMount: async (ctx, dir, tag) => {
    const { path, size } = ctx.bigSource;
    ctx.takeRequests?.();
    const command = async () => void (await shell(`dd if='${path}' of=${writeKey(tag)} bs=1M status=none`, dir));
    return [{ ...(await untilInBucket(ctx, METRICS.write, command, async () => (await ctx.raw.sizeOf(writeKey(tag))) === size)), bytes: size }];
  },
  // Both of the driver benchmark's raw uploads: parallel multipart and one streamed PutObject.
  raw: (ctx) => ctx.raw.uploads.map((method) => ({
    label: method.label,
    run: (ctx, tag) => timedRaw(METRICS.write, () => method.run(ctx.bigSource.path, ctx.bigSource.size, writeKey(tag)), ctx.bigSource.size),
  })),
  cleanup: (ctx, tag) => ctx.raw.remove([writeKey(tag)]),
};

export const READ_KEY = 'bigread.bin';

/** The large object the read workloads read (put once, by the raw SDK's multipart upload, 8 MiB parts). */
export const ensureReadObject = (ctx: BenchContext) =>
  once(ctx, READ_KEY, () => ctx.raw.uploads[0]!.run(ctx.bigSource.path, ctx.bigSource.size, READ_KEY));

/** Room in bucketfs's cache for the whole large file twice over, so "cached" means cached (when --cache-size exists). */
export const cacheForLargeFile = (ctx: BenchContext) => ['--cache-size', `${Math.ceil((2 * ctx.bigSource.size) / 2 ** 30)}G`];

/** `dd` of the large file to /dev/null, checked for its byte count. */
async function ddRead(ctx: BenchContext, metric: string, dir: string) {
  const { timing, stderr } = await timedShell(ctx, metric, `dd if=${READ_KEY} of=/dev/null bs=1M`, dir);
  expect(`${metric}: bytes read`, Number(/^(\d+) bytes/m.exec(stderr)?.[1]), ctx.bigSource.size);
  return { ...timing, bytes: ctx.bigSource.size };
}

export const read: Workload = {
  name: 'read',
  describe: `\`dd if=MNT/${READ_KEY} of=/dev/null bs=1M\` three times on one fresh mount: cold; again (whatever the kernel kept); `
    + 'again after dropping the file\'s pages from the page cache (fadvise DONTNEED via dd iflag=nocache, checked with fincore), so the daemon serves it',
  metrics: [METRICS.read, METRICS.readWarm, METRICS.readCached],
  bucketfsArgs: cacheForLargeFile,
  setUp: ensureReadObject,
  throughMount: async (ctx, dir) => {
    const cold = await ddRead(ctx, METRICS.read, dir);
    const warm = await ddRead(ctx, METRICS.readWarm, dir);
    await dropPageCache(READ_KEY, dir);
    return [cold, warm, await ddRead(ctx, METRICS.readCached, dir)];
  },
  raw: () => [{
    label: 'raw SDK (GetObject stream, discarded)',
    run: (ctx) => timedRaw(METRICS.read, async () => expect('bytes read', await ctx.raw.drain(READ_KEY), ctx.bigSource.size), ctx.bigSource.size),
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
  metrics: [METRICS.rename],
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

export const NAMESPACE_WORKLOADS = [listing, stat, create, write, read, rename];
