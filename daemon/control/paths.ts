/**
 * Where a mount's control socket lives and how a command finds it:
 * `<runtime dir>/<hash of mountpoint>.sock`, beside `<hash>.json` = { pid,
 * mountpoint, remote, socket, startedAt, cacheDir } (the index that lets
 * `bucketfs status` with no argument list every mount of this user).
 * The runtime dir is `$XDG_RUNTIME_DIR/bucketfs`, else `/run/bucketfs` for
 * root, else `<cache root>/run`; always a 0700 directory of this user.
 *
 * Looking a mountpoint up never stats the mount itself (a hung daemon would
 * hang the command that is trying to report on it): only its parent is
 * resolved.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { cacheRoot } from '../mount/daemon-file.js';

export interface MountRecord {
  pid: number;
  mountpoint: string;
  /** The remote as shown to people (no credentials). */
  remote: string;
  socket: string;
  startedAt: number;
  cacheDir: string;
}

export function runtimeDir(env: NodeJS.ProcessEnv): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'bucketfs');
  if (process.getuid?.() === 0) return '/run/bucketfs';
  return join(cacheRoot(env), 'run');
}

function mountHash(mountpoint: string): string {
  return createHash('sha256').update(mountpoint).digest('hex').slice(0, 16);
}

export function socketPath(dir: string, mountpoint: string): string {
  return join(dir, `${mountHash(mountpoint)}.sock`);
}

export function recordPath(dir: string, mountpoint: string): string {
  return join(dir, `${mountHash(mountpoint)}.json`);
}

/** Creates the runtime dir owner-only, or checks that an existing one is ours and closed to others. */
export async function ensureRuntimeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw Object.assign(new Error(`control directory ${dir} is not a directory owned by this user; remove it or set XDG_RUNTIME_DIR`), { code: 'EACCES' });
  }
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** The absolute mountpoint as the mount table shows it, resolving only the parent directory. */
export async function canonicalMountpoint(path: string): Promise<string> {
  const absolute = resolve(path);
  if (absolute === '/') return absolute;
  const parent = await realpath(dirname(absolute)).catch(() => dirname(absolute));
  return join(parent, basename(absolute));
}

export async function readRecord(file: string): Promise<MountRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as Partial<MountRecord>;
    return typeof record.pid === 'number' && typeof record.mountpoint === 'string' && typeof record.socket === 'string' ? (record as MountRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Every mount record in the runtime dir (live or left by a daemon that died: the caller probes). */
export async function listRecords(env: NodeJS.ProcessEnv): Promise<MountRecord[]> {
  const dir = runtimeDir(env);
  const names = await readdir(dir).catch(() => [] as string[]);
  const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readRecord(join(dir, n))));
  return records.filter((r): r is MountRecord => r !== undefined).sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
}

/** The mount whose mountpoint is `path` or an ancestor of it, and the path inside the mount ('/…'). */
export async function mountContaining(path: string, env: NodeJS.ProcessEnv): Promise<{ record: MountRecord; inner: string } | undefined> {
  const records = await listRecords(env);
  for (const candidate of [resolve(path), await realpath(path).catch(() => undefined)]) {
    if (candidate === undefined) continue;
    const best = records
      .filter((r) => candidate === r.mountpoint || candidate.startsWith(r.mountpoint.endsWith('/') ? r.mountpoint : `${r.mountpoint}/`))
      .sort((a, b) => b.mountpoint.length - a.mountpoint.length)[0];
    if (best !== undefined) return { record: best, inner: `/${candidate.slice(best.mountpoint.length).replace(/^\/+/, '')}` };
  }
  return undefined;
}
