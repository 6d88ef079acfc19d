/**
 * `bucketfs unmount MOUNTPOINT`: first a flush over the control socket (so
 * an upload that fails is reported here, with the mount still up, rather
 * than lost in the daemon's log), then a normal (not lazy) unmount, which
 * fails while files are open instead of cutting off the programs using them,
 * then a wait until the daemon has closed its cache and exited.
 *
 * `--force` abandons: it says loudly what is lost (the uploads the daemon
 * still had pending, writes to files still open), detaches the mount
 * lazily and kills the daemon.
 */
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import type { Io } from '../command.js';
import { clientFor, ControlError, type ControlClient } from '../control/client.js';
import type { FlushEvent, StatusDocument } from '../control/protocol.js';
import { InterruptedError } from '../exit-codes.js';
import { formatSize, printable, writeJson } from '../format.js';
import { findDaemon, isRunning, type DaemonRecord } from './daemon-file.js';
import { clearMount, MountpointError } from './mountpoint.js';

const run = promisify(execFile);

export interface UnmountArgs {
  mountpoint: string;
  cacheDir?: string;
  force: boolean;
  json: boolean;
}

/** How often the daemon's exit is checked, and after how long the user is told what is being waited for. */
const POLL_MS = 100;
const NOTICE_AFTER_MS = 3_000;
/** --force asks the daemon what is pending, but does not wait long for a daemon that may be hung. */
const FORCE_STATUS_TIMEOUT_MS = 2_000;

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
      throw new MountpointError(`cannot unmount ${mountpoint}: it is busy (files are open or a shell is in it; see: fuser -vm ${mountpoint}; or bucketfs unmount --force)`, 'EBUSY');
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

/** The mount's control client, or undefined when it has none (a daemon without one, or already gone). */
async function controlOf(mountpoint: string, io: Io): Promise<ControlClient | undefined> {
  try {
    return await clientFor(mountpoint, io.env);
  } catch (e) {
    if (e instanceof ControlError) return undefined;
    throw e;
  }
}

/** Uploads everything pending; a failure keeps the mount up and names the files. */
async function flushFirst(client: ControlClient, mountpoint: string, io: Io): Promise<number | undefined> {
  let last: FlushEvent | undefined;
  try {
    await client.send('POST', '/flush', { onLine: (line) => (last = JSON.parse(line) as FlushEvent), signal: io.signal });
  } catch (e) {
    if (io.signal.aborted) throw new InterruptedError('stopped waiting for the flush; nothing was unmounted');
    if (e instanceof ControlError && e.code === 'ECONNREFUSED') return undefined; // a daemon gone: nothing left to flush
    throw e;
  }
  const outcome = last as FlushEvent | undefined;
  if (outcome?.event === 'failed') {
    throw new Error(`not unmounting ${mountpoint}: uploading pending files failed: ${outcome.error} (still mounted; bucketfs status ${mountpoint} shows them; --force abandons them)`);
  }
  return outcome?.event === 'done' ? outcome.files : undefined;
}

/** What a forced unmount loses, as the daemon reports it (it may not answer). */
async function pendingUploads(client: ControlClient | undefined): Promise<StatusDocument | undefined> {
  if (client === undefined) return undefined;
  return client.json<StatusDocument>('GET', '/status', { timeoutMs: FORCE_STATUS_TIMEOUT_MS }).catch(() => undefined);
}

function warnLoss(mountpoint: string, status: StatusDocument | undefined, io: Io): string[] {
  const pending = status?.uploads.pending ?? [];
  const lost = pending.map((p) => p.path);
  io.stderr.write(`bucketfs: WARNING: forcing the unmount of ${mountpoint}: writes to files still open are lost\n`);
  if (status === undefined) io.stderr.write('bucketfs: WARNING: the daemon did not say what it had pending; anything not yet uploaded is lost\n');
  else if (pending.length === 0) io.stderr.write('bucketfs: WARNING: the daemon reported no pending uploads\n');
  else {
    const bytes = pending.reduce((n, p) => n + p.bytes, 0);
    io.stderr.write(`bucketfs: WARNING: ${pending.length} pending upload(s), ${formatSize(bytes)}, not in the bucket: ${lost.map(printable).join(', ')}\n`);
  }
  return lost;
}

async function forceUnmount(mountpoint: string, daemon: DaemonRecord | undefined, client: ControlClient | undefined, io: Io): Promise<string[]> {
  const lost = warnLoss(mountpoint, await pendingUploads(client), io);
  await clearMount(mountpoint);
  const pid = daemon?.pid ?? client?.record.pid;
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (daemon !== undefined) await waitForExit(daemon, io);
  }
  return lost;
}

export async function runUnmount(args: UnmountArgs, io: Io): Promise<void> {
  // A stale mount cannot be resolved (ENOTCONN); its path as given is what the mount table shows.
  const mountpoint = await realpath(args.mountpoint).catch(() => resolve(args.mountpoint));
  if ((await fuseMountAt(mountpoint)) === undefined) throw new MountpointError(`${mountpoint} is not a FUSE mount`, 'ENOENT');
  const daemon = await findDaemon(mountpoint, args.cacheDir === undefined ? [] : [resolve(args.cacheDir)], io.env);
  const client = await controlOf(mountpoint, io);
  const pid = daemon?.pid ?? client?.record.pid;
  if (args.force) {
    const lost = await forceUnmount(mountpoint, daemon, client, io);
    if (args.json) writeJson(io, { mountpoint, pid, forced: true, lost });
    return;
  }
  const flushed = client === undefined ? undefined : await flushFirst(client, mountpoint, io);
  await unmountNow(mountpoint);
  if (daemon !== undefined) await waitForExit(daemon, io);
  if (args.json) writeJson(io, { mountpoint, pid, forced: false, flushed: flushed ?? null });
}
