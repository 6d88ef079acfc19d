/**
 * `npm run bench`: bucketfs against s3fs and rclone mount (and the raw SDK
 * where a lower bound makes sense) on one loopback Ceph RGW, in one run:
 * ls -l of 10,000 entries (cold, warm), stat of 1,000 files by name, creating
 * 1,000 small files, writing and reading 1 GiB, renaming a directory of 1,000
 * files. Every run of a workload gets a fresh mount with an empty cache.
 * Tools are interleaved within each round (order rotated per round); three
 * rounds, medians. Prints one table and writes it as JSON to
 * bench-results/mount-<time>.json.
 *
 * For trials and analysis (reported numbers use the defaults):
 * BENCH_ROUNDS, BENCH_LARGE_MIB (size of the "1 GiB" file),
 * BENCH_WORKLOADS=ls,stat,create,write,read,rename and BENCH_TOOLS=bucketfs,s3fs,rclone,raw (subsets),
 * BENCH_COUNT_REQUESTS=1 (tools go through a counting proxy; adds a hop),
 * BENCH_CPU_PROFILE=1 (each bucketfs daemon runs under node --cpu-prof),
 * BENCH_DAEMON_LOGS=1 (each bucketfs daemon runs with BUCKETFS_DEBUG=1; its log is kept).
 * Profiles and logs go to bench-results/mount-<time>-profiles/ and -logs/.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { onPath, type S3Server } from '../servers/common.js';
import { bucketfsTool, rcloneTool, s3fsTool, stopAll, type BucketfsOptions, type FuseTool } from './mount-tools.js';
import { formatRequests, formatSummary, summariseResults, TARGETS, type Failure, type Result } from './mount-report.js';
import { ALL_WORKLOADS, type BenchContext, type RawVariant, type Timing, type Workload } from './mount-workloads.js';
import { RawSdkClient } from './raw-sdk.js';
import { RequestCounter } from './request-counter.js';
import { benchMain, loadLine, rotated, writeResults } from './runner.js';
import { startBenchServer, type BenchServer } from './server.js';
import { MiB, SMALL_SIZE, writeRandomFile } from './workloads.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LARGE_SIZE = Number(process.env['BENCH_LARGE_MIB'] ?? 1024) * MiB;
const chosen = (name: string) => process.env[name]?.split(',').map((s) => s.trim());
const WORKLOADS = chosen('BENCH_WORKLOADS');
const TOOLS = chosen('BENCH_TOOLS');
const COUNT_REQUESTS = process.env['BENCH_COUNT_REQUESTS'] === '1';
const CPU_PROFILE = process.env['BENCH_CPU_PROFILE'] === '1';
const DAEMON_LOGS = process.env['BENCH_DAEMON_LOGS'] === '1';
/** tmpfs: the source files cost every tool the same to read, and no disk noise enters the numbers. */
const SCRATCH_ROOT = '/dev/shm';
/** After SIGINT/SIGTERM, how long killed tools get to leave before the process exits anyway. */
const SIGNAL_CLEANUP_MS = 15_000;

type Contender = { kind: 'tool'; tool: FuseTool } | { kind: 'raw'; variant: RawVariant };

interface Setup {
  server: BenchServer;
  raw: RawSdkClient;
  counter?: RequestCounter;
  ctx: BenchContext;
  tools: FuseTool[];
  workloads: Workload[];
  diagnostics: BucketfsOptions;
}

const wanted = (list: string[] | undefined, name: string) => list === undefined || list.includes(name);

function chooseTools(server: S3Server, bucket: string, diagnostics: BucketfsOptions): FuseTool[] {
  const tools: FuseTool[] = [];
  if (wanted(TOOLS, 'bucketfs')) tools.push(bucketfsTool(server, bucket, diagnostics));
  for (const [name, make] of [['s3fs', s3fsTool], ['rclone', rcloneTool]] as const) {
    if (!wanted(TOOLS, name)) continue;
    if (onPath(name)) tools.push(make(server, bucket));
    else console.log(`SKIPPED: ${name}: not installed (apt-get install ${name})`);
  }
  return tools;
}

/** Fills `setup` step by step, so a failure half-way still lets tearDown release what was made. */
async function setUp(setup: Partial<Setup>, startedAt: Date): Promise<Setup> {
  setup.server = await startBenchServer();
  const bucket = `mount-bench-${randomBytes(4).toString('hex')}`;
  setup.raw = new RawSdkClient({ ...setup.server.s3, bucket });
  await setup.raw.ensureBucket();
  if (COUNT_REQUESTS) setup.counter = await RequestCounter.start(setup.server.s3.endpoint);
  const toolServer = setup.counter === undefined ? setup.server.s3 : { ...setup.server.s3, endpoint: setup.counter.endpoint };
  const base = join(process.cwd(), 'bench-results', `mount-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  setup.diagnostics = { ...(CPU_PROFILE ? { profileDir: `${base}-profiles` } : {}), ...(DAEMON_LOGS ? { logDir: `${base}-logs` } : {}) };
  setup.tools = chooseTools(toolServer, bucket, setup.diagnostics);
  const scratch = await mkdtemp(join(SCRATCH_ROOT, 'bucketfs-bench-mount-'));
  const counter = setup.counter;
  setup.ctx = {
    raw: setup.raw,
    scratch,
    bigSource: { path: join(scratch, 'big.bin'), size: LARGE_SIZE },
    // Text, so a shell variable can hold it: base64 of 3 KiB of random bytes is exactly 4 KiB.
    smallBody: Buffer.from(randomBytes((SMALL_SIZE / 4) * 3).toString('base64')),
    ...(counter === undefined ? {} : { takeRequests: () => counter.take() }),
  };
  setup.workloads = ALL_WORKLOADS.filter((w) => wanted(WORKLOADS, w.name));
  return setup as Setup;
}

async function tearDown(setup: Partial<Setup>): Promise<void> {
  await stopAll();
  if (setup.raw !== undefined) {
    const raw = setup.raw;
    await raw.list('').then((all) => raw.remove(all.map((o) => o.key))).then(() => raw.deleteBucket()).catch((e: unknown) => console.error('cleaning the bucket failed:', e));
    await raw.close();
  }
  await setup.counter?.close();
  if (setup.ctx !== undefined) rmSync(setup.ctx.scratch, { recursive: true, force: true });
  await setup.server?.stop();
}

async function prepareData(setup: Setup): Promise<void> {
  const t0 = performance.now();
  await writeRandomFile(setup.ctx.bigSource.path, setup.ctx.bigSource.size);
  for (const workload of setup.workloads) await workload.setUp?.(setup.ctx);
  console.log(`test data ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (objects PUT with the SDK, ${LARGE_SIZE / MiB} MiB source in ${SCRATCH_ROOT})`);
}

const rowOf = (c: Contender) => (c.kind === 'tool' ? c.tool.name : c.variant.label);
const slug = (c: Contender) => rowOf(c).replace(/\W+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
/** "4.94 s", or "cold 0.97 s, warm 0.06 s" when a run measures several things (the metrics' last words tell them apart). */
const describe = (timings: Timing[]) =>
  timings.map((t) => `${timings.length > 1 ? `${t.metric.split(' ').at(-1)} ` : ''}${t.seconds.toFixed(2)} s`).join(', ');

/** One workload on one contender: prepare, fresh mount, measure, stop, clean up. */
async function runOne(setup: Setup, workload: Workload, contender: Contender, tag: string): Promise<Timing[]> {
  await workload.prepare?.(setup.ctx, tag);
  try {
    if (contender.kind === 'raw') return await contender.variant.run(setup.ctx, tag);
    const mounted = await contender.tool.mount(`${workload.name}-${tag}`);
    try {
      return await workload.throughMount(setup.ctx, mounted.dir, tag);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${contender.tool.name} output:\n${mounted.output().slice(-2000)}`, { cause: e });
    } finally {
      await mounted.stop();
    }
  } finally {
    await workload.cleanup?.(setup.ctx, tag);
  }
}

async function runRound(setup: Setup, round: number, results: Result[], failures: Failure[]): Promise<void> {
  for (const workload of setup.workloads) {
    const raw = wanted(TOOLS, 'raw') ? workload.raw(setup.ctx).map((variant): Contender => ({ kind: 'raw', variant })) : [];
    const contenders = rotated([...setup.tools.map((tool): Contender => ({ kind: 'tool', tool })), ...raw], round);
    for (const contender of contenders) {
      const row = rowOf(contender);
      const kind = contender.kind === 'raw' ? 'raw' : row === 'bucketfs' ? 'bucketfs' : 'peer';
      try {
        const timings = await runOne(setup, workload, contender, `${slug(contender)}-r${round}`);
        for (const t of timings) results.push({ round, metric: t.metric, row, kind, seconds: t.seconds, ...(t.requests === undefined ? {} : { requests: t.requests }) });
        console.log(`  ${workload.name} / ${row}: ${describe(timings)}`);
      } catch (e) {
        failures.push({ round, workload: workload.name, row, error: String((e as Error).message) });
        console.error(`  ${workload.name} / ${row}: FAILED: ${(e as Error).message}`);
      }
    }
  }
}

async function report(setup: Setup, results: Result[], failures: Failure[], run: { startedAt: Date; loadStart: string }): Promise<void> {
  const rows = summariseResults(results, LARGE_SIZE);
  const loadEnd = loadLine();
  console.log(`\n${ROUNDS} rounds, medians; fresh mount and empty cache for every run; large file ${LARGE_SIZE / MiB} MiB`);
  console.log('bucketfs speedup = tool seconds / bucketfs seconds (> 1: bucketfs faster; vs raw SDK: the share of the SDK\'s speed bucketfs reaches)');
  for (const tool of setup.tools) console.log(`  ${tool.name}: ${tool.command}`);
  for (const workload of setup.workloads) console.log(`  ${workload.name}: ${workload.describe}`);
  console.log(`\n${formatSummary(rows)}`);
  if (COUNT_REQUESTS) console.log(`\n${formatRequests(rows)}`);
  const missed = rows.filter((r) => r.target?.met === false);
  const checked = rows.filter((r) => r.target !== undefined).length;
  console.log(`\ntargets: ${checked - missed.length} of ${checked} met${missed.length === 0 ? '' : `; missed: ${missed.map((r) => `${r.metric} vs ${r.row} (${r.speedup?.toFixed(2)}×, target ${r.target?.atLeast}×)`).join('; ')}`}`);
  if (failures.length > 0) console.log(`FAILED runs: ${failures.map((f) => `round ${f.round + 1} ${f.workload} / ${f.row}`).join('; ')}`);
  console.log(`load average at end: ${loadEnd}`);
  const record = {
    startedAt: run.startedAt.toISOString(), rounds: ROUNDS, largeMiB: LARGE_SIZE / MiB, countedRequests: COUNT_REQUESTS,
    machine: { cores: cpus().length, node: process.version, loadStart: run.loadStart, loadEnd },
    server: setup.server.description, tools: setup.tools.map((t) => ({ name: t.name, command: t.command })),
    workloads: setup.workloads.map((w) => ({ name: w.name, describe: w.describe })),
    targets: TARGETS, rows, failures, results,
  };
  console.log(`results: ${await writeResults('mount', run.startedAt, record)}`);
  if (setup.diagnostics.profileDir !== undefined) console.log(`bucketfs CPU profiles: ${setup.diagnostics.profileDir}`);
  if (setup.diagnostics.logDir !== undefined) console.log(`bucketfs daemon logs: ${setup.diagnostics.logDir}`);
  if (failures.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = loadLine();
  console.log(`load average at start: ${loadStart} (${cpus().length} cores)`);
  const setup: Partial<Setup> = {};
  // Tools are killed at once; their temp dirs and the tmpfs scratch go before the exit (the private RGW stops at exit).
  let interrupted = false;
  const stopOnSignal = () => {
    if (interrupted) return;
    interrupted = true;
    setTimeout(() => process.exit(130), SIGNAL_CLEANUP_MS);
    void stopAll().finally(() => {
      if (setup.ctx !== undefined) rmSync(setup.ctx.scratch, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  try {
    const ready = await setUp(setup, startedAt);
    console.log(`server: ${ready.server.description}${ready.counter === undefined ? '' : `; tools reach it through a request-counting proxy at ${ready.counter.endpoint}`}`);
    await prepareData(ready);
    const results: Result[] = [];
    const failures: Failure[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      console.log(`round ${round + 1}/${ROUNDS}`);
      await runRound(ready, round, results, failures);
      console.log(`round ${round + 1}/${ROUNDS} done in ${((performance.now() - t0) / 1000).toFixed(0)} s, load ${loadLine()}`);
    }
    await report(ready, results, failures, { startedAt, loadStart });
  } finally {
    await tearDown(setup);
  }
}

benchMain('bench', main);
