/**
 * `bucketfs unmount MOUNTPOINT`: a normal (not lazy) unmount, so it fails
 * while files are open rather than cutting off the programs using them;
 * then waits for the daemon, which notices the unmount, closes its VFS and
 * exits. Every close(2) has already uploaded its file (sync write mode), so
 * nothing is left to flush by then.
 */
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import type { Io } from '../command.js';
import { InterruptedError } from '../exit-codes.js';
import { findDaemon, isRunning, type DaemonRecord } from './daemon-file.js';
import { MountpointError } from './mountpoint.js';

const run = promisify(execFile);

export interface UnmountArgs {
  mountpoint: string;
  cacheDir?: string;
}

/** How often the daemon's exit is checked, and after how long the user is told what is being waited for. */
const POLL_MS = 100;
const NOTICE_AFTER_MS = 3_000;

function stderrOf(e: unknown): string {
  return String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').at(-1) ?? '';
}

/** fusermount -u (the tool for FUSE mounts, also for non-root users), else umount. */
async function unmountNow(mountpoint: string): Promise<void> {
  try {
    await run('fusermount', ['-u', '--', mountpoint]);
    return;
  } catch (e) {
    if (/busy/i.test(stderrOf(e))) {
      throw new MountpointError(`cannot unmount ${mountpoint}: it is busy (files are open or a shell is in it; see: fuser -vm ${mountpoint})`, 'EBUSY');
    }
    try {
      await run('umount', ['--', mountpoint]);
    } catch (e2) {
      throw new MountpointError(`cannot unmount ${mountpoint}: ${stderrOf(e2) || stderrOf(e)}`, 'EBUSY');
    }
  }
}

async function waitForExit(daemon: DaemonRecord, io: Io): Promise<void> {
  const started = Date.now();
  let told = false;
  while (await isRunning(daemon)) {
    if (io.signal.aborted) throw new InterruptedError(`stopped waiting for bucketfs process ${daemon.pid}, which goes on flushing`);
    if (!told && Date.now() - started > NOTICE_AFTER_MS) {
      io.stderr.write(`bucketfs: waiting for bucketfs process ${daemon.pid} to finish uploading and exit\n`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function runUnmount(args: UnmountArgs, io: Io): Promise<void> {
  // A stale mount cannot be resolved (ENOTCONN); its path as given is what the mount table shows.
  const mountpoint = await realpath(args.mountpoint).catch(() => resolve(args.mountpoint));
  if ((await fuseMountAt(mountpoint)) === undefined) throw new MountpointError(`${mountpoint} is not a FUSE mount`, 'ENOENT');
  const daemon = await findDaemon(mountpoint, args.cacheDir === undefined ? [] : [resolve(args.cacheDir)], io.env);
  await unmountNow(mountpoint);
  if (daemon !== undefined) await waitForExit(daemon, io);
}
