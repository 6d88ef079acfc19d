/**
 * Real mounts for tests: runs `node bin/bucketfs.js mount …` as a child
 * process (built first, as test/cli/harness.ts does), waits until the kernel
 * shows the FUSE mount and the daemon printed its ready line, and always
 * takes it down again: SIGTERM, then `fusermount -uz` and SIGKILL if needed,
 * temp dirs removed. A process exit with mounts still up clears them too.
 *
 * Everything that touches a mount from the test process is asynchronous
 * (child processes through `sh`): a synchronous call onto a FUSE mount served
 * by a process we are waiting on can hang for good.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import { ensureBuilt, ROOT, startCli } from '../cli/harness.js';
import { useRgw } from '../servers/rgw.js';

export interface Mounted {
  dir: string;
  cacheDir: string;
  pid: number;
  remote: string;
  stderr(): string;
  /** SIGTERM (the daemon flushes and unmounts), then whatever it takes; never throws. */
  unmount(): Promise<void>;
  /** SIGKILL, then waits until libfuse's auto_unmount watcher has removed the mount (forcing it after 5 s). */
  kill9(): Promise<void>;
  /** The daemon's exit, once it happens. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface MountOptions {
  env?: Record<string, string>;
  args?: string[];
  cacheDir?: string;
  timeoutMs?: number;
  /** Mount on this existing directory (kept afterwards) instead of a fresh temp dir. */
  dir?: string;
}

const READY = /^bucketfs: mounted .* on /m;
const DEFAULT_TIMEOUT_MS = 60_000;
/** How long a SIGTERMed daemon gets to flush before it is killed. */
const STOP_TIMEOUT_MS = 120_000;

/** Mounts still up in this process, cleared at exit (or when tap stops the test with a signal) if a test left them. */
const live = new Set<{ dir: string; pid: number }>();

function clearLive(): void {
  for (const m of live) {
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    spawnSync('fusermount', ['-uz', '--', m.dir], { stdio: 'ignore' });
  }
  live.clear();
}

process.once('exit', clearLive);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearLive();
    process.kill(process.pid, signal);
  });
}

async function isMounted(dir: string): Promise<boolean> {
  return (await fuseMountAt(dir)) !== undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await sleep(50);
  }
  return what();
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

interface Started {
  child: ChildProcess;
  dir: string;
  cacheDir: string;
  ownDir: boolean;
  ownCache: boolean;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Takes a mount down by any means, then removes the temp dirs this harness made. */
async function takeDown(s: Started, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  const exited = s.child.exitCode !== null || s.child.signalCode !== null;
  if (!exited) s.child.kill(signal);
  const done = await Promise.race([s.exit.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    s.child.kill('SIGKILL');
    await s.exit;
  }
  // After a kill -9, libfuse's auto_unmount watcher removes the mount within moments.
  if (!(await waitUntil(async () => !(await isMounted(s.dir)), 5_000))) {
    spawn('fusermount', ['-uz', '--', s.dir], { stdio: 'ignore' });
    await waitUntil(async () => !(await isMounted(s.dir)), 5_000);
  }
  if (s.ownDir) await rmdir(s.dir).catch(() => undefined);
  if (s.ownCache) await rm(s.cacheDir, { recursive: true, force: true });
}

async function start(remote: string, opts: MountOptions): Promise<Started> {
  await ensureBuilt();
  // Resolved, as the mount table shows it.
  const dir = await realpath(opts.dir ?? (await mkdtemp(join(tmpdir(), 'bucketfs-mnt-'))));
  const cacheDir = opts.cacheDir ?? (await mkdtemp(join(tmpdir(), 'bucketfs-cache-')));
  const child = await startCli(['mount', remote, dir, '--foreground', '--cache-dir', cacheDir, ...(opts.args ?? [])], { env: opts.env ?? {} });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout?.resume();
  return { child, dir, cacheDir, ownDir: opts.dir === undefined, ownCache: opts.cacheDir === undefined, output: () => stderr, exit: exitOf(child) };
}

/** Mounts `remote` and resolves once it serves; on failure or timeout the daemon is killed and the error carries its stderr. */
export async function mount(remote: string, opts: MountOptions = {}): Promise<Mounted> {
  const s = await start(remote, opts);
  const entry = { dir: s.dir, pid: s.child.pid ?? -1 };
  live.add(entry);
  // A daemon that exited on its own (bucketfs unmount) needs no clean-up at exit, and its pid may be reused.
  void s.exit.then(() => live.delete(entry));
  const gone = () => s.child.exitCode !== null || s.child.signalCode !== null;
  const ready = await waitUntil(async () => gone() || (READY.test(s.output()) && (await isMounted(s.dir))), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  if (!ready || gone()) {
    await takeDown(s, 'SIGKILL', 1_000);
    live.delete(entry);
    const why = gone() ? `exited with ${(await s.exit).code ?? (await s.exit).signal}` : 'was not ready in time';
    throw new Error(`bucketfs mount ${remote} ${why}; its stderr:\n${s.output()}`);
  }
  let down: Promise<void> | undefined;
  const finish = (signal: NodeJS.Signals, timeoutMs: number) => {
    down ??= takeDown(s, signal, timeoutMs).finally(() => live.delete(entry));
    return down;
  };
  return {
    dir: s.dir,
    cacheDir: s.cacheDir,
    pid: entry.pid,
    remote,
    stderr: s.output,
    unmount: () => finish('SIGTERM', STOP_TIMEOUT_MS),
    kill9: () => finish('SIGKILL', 5_000),
    exit: s.exit,
  };
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Exit status as a shell reports it: the code, 128 + signal number, 124 on timeout. */
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGPIPE: 13 };

/** Runs `command` with bash -c, asynchronously; never throws for a failing command. */
export function sh(command: string, opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<ShResult> {
  const child = spawn('bash', ['-c', command], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  }, opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}[timed out after ${opts.timeoutMs ?? 120_000} ms: ${command}]\n` });
      else resolve({ code: code ?? 128 + (signal === null ? 0 : SIGNAL_NUMBERS[signal] ?? 0), stdout, stderr });
    });
  });
}

export interface MountTarget {
  name: string;
  remote: string;
  env: Record<string, string>;
  /** The data outlives the daemon (false for memory://, whose objects live in the daemon process). */
  persistent: boolean;
  cleanup(): Promise<void>;
}

export type SkippedTarget = { name: string; skipped: string };

const suffix = () => randomBytes(4).toString('hex');

function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= work());
}

async function localTarget(): Promise<MountTarget> {
  const root = await mkdtemp(join(tmpdir(), 'bucketfs-local-'));
  await mkdir(join(root, 'bucket'));
  return { name: 'local', remote: `file://${root}/bucket`, env: {}, persistent: true, cleanup: once(() => rm(root, { recursive: true, force: true })) };
}

async function rgwTarget(t: Test): Promise<MountTarget | SkippedTarget> {
  const server = await useRgw();
  if ('skipped' in server) {
    const line = `SKIPPED: mount on Ceph RGW: ${server.skipped}`;
    console.log(line);
    if (process.env['CI'] === 'true') t.fail(`${line} (under CI the RGW mount tests must run)`);
    return { name: 'rgw', skipped: server.skipped };
  }
  const bucket = `mount-${suffix()}`;
  const remote = `s3://${bucket}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}`;
  const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' };
  const open = () => openRemote(remote, { env });
  const admin = await open();
  await admin.driver.createContainer(bucket).finally(() => admin.close());
  const cleanup = once(async () => {
    const r = await open();
    try {
      const keys: string[] = [];
      for await (const page of r.container.pages()) keys.push(...page.objects.map((o) => o.key));
      for (let i = 0; i < keys.length; i += 1000) await r.container.deleteMany(keys.slice(i, i + 1000));
      await r.driver.deleteContainer(bucket);
    } finally {
      await r.close();
    }
  });
  return { name: 'rgw', remote, env, persistent: true, cleanup };
}

/** The buckets every real-mount test runs over: memory, local directory, Ceph RGW (fresh bucket); each cleaned up in t's teardown. */
export async function mountTargets(t: Test): Promise<(MountTarget | SkippedTarget)[]> {
  const memory: MountTarget = { name: 'memory', remote: `memory://mount-${suffix()}`, env: {}, persistent: false, cleanup: async () => undefined };
  const targets = [memory, await localTarget(), await rgwTarget(t)];
  for (const target of targets) if ('cleanup' in target) t.teardown(target.cleanup);
  return targets;
}
