/**
 * Everything checked before mounting, so a failure is one clear line rather
 * than libfuse's "fuse failed": FUSE itself is usable (/dev/fuse,
 * fusermount), and the mountpoint exists, is a directory, is empty, and is
 * not already mounted. A stale FUSE mount (its daemon died without
 * auto_unmount: "Transport endpoint is not connected") is cleared here.
 * Only asynchronous calls: a hung mount must not freeze the daemon.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, realpath, stat } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UnsupportedError } from '../../drivers/errors.js';
import { fuseMountAt, type Log } from '../../vfs/fuse-adapter.js';

const run = promisify(execFile);

/** A mountpoint or machine problem found before mounting; `code` is the errno exit-codes.ts maps. */
export class MountpointError extends Error {
  override readonly name = 'MountpointError';
  constructor(message: string, readonly code: 'ENOENT' | 'ENOTDIR' | 'ENOTEMPTY' | 'EBUSY') {
    super(message);
  }
}

const FUSE_DEVICE = '/dev/fuse';

async function onPath(program: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    if (await access(join(dir, program), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

/** /dev/fuse is there and usable, and fusermount exists (libfuse needs it for auto_unmount and unmounting). */
export async function checkFuseAvailable(env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await access(FUSE_DEVICE, constants.R_OK | constants.W_OK);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UnsupportedError(
      missing
        ? `FUSE is not available: ${FUSE_DEVICE} is missing; load the module (modprobe fuse), or in a container add --device /dev/fuse --cap-add SYS_ADMIN`
        : `FUSE is not available: cannot open ${FUSE_DEVICE} (${(e as Error).message}); check its permissions`,
      { reason: 'NoFuse', cause: e },
    );
  }
  if (!(await onPath('fusermount', env)) && !(await onPath('fusermount3', env))) {
    throw new UnsupportedError('FUSE is not available: fusermount is not installed (apt-get install fuse3)', { reason: 'NoFuse' });
  }
}

/** How long a live-looking FUSE mount may take to answer stat before it counts as hung. */
const STAT_PROBE_MS = 5_000;

/** stat's error code, 'ok', or 'hung' when no answer comes in time. */
async function probe(path: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('hung'), STAT_PROBE_MS)));
  const answer = stat(path).then(() => 'ok', (e: NodeJS.ErrnoException) => e.code ?? 'error');
  try {
    return await Promise.race([answer, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lazily unmounts a dead FUSE mount (fusermount, else umount). */
export async function clearMount(mountpoint: string): Promise<void> {
  try {
    await run('fusermount', ['-uz', '--', mountpoint]);
  } catch {
    await run('umount', ['-l', '--', mountpoint]);
  }
}

async function clearIfStale(mountpoint: string, log: Log): Promise<void> {
  const existing = await fuseMountAt(mountpoint);
  if (existing === undefined) return;
  const state = await probe(mountpoint);
  if (state !== 'ENOTCONN' && state !== 'ECONNABORTED') {
    const why = state === 'hung' ? 'and does not answer' : `by ${existing.source}`;
    throw new MountpointError(`${mountpoint} is already mounted ${why}; unmount it first (bucketfs unmount ${mountpoint})`, 'EBUSY');
  }
  await clearMount(mountpoint);
  log('warn', `cleared a stale mount on ${mountpoint} left by a daemon that died`, { source: existing.source });
}

/** The absolute path without symlinks; a stale mount cannot be resolved, and the mount table shows it as given. */
async function resolveMountpoint(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') return resolve(path);
    if (code === 'ENOENT') throw new MountpointError(`mountpoint ${path} does not exist (create it: mkdir -p ${path})`, 'ENOENT');
    throw e;
  }
}

/**
 * Checks the mountpoint and returns its resolved absolute path (what
 * /proc/self/mountinfo shows once mounted). A stale mount on it is cleared.
 */
export async function prepareMountpoint(path: string, log: Log): Promise<string> {
  const resolved = await resolveMountpoint(path);
  await clearIfStale(resolved, log);
  const [info, parent] = await Promise.all([stat(resolved), stat(dirname(resolved))]);
  if (!info.isDirectory()) throw new MountpointError(`mountpoint ${path} is not a directory`, 'ENOTDIR');
  if (info.dev !== parent.dev) throw new MountpointError(`${path} is already a mount point of another file system`, 'EBUSY');
  if ((await readdir(resolved)).length > 0) {
    throw new MountpointError(`mountpoint ${path} is not empty (mounting would hide its files); use an empty directory`, 'ENOTEMPTY');
  }
  return resolved;
}
