/**
 * `bucketfs mount` without -f: starts the daemon (this same program with
 * `--foreground --daemon-ready-fd 3`) in a session of its own, its output
 * in a log file, and waits on the pipe for the mount to serve. The user sees
 * exactly what a foreground start-up would print (the daemon's lines are
 * relayed), and the exit code is the daemon's: 0 once the mount serves, the
 * failure's own code otherwise. The daemon cleans up after a failed start
 * (nothing mounted, cache dir released) before it exits; Ctrl-C here stops
 * it the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Io } from '../command.js';
import type { MountPlan } from '../config/resolve.js';
import { optionFor, type MountSettings, type SettingKey } from '../config/options.js';
import { InterruptedError, ReportedFailure } from '../exit-codes.js';
import { writeJson } from '../format.js';
import { READY_LINE } from './notify.js';

/** The fd the daemon reports on (0-2 are its stdio). */
const READY_FD = 3;

/** The launcher of this installation: bin/bucketfs.js beside the package.json above this module. */
export function launcherPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the bucketfs installation (no package.json above daemon/)');
    dir = parent;
  }
  return join(dir, 'bin', 'bucketfs.js');
}

/** `$XDG_STATE_HOME/bucketfs/<mountpoint with / as ->.log`, else under ~/.local/state. */
export function defaultLogFile(mountpoint: string, env: NodeJS.ProcessEnv): string {
  const xdg = env['XDG_STATE_HOME'];
  const root = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.local', 'state');
  const name = mountpoint.replace(/^\/+|\/+$/g, '').replace(/\//g, '-') || 'root';
  return join(root, 'bucketfs', `${name}.log`);
}

function flagValue(key: SettingKey, value: MountSettings[SettingKey]): string {
  const spec = optionFor(key);
  if (spec.type === 'mode') return (value as number).toString(8);
  return String(value);
}

/** The daemon's command line: the resolved remote and every option not left at its built-in default. */
export function daemonArgs(plan: MountPlan): string[] {
  const args = ['mount', plan.remote, plan.mountpoint, '--foreground', '--daemon-ready-fd', String(READY_FD)];
  for (const key of plan.sources.keys()) {
    const value = plan.settings[key];
    if (value === undefined) continue;
    const { flag } = optionFor(key);
    args.push(typeof value === 'boolean' ? (value ? `--${flag}` : `--no-${flag}`) : `--${flag}=${flagValue(key, value)}`);
  }
  return args;
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });
}

/** Relays the daemon's start-up lines; resolves true at READY, false when the pipe closes without it. */
function awaitReady(child: ChildProcess, io: Io): Promise<boolean> {
  const pipe = child.stdio[READY_FD];
  if (pipe === null || pipe === undefined || !('on' in pipe)) return Promise.resolve(false);
  const lines = createInterface({ input: pipe as NodeJS.ReadableStream, crlfDelay: Infinity });
  return new Promise((resolve) => {
    lines.on('line', (line) => {
      if (line === READY_LINE) {
        resolve(true); // before close(), whose 'close' event would resolve false
        lines.close();
      } else io.stderr.write(`${line}\n`);
    });
    lines.on('close', () => resolve(false));
  });
}

function openLog(path: string): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return openSync(path, 'a', 0o600);
}

export async function mountInBackground(plan: MountPlan, io: Io, json: boolean): Promise<void> {
  const logFile = plan.settings.logFile ?? defaultLogFile(plan.mountpoint, io.env);
  const logFd = openLog(logFile);
  let child: ChildProcess;
  try {
    // stdin a closed pipe rather than /dev/null, which a container or a namespace may lack.
    child = spawn(process.execPath, [launcherPath(), ...daemonArgs(plan)], {
      detached: true,
      stdio: ['pipe', logFd, logFd, 'pipe'],
      env: io.env,
    });
  } finally {
    closeSync(logFd);
  }
  child.stdin?.end();
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start the bucketfs daemon (${process.execPath}): ${e.message}`, { cause: e }))));
  spawnFailed.catch(() => undefined);
  const exited = Promise.race([exitOf(child), spawnFailed]);
  const onAbort = () => child.kill('SIGTERM');
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (await Promise.race([awaitReady(child, io), spawnFailed])) {
      (child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void }).destroy();
      child.unref();
      if (json) writeJson(io, { mounted: true, remote: plan.remote, mountpoint: plan.mountpoint, pid: child.pid, logFile });
      else io.stderr.write(`bucketfs: running in the background as process ${child.pid ?? '?'}, log in ${logFile}; stop with: bucketfs unmount ${plan.mountpoint}\n`);
      return;
    }
    const code = await exited;
    if (io.signal.aborted) throw new InterruptedError('mount stopped before it served');
    if (code === 0) io.stderr.write(`bucketfs: the daemon stopped before the mount served (see ${logFile})\n`);
    throw new ReportedFailure(code === 0 ? 1 : code);
  } finally {
    io.signal.removeEventListener('abort', onAbort);
  }
}
