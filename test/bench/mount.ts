/**
 * `npm run bench`: bucketfs against s3fs and rclone mount (and the raw SDK
 * where a lower bound makes sense) on one loopback Ceph RGW, in one run:
 * ls -l of 10,000 entries (cold, warm), stat of 1,000 files by name, creating
 * 1,000 small files, writing and reading 1 GiB (cold, warm, with the page
 * cache dropped), renaming a directory of 1,000 files, fio 4 KiB random
 * reads (cold, cached), ten 1 KiB appends to 100 MiB, fio 4 KiB random
 * writes over 256 MiB then fsync. Workloads that write run in bucketfs's
 * sync mode and again in its async mode (`bucketfs async`, until in the
 * bucket). Every run of a workload gets a fresh mount with an empty cache;
 * the peak memory (VmHWM) and cache size of the mounted tool are recorded.
 * Tools are interleaved within each round (order rotated per round); three
 * rounds, medians — except that a peer whose first run of a workload took
 * over SLOW_PEER_SECONDS is not run again (s3fs creating 1,000 files or
 * renaming them takes minutes a run; its single sample is shown, n = 1).
 *
 * Then the ceiling table: bucketfs and the raw SDK against the null server
 * (null-server.ts: stores nothing, serves GETs from memory) for the write,
 * read and random-read workloads, so the daemon's own limit shows apart
 * from RGW's. Prints both tables and writes everything as JSON to
 * bench-results/mount-<time>.json.
 *
 * For trials and analysis (reported numbers use the defaults):
 * BENCH_ROUNDS, BENCH_LARGE_MIB (size of the "1 GiB" file), BENCH_FIO_SECONDS (each fio read run, default 5),
 * BENCH_WORKLOADS=ls,stat,create,write,read,rename,randread,append,randwrite and
 * BENCH_TOOLS=bucketfs,bucketfs-async,s3fs,rclone,raw (subsets), BENCH_CEILING=0 (skip the null-server table),
 * BENCH_BUCKETFS_ARGS='--memory-limit 128M' (added to every bucketfs mount),
 * BENCH_COUNT_REQUESTS=1 (tools go through a counting proxy; adds a hop),
 * BENCH_CPU_PROFILE=1 (each bucketfs daemon runs under node --cpu-prof),
 * BENCH_DAEMON_LOGS=1 (each bucketfs daemon runs with BUCKETFS_DEBUG=1; its log is kept).
 * BUCKETFS_RGW_STOCK_TCP=1 runs RGW with Ceph's default sockets (no tcp_nodelay): every small
 * reply then waits ~40 ms for a delayed ACK (test/servers/ceph-conf.ts), which slows the tools
 * that send many small requests far more than the others.
 * Profiles and logs go to bench-results/mount-<time>-profiles/ and -logs/.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { onPath } from '../servers/common.js';
import { DATA_WORKLOADS, randread } from './mount-data.js';
import { noteUnavailable, runRound, setUpPhase, tearDownPhase, type Phase, type PhaseSpec, type PhaseTool } from './mount-phase.js';
import { formatRequests, formatSummary, formatTargetLine, summariseResults, RSS_LIMIT_BYTES, TARGETS, type Failure, type Result } from './mount-report.js';
import type { BenchContext, Workload } from './mount-steps.js';
import { bucketfsMountOptions, bucketfsTool, rcloneTool, s3fsTool, stopAll, type BucketfsOptions } from './mount-tools.js';
import { NAMESPACE_WORKLOADS, read, write } from './mount-workloads.js';
import { startNullServer } from './null-server.js';
import { benchMain, loadLine, writeResults } from './runner.js';
import { startBenchServer, type BenchServer } from './server.js';
import { MiB, SMALL_SIZE, writeRandomFile } from './workloads.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LARGE_SIZE = Number(process.env['BENCH_LARGE_MIB'] ?? 1024) * MiB;
const FIO_SECONDS = Number(process.env['BENCH_FIO_SECONDS'] ?? 5);
const chosen = (name: string) => process.env[name]?.split(',').map((s) => s.trim());
const WORKLOADS = chosen('BENCH_WORKLOADS');
const TOOLS = chosen('BENCH_TOOLS');
const CEILING = process.env['BENCH_CEILING'] !== '0';
const BUCKETFS_ARGS = (process.env['BENCH_BUCKETFS_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
const COUNT_REQUESTS = process.env['BENCH_COUNT_REQUESTS'] === '1';
const CPU_PROFILE = process.env['BENCH_CPU_PROFILE'] === '1';
const DAEMON_LOGS = process.env['BENCH_DAEMON_LOGS'] === '1';
/** tmpfs: the source files cost every tool the same to read, and no disk noise enters the numbers. */
const SCRATCH_ROOT = '/dev/shm';
/** After SIGINT/SIGTERM, how long killed tools get to leave before the process exits anyway. */
const SIGNAL_CLEANUP_MS = 15_000;
const ASYNC = { name: 'bucketfs async', args: ['--write-mode', 'async'] } as const;

const ALL_WORKLOADS: Workload[] = [...NAMESPACE_WORKLOADS, ...DATA_WORKLOADS];
const CEILING_WORKLOADS: Workload[] = [write, read, randread];
const wanted = (list: string[] | undefined, name: string) => list === undefined || list.includes(name);
const selected = (workloads: Workload[]) => workloads.filter((w) => wanted(WORKLOADS, w.name));

/** What the whole run shares across phases. */
interface Run {
  startedAt: Date;
  loadStart: string;
  scratch: string;
  context: Omit<BenchContext, 'raw' | 'takeRequests'>;
  bucketfsOptions: Set<string>;
  diagnostics: BucketfsOptions;
}

function rgwTools(run: Run) {
  return (server: BenchServer['s3'], bucket: string): PhaseTool[] => {
    const tools: PhaseTool[] = [];
    if (wanted(TOOLS, 'bucketfs')) tools.push({ tool: bucketfsTool(server, bucket, run.diagnostics), writesOnly: false });
    if (wanted(TOOLS, 'bucketfs-async')) tools.push({ tool: bucketfsTool(server, bucket, run.diagnostics, ASYNC), writesOnly: true });
    for (const [name, make] of [['s3fs', s3fsTool], ['rclone', rcloneTool]] as const) {
      if (!wanted(TOOLS, name)) continue;
      if (onPath(name)) tools.push({ tool: make(server, bucket), writesOnly: false });
      else console.log(`SKIPPED: ${name}: not installed (apt-get install ${name})`);
    }
    return tools;
  };
}

async function prepareRun(startedAt: Date, loadStart: string, scratch: string): Promise<Run> {
  const base = join(process.cwd(), 'bench-results', `mount-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  const bucketfsOptions = await bucketfsMountOptions();
  // The mount command returns once the daemon serves unless told to stay: the benchmark watches the daemon itself.
  const args = [...(bucketfsOptions.has('--foreground') ? ['--foreground'] : []), ...BUCKETFS_ARGS];
  const t0 = performance.now();
  const bigSource = { path: join(scratch, 'big.bin'), size: LARGE_SIZE };
  await writeRandomFile(bigSource.path, LARGE_SIZE);
  console.log(`${LARGE_SIZE / MiB} MiB random source in ${SCRATCH_ROOT} ready in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return {
    startedAt, loadStart, scratch,
    // Text, so a shell variable can hold it: base64 of 3 KiB of random bytes is exactly 4 KiB.
    context: { scratch, bigSource, smallBody: Buffer.from(randomBytes((SMALL_SIZE / 4) * 3).toString('base64')), fioSeconds: FIO_SECONDS },
    bucketfsOptions,
    diagnostics: { args, ...(CPU_PROFILE ? { profileDir: `${base}-profiles` } : {}), ...(DAEMON_LOGS ? { logDir: `${base}-logs` } : {}) },
  };
}

/** Sets up one phase, prepares its data, runs its rounds, and always tears it down. */
async function runPhase(spec: PhaseSpec, results: Result[], failures: Failure[], done: Phase[]): Promise<void> {
  const phase: Partial<Phase> = {};
  try {
    const ready = await setUpPhase(phase, spec);
    console.log(`\n[${spec.name}] server: ${ready.server.description}${ready.counter === undefined ? '' : `; tools reach it through a request-counting proxy at ${ready.counter.endpoint}`}`);
    noteUnavailable(ready);
    for (const n of ready.notAvailable) console.log(`  n/a: ${n.row}: ${n.reason} (${n.metrics.join('; ')})`);
    const t0 = performance.now();
    for (const workload of ready.workloads) await workload.setUp?.(ready.ctx);
    console.log(`[${spec.name}] test data ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (objects PUT with the SDK)`);
    for (let round = 0; round < ROUNDS; round++) {
      const t1 = performance.now();
      console.log(`[${spec.name}] round ${round + 1}/${ROUNDS}`);
      await runRound(ready, round, results, failures);
      console.log(`[${spec.name}] round ${round + 1}/${ROUNDS} done in ${((performance.now() - t1) / 1000).toFixed(0)} s, load ${loadLine()}`);
    }
    done.push(ready);
    // Shown now too: a server that hangs while the bucket is emptied must not take the numbers with it.
    console.log(formatPhase(ready, results));
  } finally {
    await tearDownPhase(phase);
  }
}

const PHASE_TITLES: Record<string, string> = {
  rgw: 'loopback Ceph RGW',
  null: 'ceiling: null server (discards uploads, serves GETs from memory) — the daemon\'s own limit',
};

const METRIC_ORDER = [...new Set(ALL_WORKLOADS.flatMap((w) => w.metrics))];
const tableOf = (p: Phase, results: Result[]) => ({
  phase: p.name, title: PHASE_TITLES[p.name] ?? p.name, server: p.server.description, rows: summariseResults(p.name, results, p.notAvailable, METRIC_ORDER),
});

function formatPhase(p: Phase, results: Result[]): string {
  const table = tableOf(p, results);
  const requests = COUNT_REQUESTS ? `\n\n${formatRequests(table.rows)}` : '';
  return `\n${table.title}: ${table.server}\n${formatSummary(table.rows)}\n${formatTargetLine(table.rows)}${requests}`;
}

async function report(run: Run, phases: Phase[], results: Result[], failures: Failure[]): Promise<void> {
  const loadEnd = loadLine();
  const minutes = (Date.now() - run.startedAt.getTime()) / 60_000;
  console.log(`\n${ROUNDS} rounds, medians (peaks: largest over rounds); fresh mount and empty cache for every run; large file ${LARGE_SIZE / MiB} MiB; fio read runs ${FIO_SECONDS} s`);
  console.log('bucketfs speedup = how many times faster bucketfs (sync) is than the row: tool seconds / bucketfs seconds, or bucketfs IOPS / tool IOPS (vs raw SDK: the share of the SDK\'s speed bucketfs reaches)');
  console.log('a target against a peer ends with (raw SDK: N×): how many times faster than that peer the raw SDK row is on the same server');
  const tools = new Map(phases.flatMap((p) => p.tools.map(({ tool }) => [tool.name, tool.command] as const)));
  for (const [name, command] of tools) console.log(`  ${name}: ${command}`);
  for (const workload of ALL_WORKLOADS.filter((w) => phases.some((p) => p.workloads.includes(w)))) {
    const dropped = [...new Set(phases.flatMap((p) => p.droppedArgs.get(workload.name) ?? []))];
    const args = workload.bucketfsArgs?.(phases[0]!.ctx) ?? [];
    const note = args.length === 0 ? '' : ` [bucketfs gets ${args.join(' ')}${dropped.length === 0 ? '' : `; not in this build, left out: ${dropped.join(', ')}`}]`;
    console.log(`  ${workload.name}: ${workload.describe}${note}`);
  }
  const tables = phases.map((p) => tableOf(p, results));
  for (const p of phases) console.log(formatPhase(p, results));
  if (failures.length > 0) console.log(`FAILED runs: ${failures.map((f) => `[${f.server}] round ${f.round + 1} ${f.workload} / ${f.row}`).join('; ')}`);
  console.log(`load average at end: ${loadEnd}; total time ${minutes.toFixed(1)} min`);
  const record = {
    startedAt: run.startedAt.toISOString(), minutes, rounds: ROUNDS, largeMiB: LARGE_SIZE / MiB, fioSeconds: FIO_SECONDS, countedRequests: COUNT_REQUESTS,
    machine: { cores: cpus().length, node: process.version, loadStart: run.loadStart, loadEnd },
    bucketfsMountOptions: [...run.bucketfsOptions].sort(), bucketfsExtraArgs: run.diagnostics.args ?? [],
    tools: [...tools].map(([name, command]) => ({ name, command })),
    workloads: ALL_WORKLOADS.map((w) => ({ name: w.name, describe: w.describe, metrics: w.metrics })),
    targets: TARGETS, rssLimitBytes: RSS_LIMIT_BYTES, tables, notAvailable: phases.flatMap((p) => p.notAvailable), failures, results,
  };
  console.log(`results: ${await writeResults('mount', run.startedAt, record)}`);
  if (run.diagnostics.profileDir !== undefined) console.log(`bucketfs CPU profiles: ${run.diagnostics.profileDir}`);
  if (run.diagnostics.logDir !== undefined) console.log(`bucketfs daemon logs: ${run.diagnostics.logDir}`);
  if (failures.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = loadLine();
  console.log(`load average at start: ${loadStart} (${cpus().length} cores)`);
  const scratch = await mkdtemp(join(SCRATCH_ROOT, 'bucketfs-bench-mount-'));
  // Tools are killed at once; their temp dirs and the tmpfs scratch go before the exit (the private RGW stops at exit).
  let interrupted = false;
  const stopOnSignal = () => {
    if (interrupted) return;
    interrupted = true;
    const leave = () => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    };
    setTimeout(leave, SIGNAL_CLEANUP_MS);
    void stopAll().finally(leave);
  };
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal);
  try {
    const run = await prepareRun(startedAt, loadStart, scratch);
    const common = { bucketfsOptions: run.bucketfsOptions, withRaw: wanted(TOOLS, 'raw'), countRequests: COUNT_REQUESTS, context: run.context };
    const results: Result[] = [];
    const failures: Failure[] = [];
    const phases: Phase[] = [];
    await runPhase({ ...common, name: 'rgw', server: await startBenchServer(), tools: rgwTools(run), workloads: selected(ALL_WORKLOADS) }, results, failures, phases);
    const ceiling = selected(CEILING_WORKLOADS);
    if (CEILING && ceiling.length > 0 && wanted(TOOLS, 'bucketfs')) {
      const tools = (server: BenchServer['s3'], bucket: string): PhaseTool[] => [{ tool: bucketfsTool(server, bucket, run.diagnostics), writesOnly: false }];
      await runPhase({ ...common, name: 'null', server: await startNullServer(), tools, workloads: ceiling }, results, failures, phases);
    }
    await report(run, phases, results, failures);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

benchMain('bench', main);
