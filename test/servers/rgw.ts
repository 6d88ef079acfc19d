/**
 * The Ceph RADOS Gateway that tests and benchmarks run against, and who owns it.
 *
 * One gateway serves a whole tap run: test/servers/setup.ts (tap `before`)
 * starts it and writes its connection record to a state file named after the
 * tap runner's pid; every test file, also a child of that runner, finds it
 * through its parent pid, and test/servers/teardown.ts (tap `after`) stops it.
 * A process with no shared gateway (one test file run by hand, a benchmark)
 * starts a private one, stopped when the process exits. Either way a watchdog
 * stops the cluster if its owner dies without cleaning up.
 *
 * Callers use their own bucket names (random suffix): nothing global to clean.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CEPH_PROGRAMS, slowOpsReport, startRgwCluster, stopRgwCluster, type RgwCluster } from './ceph-cluster.js';
import { livePids, onPath, type S3Server, type Skipped } from './common.js';

export type { S3Server, Skipped } from './common.js';

export const NOT_INSTALLED = 'ceph-mon/radosgw not installed (apt-get install ceph-mon ceph-osd radosgw)';

/** What a state file holds: a running shared gateway, or why none could start. */
export type RgwState = { owner: number } & ({ skipped: string } | { cluster: RgwCluster });

export function rgwStatePath(ownerPid: number): string {
  return join(tmpdir(), 'bucketfs-test-servers', `rgw-${ownerPid}.json`);
}

export function readRgwState(ownerPid: number): RgwState | undefined {
  try {
    return JSON.parse(readFileSync(rgwStatePath(ownerPid), 'utf8')) as RgwState;
  } catch {
    return undefined;
  }
}

/** Written to a temp name then renamed, so a test file never reads half a record. */
export function writeRgwState(state: RgwState): void {
  const path = rgwStatePath(state.owner);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

/** Starts a cluster owned by `ownerPid`, or says why it cannot run; never throws for a server problem. */
export async function startRgw(ownerPid: number, extraPaths: string[] = []): Promise<RgwState> {
  if (!CEPH_PROGRAMS.every(onPath)) return { owner: ownerPid, skipped: NOT_INSTALLED };
  try {
    return { owner: ownerPid, cluster: await startRgwCluster(ownerPid, extraPaths) };
  } catch (error) {
    return { owner: ownerPid, skipped: error instanceof Error ? error.message : String(error) };
  }
}

/** Stops the cluster a state describes (if any) and removes its state file; first returns what went slow in it (slowOpsReport). */
export function stopRgw(state: RgwState): string[] {
  if (!('cluster' in state)) {
    rmSync(rgwStatePath(state.owner), { force: true });
    return [];
  }
  const report = slowOpsReport(state.cluster);
  stopRgwCluster(state.cluster, [rgwStatePath(state.owner)]);
  return report;
}

let privateGateway: Promise<S3Server | Skipped> | undefined;

/**
 * The gateway for this process: the run's shared one if tap's `before` left
 * one for our parent, else a private one started on first call (all callers
 * in the process share it) and stopped when the process exits.
 */
export async function useRgw(): Promise<S3Server | Skipped> {
  const shared = readRgwState(process.ppid);
  if (shared !== undefined && 'skipped' in shared) return { skipped: shared.skipped };
  if (shared !== undefined && isRunning(shared.cluster)) return shared.cluster.server;
  privateGateway ??= startPrivate();
  return privateGateway;
}

function isRunning(cluster: RgwCluster): boolean {
  return livePids(cluster.dir, cluster.pids).length === cluster.pids.length;
}

async function startPrivate(): Promise<S3Server | Skipped> {
  const state = await startRgw(process.pid);
  if ('skipped' in state) return { skipped: state.skipped };
  const { cluster } = state;
  process.once('exit', () => stopRgwCluster(cluster));
  return cluster.server;
}
