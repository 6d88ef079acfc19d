/**
 * One phase of the mount benchmark: a server (the loopback RGW, or the null
 * server of the ceiling table), a fresh bucket on it, the tools and
 * workloads measured there, and its rounds. Each run of a workload gets a
 * fresh mount (empty cache) whose peak memory and cache size are watched;
 * tools are interleaved within a round (order rotated per round). A bucketfs
 * variant whose options this build lacks, and workload options it lacks,
 * are noted, never failed.
 */
import { randomBytes } from 'node:crypto';
import { stopAll, type FuseTool } from './mount-tools.js';
import type { Failure, NotAvailable, Result, RowKind } from './mount-report.js';
import type { BenchContext, RawVariant, Timing, Workload } from './mount-steps.js';
import { watchPeaks, type Peaks } from './peaks.js';
import { RawSdkClient } from './raw-sdk.js';
import { RequestCounter } from './request-counter.js';
import { rotated } from './runner.js';
import type { BenchServer } from './server.js';

export interface PhaseTool {
  tool: FuseTool;
  /** Runs only the workloads that write (a write-mode variant). */
  writesOnly: boolean;
}

export interface Phase {
  /** 'rgw' or 'null': results carry it. */
  name: string;
  server: BenchServer;
  raw: RawSdkClient;
  counter?: RequestCounter;
  ctx: BenchContext;
  tools: PhaseTool[];
  workloads: Workload[];
  /** Options `bucketfs mount --help` lists. */
  bucketfsOptions: ReadonlySet<string>;
  withRaw: boolean;
  notAvailable: NotAvailable[];
  /** Workload options this build lacks, by workload, for the report. */
  droppedArgs: Map<string, string[]>;
  /** 'workload/row' of peers too slow to run more than once. */
  slowPeers: Set<string>;
}

/** A peer's run longer than this is not repeated in later rounds: minutes a run buy nothing a second sample would tell. */
export const SLOW_PEER_SECONDS = 30;

type Contender = { kind: 'tool'; tool: FuseTool } | { kind: 'raw'; variant: RawVariant };

export interface PhaseSpec {
  name: string;
  server: BenchServer;
  /** Tools get the server's address (or the counting proxy's) and the bucket. */
  tools: (server: BenchServer['s3'], bucket: string) => PhaseTool[];
  workloads: Workload[];
  bucketfsOptions: ReadonlySet<string>;
  withRaw: boolean;
  countRequests: boolean;
  context: Omit<BenchContext, 'raw' | 'takeRequests'>;
}

/** Fills `phase` step by step, so a failure half-way still lets tearDownPhase release what was made. */
export async function setUpPhase(phase: Partial<Phase>, spec: PhaseSpec): Promise<Phase> {
  Object.assign(phase, {
    name: spec.name, server: spec.server, workloads: spec.workloads, bucketfsOptions: spec.bucketfsOptions,
    withRaw: spec.withRaw, notAvailable: [], droppedArgs: new Map(), slowPeers: new Set(),
  });
  const bucket = `mount-bench-${randomBytes(4).toString('hex')}`;
  phase.raw = new RawSdkClient({ ...spec.server.s3, bucket });
  await phase.raw.ensureBucket();
  if (spec.countRequests) phase.counter = await RequestCounter.start(spec.server.s3.endpoint);
  const counter = phase.counter;
  phase.tools = spec.tools(counter === undefined ? spec.server.s3 : { ...spec.server.s3, endpoint: counter.endpoint }, bucket);
  phase.ctx = { ...spec.context, raw: phase.raw, ...(counter === undefined ? {} : { takeRequests: () => counter.take() }) };
  return phase as Phase;
}

/** Emptying the bucket at the end; a server that stalls (RGW has, under heavy load) is left to its own shutdown at exit. */
const CLEAN_TIMEOUT_MS = 120_000;

export async function tearDownPhase(phase: Partial<Phase>): Promise<void> {
  await stopAll();
  if (phase.raw !== undefined) {
    const raw = phase.raw;
    const clean = raw.list('').then((all) => raw.remove(all.map((o) => o.key))).then(() => raw.deleteBucket());
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done in ${CLEAN_TIMEOUT_MS / 1000} s; the server's objects stay until it stops`)), CLEAN_TIMEOUT_MS);
    });
    await Promise.race([clean, stalled]).catch((e: unknown) => console.error('cleaning the bucket failed:', e instanceof Error ? e.message : e));
    clearTimeout(timer);
    await raw.close();
  }
  await phase.counter?.close();
  await phase.server?.stop();
}

const isBucketfs = (tool: FuseTool) => tool.name.startsWith('bucketfs');
const missingNeeds = (phase: Phase, tool: FuseTool) => (tool.needs ?? []).filter((o) => !phase.bucketfsOptions.has(o));

/** Notes every (workload, tool) that cannot run for a missing option; the rounds skip them. */
export function noteUnavailable(phase: Phase): void {
  for (const workload of phase.workloads) {
    for (const { tool, writesOnly } of phase.tools) {
      const missing = missingNeeds(phase, tool);
      if (missing.length === 0 || (writesOnly && workload.writes !== true)) continue;
      phase.notAvailable.push({ server: phase.name, metrics: workload.metrics, row: tool.name, reason: `option missing: ${missing.join(', ')}` });
    }
  }
}

/** `args` (flags, each with its value when the next word is not a flag) kept where this build has the flag. */
function usableArgs(phase: Phase, workload: Workload): string[] {
  const args = workload.bucketfsArgs?.(phase.ctx) ?? [];
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] as string;
    const value = args[i + 1] !== undefined && !args[i + 1]!.startsWith('--') ? [args[++i] as string] : [];
    if (phase.bucketfsOptions.has(flag)) kept.push(flag, ...value);
    else phase.droppedArgs.set(workload.name, [...new Set([...(phase.droppedArgs.get(workload.name) ?? []), flag])]);
  }
  return kept;
}

const rowOf = (c: Contender) => (c.kind === 'tool' ? c.tool.name : c.variant.label);
const slug = (c: Contender) => rowOf(c).replace(/\W+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : (bytes / 2 ** 20).toFixed(0));
/** "4.94 s", "12,345 IOPS", several joined by " / ", and the tool's peaks. */
const describe = (timings: readonly (Timing & Peaks)[]) =>
  timings.map((t) => (t.iops === undefined ? `${t.seconds.toFixed(2)} s` : `${Math.round(t.iops).toLocaleString('en')} IOPS`)).join(' / ')
  + (timings[0]?.rssBytes === undefined ? '' : ` [RSS ${mib(timings[0].rssBytes)} MiB, cache ${mib(timings[0].cacheBytes)} MiB]`);

/** One run of a workload through a fresh mount: prepare, mount, measure while watching peaks, stop, clean up. */
async function throughTool(phase: Phase, workload: Workload, tool: FuseTool, tag: string): Promise<(Timing & Peaks)[]> {
  const extra = isBucketfs(tool) ? usableArgs(phase, workload) : [];
  const mounted = await tool.mount(`${workload.name}-${tag}`, extra);
  const peaks = watchPeaks(mounted);
  try {
    const timings = await workload.throughMount(phase.ctx, mounted.dir, tag);
    const seen = await peaks.finish();
    return timings.map((t) => ({ ...t, ...seen }));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${tool.name} output:\n${mounted.output().slice(-2000)}`, { cause: e });
  } finally {
    await peaks.finish();
    await mounted.stop();
  }
}

async function runOne(phase: Phase, workload: Workload, contender: Contender, tag: string): Promise<(Timing & Peaks)[]> {
  await workload.prepare?.(phase.ctx, tag);
  try {
    if (contender.kind === 'raw') return await contender.variant.run(phase.ctx, tag);
    return await throughTool(phase, workload, contender.tool, tag);
  } finally {
    await workload.cleanup?.(phase.ctx, tag);
  }
}

function contendersOf(phase: Phase, workload: Workload, round: number): Contender[] {
  const tools = phase.tools
    .filter(({ tool, writesOnly }) => (!writesOnly || workload.writes === true) && missingNeeds(phase, tool).length === 0)
    .filter(({ tool }) => !phase.slowPeers.has(`${workload.name}/${tool.name}`))
    .map(({ tool }): Contender => ({ kind: 'tool', tool }));
  const raw = phase.withRaw ? workload.raw(phase.ctx).map((variant): Contender => ({ kind: 'raw', variant })) : [];
  return rotated([...tools, ...raw], round);
}

export async function runRound(phase: Phase, round: number, results: Result[], failures: Failure[]): Promise<void> {
  for (const workload of phase.workloads) {
    for (const contender of contendersOf(phase, workload, round)) {
      const row = rowOf(contender);
      const kind: RowKind = contender.kind === 'raw' ? 'raw' : isBucketfs(contender.tool) ? 'bucketfs' : 'peer';
      try {
        const timings = await runOne(phase, workload, contender, `${phase.name}-${slug(contender)}-r${round}`);
        for (const t of timings) results.push({ server: phase.name, round, row, kind, ...t });
        const slow = kind === 'peer' && timings.some((t) => t.seconds > SLOW_PEER_SECONDS);
        if (slow) phase.slowPeers.add(`${workload.name}/${row}`);
        console.log(`  ${workload.name} / ${row}: ${describe(timings)}${slow ? ` (over ${SLOW_PEER_SECONDS} s: not run again)` : ''}`);
      } catch (e) {
        failures.push({ server: phase.name, round, workload: workload.name, row, error: String((e as Error).message) });
        console.error(`  ${workload.name} / ${row}: FAILED: ${(e as Error).message}`);
      }
    }
  }
}
