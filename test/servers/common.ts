/**
 * What every loopback S3 server harness shares: the connection record tests
 * receive, free-port probing, the readiness probe (a signed S3 request, not
 * just an open port) and the cleanup of processes a harness started.
 *
 * Cleanup never kills by process name: other clusters and servers may run on
 * the same machine. A pid is killed only if its command line still contains
 * the harness's own temp dir, so a recycled pid is never hit.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';
import { ListBucketsCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3Server {
  /** Shown in test names and SKIPPED lines, e.g. 'Ceph RGW', 's3rver'. */
  name: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A server that cannot run here, and why (the caller prints `SKIPPED: ...`). */
export interface Skipped {
  skipped: string;
}

/** Lines of a log shown when a server fails to start: enough for the error, short enough for a test report. */
const LOG_TAIL_LINES = 15;

/**
 * `count` distinct TCP ports that were free on 127.0.0.1 a moment ago, for
 * servers that cannot listen on port 0 and report it. The probes stay open
 * until all are assigned, so the kernel cannot hand out one port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(probes.map(async (probe) => listenOnAnyPort(probe)));
  } finally {
    await Promise.all(probes.map(async (probe) => new Promise((resolve) => probe.close(resolve))));
  }
}

async function listenOnAnyPort(probe: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      if (typeof address === 'object' && address !== null) resolve(address.port);
      else reject(new Error('no port assigned'));
    });
  });
}

/**
 * A raw SDK client for a harness server: path style, no SDK retries, and
 * checksums only where S3 requires them: with the SDK's default, a streamed
 * PutObject is sent aws-chunked with a trailing checksum, which RGW 16
 * refuses (400 MissingContentLength).
 */
export function s3Client(server: S3Server, overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...overrides,
  });
}

/**
 * Resolves once the server answers a signed ListBuckets with the harness's
 * keys, which proves the gateway, its user and its pools are ready.
 * `stopWaiting()` returns a reason to give up early (a process died).
 */
export async function waitForS3(server: S3Server, deadline: number, stopWaiting: () => string | undefined): Promise<void> {
  const client = s3Client(server, { requestHandler: { requestTimeout: 2_000, connectionTimeout: 1_000 } });
  let lastError: unknown;
  try {
    while (Date.now() < deadline) {
      const reason = stopWaiting();
      if (reason !== undefined) throw new Error(`gave up waiting for ${server.endpoint}: ${reason}`);
      try {
        await client.send(new ListBucketsCommand({}));
        return;
      } catch (error) {
        lastError = error;
        await sleep(100);
      }
    }
    const last = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
    throw new Error(`${server.name} at ${server.endpoint} did not answer S3 requests in time (last: ${last})`, { cause: lastError });
  } finally {
    client.destroy();
  }
}

export async function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of a log file, or a note that it is missing. */
export function tailFile(path: string, lines = LOG_TAIL_LINES): string {
  if (!existsSync(path)) return `(${path}: no such file)`;
  const text = readFileSync(path, 'utf8').trimEnd();
  return `${path}:\n${text.split('\n').slice(-lines).join('\n')}`;
}

/** Whether `command` is an executable file somewhere on PATH. */
export function onPath(command: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
  return dirs.some((dir) => existsSync(join(dir, command)));
}

/** The file, inside a harness dir, that lists every pid the harness spawned (one per line). */
export function pidsFile(dir: string): string {
  return join(dir, 'pids');
}

export function recordPid(dir: string, pid: number | undefined): void {
  if (pid !== undefined) appendFileSync(pidsFile(dir), `${pid}\n`);
}

/** True when `pid` runs and its command line mentions `marker` (the harness dir), i.e. it is still ours. */
function isOurs(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/**
 * Starts a detached watchdog that waits for `ownerPid` to end, then kills the
 * recorded pids of `dir` and removes `paths`. It covers what an exit hook
 * cannot: the owner killed by SIGKILL or a test timeout. Synchronous
 * cleanup kills the watchdog first (`stopHarness`).
 */
export function startWatchdog(ownerPid: number, dir: string, paths: string[]): number {
  const script = [
    'tail --pid="$1" -s 0.5 -f /dev/null',
    'dir=$2; shift 2',
    'for p in $(cat "$dir/pids" 2>/dev/null); do',
    '  grep -qaF -- "$dir" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"',
    'done',
    'rm -rf -- "$@"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'bucketfs-watchdog', String(ownerPid), dir, ...paths], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the cleanup watchdog');
  return child.pid;
}

/**
 * Stops everything a harness started, synchronously (usable in a process
 * 'exit' hook): the watchdog's process group, every recorded pid that is
 * still ours, then the given paths.
 */
export function stopHarness(dir: string, watchdogPid: number, paths: string[]): void {
  killQuietly(-watchdogPid);
  const recorded = existsSync(pidsFile(dir)) ? readFileSync(pidsFile(dir), 'utf8').split('\n') : [];
  for (const line of recorded) {
    const pid = Number(line);
    if (Number.isInteger(pid) && pid > 0 && isOurs(pid, dir)) killQuietly(pid);
  }
  for (const path of paths) rmSync(path, { recursive: true, force: true });
}

/** Pids among those recorded for `dir` that are still running (used to check cleanup). */
export function livePids(dir: string, pids: number[]): number[] {
  return pids.filter((pid) => isOurs(pid, dir));
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: nothing to stop.
  }
}
