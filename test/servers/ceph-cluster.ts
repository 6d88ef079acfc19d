/**
 * Starts and stops a one-node Ceph cluster that serves S3 on loopback:
 * ceph-mon, one ceph-osd on memstore and radosgw (beast), auth none, pool
 * size 1. Everything it writes (conf, mon store, logs, sockets, pid list)
 * lives in one temp dir. Each daemon runs in the foreground of a detached
 * child, so its pid is known and it can outlive the process that started it
 * (the tap `before` script); a watchdog stops it when its owner ends.
 *
 * It knows nothing of tap or of state files: see rgw.ts for who owns a cluster.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cephConf, type CephPorts } from './ceph-conf.js';
import {
  freePorts,
  recordPid,
  startWatchdog,
  stopHarness,
  tailFile,
  waitForS3,
  type S3Server,
} from './common.js';

/** The S3 user every test signs with; a loopback-only throwaway identity. */
export const RGW_USER = {
  uid: 'bucketfs-test',
  accessKeyId: 'BUCKETFSTESTKEY',
  secretAccessKey: 'bucketfs-test-secret',
} as const;

/** Programs the cluster needs; all come with the Debian packages ceph-mon, ceph-osd, radosgw (ceph-common). */
export const CEPH_PROGRAMS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool'] as const;

/** A healthy start takes about a second here; 90 s allows for a loaded CI machine, then the run reports a skip. */
export const START_TIMEOUT_MS = 90_000;

export interface RgwCluster {
  server: S3Server;
  dir: string;
  watchdogPid: number;
  /** Daemon pids (mon, osd, radosgw). */
  pids: number[];
  /** Seconds from the call to the first successful signed S3 request. */
  readySeconds: number;
}

/** The cluster did not come up; the message carries the failing step and the tail of the relevant logs. */
export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError';
}

/**
 * Starts a cluster owned by `ownerPid`: when that process ends, the watchdog
 * kills the daemons and removes the dir plus `extraPaths`. Throws
 * ClusterStartError (after cleaning up) if it is not ready in time.
 */
export async function startRgwCluster(ownerPid: number, extraPaths: string[] = []): Promise<RgwCluster> {
  const started = performance.now();
  const [mon = 0, rgw = 0] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'bucketfs-rgw-'));
  const watchdogPid = startWatchdog(ownerPid, dir, [dir, ...extraPaths]);
  const boot = new Bootstrap(dir, { mon, rgw });
  try {
    await boot.run();
  } catch (error) {
    const report = boot.failureReport(error);
    stopHarness(dir, watchdogPid, [dir]);
    throw new ClusterStartError(report, { cause: error });
  } finally {
    boot.dispose();
  }
  const readySeconds = Math.round((performance.now() - started) / 100) / 10;
  return { server: boot.server, dir, watchdogPid, pids: boot.daemonPids(), readySeconds };
}

/** Kills the cluster's daemons and watchdog and removes its dir and `extraPaths`. Synchronous, so it can run in an 'exit' hook. */
export function stopRgwCluster(cluster: Pick<RgwCluster, 'dir' | 'watchdogPid'>, extraPaths: string[] = []): void {
  stopHarness(cluster.dir, cluster.watchdogPid, [cluster.dir, ...extraPaths]);
}

interface TrackedOp {
  description?: string;
  duration?: number;
  type_data?: { flag_point?: string };
}

/**
 * What the OSD says went slow or is stuck: requests that took over 10 s
 * (the OSD keeps the last 20) and requests blocked now, one line each.
 * Empty when all went well or the cluster is gone; never throws. A test
 * that timed out on the gateway (a request with no answer) is explained
 * by these lines, printed at the end of the run.
 */
export function slowOpsReport(cluster: Pick<RgwCluster, 'dir'>): string[] {
  const ask = (command: string): TrackedOp[] => {
    try {
      const out = execFileSync('ceph', ['--admin-daemon', join(cluster.dir, 'run', 'osd.0.asok'), command], { timeout: 10_000, encoding: 'utf8' });
      const parsed = JSON.parse(out) as { Ops?: TrackedOp[]; ops?: TrackedOp[] };
      return parsed.Ops ?? parsed.ops ?? [];
    } catch {
      return [];
    }
  };
  const line = (kind: string, op: TrackedOp) =>
    `${kind} ${(op.duration ?? 0).toFixed(1)} s (${op.type_data?.flag_point ?? '?'}): ${op.description ?? '?'}`;
  return [...ask('dump_historic_slow_ops').map((op) => line('slow', op)), ...ask('dump_blocked_ops').map((op) => line('blocked', op))];
}

/** One start attempt: the steps in order, the daemons it spawned, and what to report if a step fails. */
class Bootstrap {
  readonly server: S3Server;
  private readonly conf: string;
  private readonly daemons = new Map<string, ChildProcess>();
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly deadline = Date.now() + START_TIMEOUT_MS;
  private step = 'prepare';
  /** The first daemon that stopped during start: its name (for its logs) and how it ended. */
  private died: { name: string; how: string } | undefined;

  constructor(
    private readonly dir: string,
    private readonly ports: CephPorts,
  ) {
    this.conf = join(dir, 'ceph.conf');
    this.server = {
      name: 'Ceph RGW',
      endpoint: `http://127.0.0.1:${ports.rgw}`,
      region: 'us-east-1',
      accessKeyId: RGW_USER.accessKeyId,
      secretAccessKey: RGW_USER.secretAccessKey,
    };
    this.timer = setTimeout(() => this.abort.abort(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  }

  async run(): Promise<void> {
    const { dir, conf } = this;
    for (const sub of ['run', 'log', 'mon/mon.a', 'rgw']) mkdirSync(join(dir, sub), { recursive: true });
    const fsid = randomUUID();
    writeFileSync(conf, cephConf(dir, fsid, this.ports));
    await this.command('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${this.ports.mon}]`, '--fsid', fsid, join(dir, 'monmap')]);
    await this.command('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    this.daemon('mon.a', 'ceph-mon', ['-c', conf, '-f', '-i', 'a']);
    const osdUuid = randomUUID();
    const osdId = (await this.command('ceph', ['-c', conf, 'osd', 'create', osdUuid])).trim();
    mkdirSync(join(dir, 'osd', `osd.${osdId}`), { recursive: true });
    await this.command('ceph-osd', ['-c', conf, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    this.daemon(`osd.${osdId}`, 'ceph-osd', ['-c', conf, '-f', '-i', osdId]);
    await this.command('radosgw-admin', ['-c', conf, 'user', 'create', `--uid=${RGW_USER.uid}`, `--display-name=${RGW_USER.uid}`,
      `--access-key=${RGW_USER.accessKeyId}`, `--secret=${RGW_USER.secretAccessKey}`]);
    this.daemon('client.rgw.a', 'radosgw', ['-c', conf, '-f', '-n', 'client.rgw.a']);
    this.step = 'waiting for radosgw to answer a signed S3 request';
    await waitForS3(this.server, this.deadline, () => (this.abort.signal.aborted ? messageOf(this.abort.signal.reason) : undefined));
  }

  daemonPids(): number[] {
    return [...this.daemons.values()].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  /** The failing step, the error, and the logs that explain it: a daemon that died, else the newest daemon. */
  failureReport(error: unknown): string {
    const names = [...this.daemons.keys()];
    const suspect = this.died?.name ?? names.at(-1);
    const logs = suspect === undefined ? [] : [tailFile(this.logPath(suspect, 'out')), tailFile(this.logPath(suspect, 'log'))];
    return [`Ceph RGW did not start (step: ${this.step}): ${messageOf(error)}`, ...logs].join('\n');
  }

  /** Runs a short command to completion; fails early if a daemon dies or the start timer fires. */
  private async command(program: string, args: string[]): Promise<string> {
    this.step = `${program} ${args.filter((arg) => arg !== '-c' && arg !== this.conf).slice(0, 2).join(' ')}`;
    return new Promise((resolve, reject) => {
      const child = execFile(program, args, { signal: this.abort.signal, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const why = this.abort.signal.aborted ? messageOf(this.abort.signal.reason) : (error.message.split('\n')[0] ?? '');
        reject(new Error(`${why}\n${stderr.trim().split('\n').slice(-10).join('\n')}`.trimEnd(), { cause: error }));
      });
      recordPid(this.dir, child.pid);
    });
  }

  private daemon(name: string, program: string, args: string[]): void {
    const out = openSync(this.logPath(name, 'out'), 'a');
    const child = spawn(program, args, { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    recordPid(this.dir, child.pid);
    child.unref();
    const onDeath = (why: string): void => {
      this.died ??= { name, how: `${name} (${program}, ${why})` };
      this.abort.abort(new Error(`${this.died.how} stopped during start`));
    };
    child.once('exit', (code, signal) => onDeath(`exit ${signal ?? code}`));
    child.once('error', (error) => onDeath(error.message));
    this.daemons.set(name, child);
  }

  private logPath(name: string, kind: 'log' | 'out'): string {
    return join(this.dir, 'log', `${name}.${kind}`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
