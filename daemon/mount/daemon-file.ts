/**
 * Where a mount keeps its cache, and the pid file that ties a cache dir to
 * the one daemon using it: `<cacheDir>/daemon.json` = { pid, mountpoint,
 * remote }. It stops a second daemon from sharing a cache dir, and lets
 * `bucketfs unmount` find the daemon to wait for. A file left by a daemon
 * that was killed is recognised (no such process, or another program in its
 * place) and taken over.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MountpointError } from './mountpoint.js';

export interface DaemonRecord {
  pid: number;
  mountpoint: string;
  remote: string;
}

const FILE = 'daemon.json';

/** `$XDG_CACHE_HOME/bucketfs`, else `~/.cache/bucketfs`. */
export function cacheRoot(env: NodeJS.ProcessEnv): string {
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.cache'), 'bucketfs');
}

/**
 * One cache dir per remote URL as written, endpoint and options included:
 * the same bucket name on two endpoints must never share cached data.
 */
export function defaultCacheDir(remote: string, env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), createHash('sha256').update(remote).digest('hex').slice(0, 16));
}

export async function readDaemonRecord(cacheDir: string): Promise<DaemonRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(join(cacheDir, FILE), 'utf8')) as Partial<DaemonRecord>;
    return typeof record.pid === 'number' && typeof record.mountpoint === 'string' ? (record as DaemonRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded daemon still runs: its pid is a bucketfs process serving that mountpoint. */
export async function isRunning(record: DaemonRecord): Promise<boolean> {
  try {
    const args = (await readFile(`/proc/${record.pid}/cmdline`, 'utf8')).split('\0');
    return args.some((a) => a.includes('bucketfs')) && args.includes('mount');
  } catch {
    return false;
  }
}

/** Claims `cacheDir` for this process (creating it, owner-only); fails when a live daemon holds it. */
export async function claimCacheDir(cacheDir: string, record: DaemonRecord): Promise<() => Promise<void>> {
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const holder = await readDaemonRecord(cacheDir);
  if (holder !== undefined && holder.pid !== record.pid && (await isRunning(holder))) {
    throw new MountpointError(`cache dir ${cacheDir} is in use by bucketfs process ${holder.pid} (mounted on ${holder.mountpoint}); give this mount its own --cache-dir`, 'EBUSY');
  }
  const path = join(cacheDir, FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return async () => {
    const current = await readDaemonRecord(cacheDir);
    if (current?.pid === record.pid) await rm(path, { force: true });
  };
}

/** The live daemon serving `mountpoint`, looked up in `cacheDirs` and every cache dir under the default root. */
export async function findDaemon(mountpoint: string, cacheDirs: string[], env: NodeJS.ProcessEnv): Promise<DaemonRecord | undefined> {
  const root = cacheRoot(env);
  const defaults = await readdir(root).then((names) => names.map((n) => join(root, n)), () => []);
  for (const dir of [...cacheDirs, ...defaults]) {
    const record = await readDaemonRecord(dir);
    if (record?.mountpoint === mountpoint && (await isRunning(record))) return record;
  }
  return undefined;
}
