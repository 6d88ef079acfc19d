/**
 * The mount benchmark's data-path workloads: fio random reads of the large
 * file (cold, then with the daemon's cache warm), ten small appends to a
 * 100 MiB object, and fio random writes over a 256 MiB object then fsync —
 * each until the result is in the bucket where it writes. fio runs with the
 * psync engine (plain pread/pwrite), so every operation is one system call
 * the file system answers; reads use O_DIRECT (FUSE passes them to the
 * daemon) so the kernel's page cache is not what is measured.
 */
import { expect, once, shell, untilInBucket, type BenchContext, type Timing, type Workload } from './mount-steps.js';
import { READ_KEY, cacheForLargeFile, ensureReadObject } from './mount-workloads.js';
import { MiB } from './workloads.js';

/** Concurrent fio jobs of the random-read runs: four readers, each one synchronous pread at a time. */
const FIO_READ_JOBS = 4;
const APPEND_COUNT = 10;
const APPEND_BYTES = 1024;
const APPEND_MIB = 100;
const RANDWRITE_MIB = 256;
/**
 * Random writes per run: 16 MiB of 4 KiB blocks (1/16 of the file, so every
 * part of it is touched). All 65,536 blocks would take s3fs (about 130
 * writes/s here) over eight minutes a run.
 */
const RANDWRITE_COUNT = 4096;

export const DATA_METRICS = {
  randreadCold: 'fio randread 4 KiB on 1 GiB, cold (IOPS)',
  randreadCached: 'fio randread 4 KiB on 1 GiB, cached (IOPS)',
  append: `${APPEND_COUNT} appends of 1 KiB to a ${APPEND_MIB} MiB file, until in the bucket`,
  randwrite: `fio randwrite 4 KiB × ${RANDWRITE_COUNT.toLocaleString('en')} in a ${RANDWRITE_MIB} MiB file + fsync, until in the bucket`,
} as const;

/** The large-file workloads scale down with BENCH_LARGE_MIB (trials); these never exceed it. */
const appendBase = (ctx: BenchContext) => Math.min(APPEND_MIB * MiB, ctx.bigSource.size);
const randwriteSize = (ctx: BenchContext) => Math.min(RANDWRITE_MIB * MiB, ctx.bigSource.size);

interface FioSide {
  iops: number;
  /** Milliseconds. */
  runtime: number;
  io_bytes: number;
}

/** Runs fio with JSON output in `dir`; the read or write totals of its (grouped) job. */
async function fio(dir: string, args: string[], side: 'read' | 'write'): Promise<FioSide> {
  const { stdout } = await shell(`fio --output-format=json ${args.join(' ')}`, dir);
  // fio may print notes before the JSON document.
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: Record<'read' | 'write', FioSide>[] };
  const job = report.jobs[0];
  if (job === undefined) throw new Error(`fio ${args.join(' ')}: no job in its report`);
  return job[side];
}

function randreadArgs(ctx: BenchContext): string[] {
  return [
    '--name=randread', `--filename=${READ_KEY}`, '--readonly', '--rw=randread', '--bs=4k', `--size=${ctx.bigSource.size}`,
    '--ioengine=psync', '--direct=1', `--numjobs=${FIO_READ_JOBS}`, '--group_reporting', '--time_based', `--runtime=${ctx.fioSeconds}`,
    '--randrepeat=0', '--norandommap',
  ];
}

async function randreadTiming(ctx: BenchContext, metric: string, dir: string): Promise<Timing> {
  ctx.takeRequests?.();
  const read = await fio(dir, randreadArgs(ctx), 'read');
  if (read.iops <= 0) throw new Error(`${metric}: fio read nothing`);
  const requests = ctx.takeRequests?.();
  return { metric, seconds: read.runtime / 1000, iops: read.iops, bytes: read.io_bytes, ...(requests === undefined ? {} : { requests }) };
}

export const randread: Workload = {
  name: 'randread',
  describe: `fio --rw=randread --bs=4k --ioengine=psync --direct=1 --numjobs=${FIO_READ_JOBS} --time_based on ${READ_KEY} (the large file), `
    + 'on one fresh mount: cold; then, after one dd of the whole file (not timed) to fill the daemon\'s cache, cached',
  metrics: [DATA_METRICS.randreadCold, DATA_METRICS.randreadCached],
  bucketfsArgs: cacheForLargeFile,
  setUp: ensureReadObject,
  throughMount: async (ctx, dir) => {
    const cold = await randreadTiming(ctx, DATA_METRICS.randreadCold, dir);
    await shell(`dd if=${READ_KEY} of=/dev/null bs=1M status=none`, dir);
    return [cold, await randreadTiming(ctx, DATA_METRICS.randreadCached, dir)];
  },
  raw: () => [],
};

const APPEND_TEMPLATE = 'append-template.bin';
const appendKey = (tag: string) => `append-${tag}.bin`;

export const append: Workload = {
  name: 'append',
  describe: `${APPEND_COUNT} × \`printf '%s' "$kib" >> MNT/append.bin\` (each its own open, write, close) on an existing ${APPEND_MIB} MiB object, `
    + 'until a HEAD shows the final size',
  metrics: [DATA_METRICS.append],
  writes: true,
  setUp: (ctx) => once(ctx, APPEND_TEMPLATE, () => ctx.raw.uploads[0]!.run(ctx.bigSource.path, appendBase(ctx), APPEND_TEMPLATE)),
  prepare: (ctx, tag) => ctx.raw.copy(APPEND_TEMPLATE, appendKey(tag)),
  throughMount: async (ctx, dir, tag) => {
    const kib = ctx.smallBody.subarray(0, APPEND_BYTES).toString('latin1');
    const script = `kib='${kib}'; for i in $(seq ${APPEND_COUNT}); do printf '%s' "$kib" >> ${appendKey(tag)}; done`;
    const final = appendBase(ctx) + APPEND_COUNT * APPEND_BYTES;
    ctx.takeRequests?.();
    return [await untilInBucket(ctx, DATA_METRICS.append, async () => void (await shell(script, dir)), async () => (await ctx.raw.sizeOf(appendKey(tag))) === final)];
  },
  raw: () => [],
  cleanup: (ctx, tag) => ctx.raw.remove([appendKey(tag)]),
};

const RANDWRITE_TEMPLATE = 'randwrite-template.bin';
const randwriteKey = (tag: string) => `randwrite-${tag}.bin`;

export const randwrite: Workload = {
  name: 'randwrite',
  describe: `fio --rw=randwrite --bs=4k --io_size=${(RANDWRITE_COUNT * 4) / 1024}m --ioengine=psync --direct=0 --end_fsync=1 in an existing ${RANDWRITE_MIB} MiB object `
    + `(${RANDWRITE_COUNT} distinct 4 KiB blocks in random order), until a HEAD shows a new etag at the same size`,
  metrics: [DATA_METRICS.randwrite],
  writes: true,
  setUp: (ctx) => once(ctx, RANDWRITE_TEMPLATE, () => ctx.raw.uploads[0]!.run(ctx.bigSource.path, randwriteSize(ctx), RANDWRITE_TEMPLATE)),
  prepare: (ctx, tag) => ctx.raw.copy(RANDWRITE_TEMPLATE, randwriteKey(tag)),
  throughMount: async (ctx, dir, tag) => {
    const key = randwriteKey(tag);
    const size = randwriteSize(ctx);
    const before = await ctx.raw.info(key);
    const args = [
      '--name=randwrite', `--filename=${key}`, '--rw=randwrite', '--bs=4k', `--size=${size}`, `--io_size=${RANDWRITE_COUNT * 4096}`, '--ioengine=psync', '--direct=0',
      '--fallocate=none', '--end_fsync=1', '--randrepeat=0',
    ];
    let written = 0;
    ctx.takeRequests?.();
    const timing = await untilInBucket(ctx, DATA_METRICS.randwrite, async () => void (written = (await fio(dir, args, 'write')).io_bytes), async () => {
      const now = await ctx.raw.info(key);
      return now !== undefined && now.size === size && now.etag !== before?.etag;
    });
    expect(`${DATA_METRICS.randwrite}: bytes written by fio`, written, RANDWRITE_COUNT * 4096);
    return [{ ...timing, bytes: RANDWRITE_COUNT * 4096 }];
  },
  raw: () => [],
  cleanup: (ctx, tag) => ctx.raw.remove([randwriteKey(tag)]),
};

export const DATA_WORKLOADS = [randread, append, randwrite];
