/**
 * How `bucketfs mount` runs once its arguments are parsed:
 * - by default in the background (background.ts): returns once the mount
 *   serves, or fails with the reason and its exit code;
 * - in the foreground with -f, or under systemd (NOTIFY_SOCKET set: the
 *   service manager wants its main process to be the daemon, and READY=1);
 * - as the background daemon itself (--daemon-ready-fd, internal): in the
 *   foreground, reporting readiness or the failure on that fd.
 * The FUSE and SQLite modules load only where the mount is served.
 */
import type { Io } from '../command.js';
import { resolveMount, type MountPlan, type MountRequest } from '../config/resolve.js';
import type { MountArgs } from './run.js';
import { ReadyPipe, systemdHooks } from './notify.js';

export interface StartOptions {
  foreground: boolean;
  /** Set in the background daemon: the pipe its parent waits on. */
  readyFd: number | undefined;
  json: boolean;
}

function mountArgs(plan: MountPlan): MountArgs {
  return { ...plan.settings, remote: plan.remote, mountpoint: plan.mountpoint };
}

async function runAsDaemon(request: MountRequest, readyFd: number, io: Io): Promise<void> {
  const pipe = new ReadyPipe(readyFd);
  try {
    const plan = await resolveMount(request, io.env);
    const { runMount } = await import('./run.js');
    await runMount(mountArgs(plan), pipe.teeIo(io), pipe.hooks());
  } catch (e) {
    pipe.failed(e, io.env);
    throw e;
  }
}

export async function startMount(request: MountRequest, options: StartOptions, io: Io): Promise<void> {
  if (options.readyFd !== undefined) return runAsDaemon(request, options.readyFd, io);
  const plan = await resolveMount(request, io.env);
  const underSystemd = (io.env['NOTIFY_SOCKET'] ?? '') !== '';
  if (options.foreground || underSystemd) {
    const { runMount } = await import('./run.js');
    return runMount(mountArgs(plan), io, systemdHooks(io));
  }
  const { mountInBackground } = await import('./background.js');
  return mountInBackground(plan, io, options.json);
}
