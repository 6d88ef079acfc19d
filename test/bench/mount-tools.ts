/**
 * The FUSE file systems the mount benchmark compares, each started as a
 * foreground child process on a fresh mountpoint with a fresh cache
 * directory, so every measurement starts cold:
 * - bucketfs: `node bin/bucketfs.js mount REMOTE DIR --cache-dir DIR`, defaults otherwise
 *   (a variant adds options, e.g. `--write-mode async`; a workload may add some, e.g. `--cache-size`);
 * - s3fs: test/mount/scenario-foreign.ts's s3fsMount (url, use_path_request_style,
 *   passwd_file, the server's region; its parallel and multipart defaults);
 * - rclone mount: `--vfs-cache-mode writes --transfers 16`, remote from RCLONE_CONFIG_* (scenario-foreign's rcloneEnv).
 * Secrets reach them through a mode-600 file or the environment, never argv.
 * Everything here runs in child processes: the benchmark never touches a
 * mount with a synchronous call, so a hung file system cannot hang it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import { sh } from '../mount/harness.js';
import { rcloneEnv, s3fsMount } from '../mount/scenario-foreign.js';
import type { S3Server } from '../servers/common.js';

export interface ToolMount {
  dir: string;
  /** The tool's process, for its peak memory (when known). */
  pid?: number;
  /** Where the tool keeps its cache on disk (when it has one). */
  cacheDir?: string;
  /** What the tool printed so far (for errors). */
  output(): string;
  /** Unmounts and stops the tool, then removes its temp dirs; never throws. */
  stop(): Promise<void>;
}

export interface FuseTool {
  name: string;
  /** The command line as the report shows it (credentials are never on it). */
  command: string;
  /** Options of `bucketfs mount` this tool's runs cannot do without (a run is "n/a" when one is missing). */
  needs?: readonly string[];
  /**
   * Mounts the whole bucket; `label` names this mount in profiles and errors.
   * `extraArgs`: options a workload adds to bucketfs's command line (other tools ignore them).
   */
  mount(label: string, extraArgs?: readonly string[]): Promise<ToolMount>;
}

const READY_TIMEOUT_MS = 60_000;
/** A bucketfs daemon flushes on SIGTERM; nothing is pending when the benchmark stops it, so this is only a safety net. */
const STOP_TIMEOUT_MS = 120_000;

interface LiveMount {
  dir: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Mounts still up, for the clean-up of an interrupted run or of the process's exit. */
const live = new Set<LiveMount>();

/** Kills every tool still running and detaches its mount; synchronous, for the process's exit. */
export function killAllNow(): void {
  for (const m of live) {
    if (m.pid !== undefined) {
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('fusermount', ['-uz', '--', m.dir], { stdio: 'ignore' });
  }
  live.clear();
}
process.once('exit', killAllNow);

/** For an interrupted run: kills every tool still running, then lets each remove its temp dirs. */
export async function stopAll(): Promise<void> {
  const mounts = [...live];
  killAllNow();
  await Promise.all(mounts.map((m) => m.stop().catch(() => undefined)));
}

/** The process whose arguments include `arg` exactly (a unique temp path), from /proc. */
function pidWithArgument(arg: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(join('/proc', name, 'cmdline'), 'utf8').split('\0').includes(arg)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** The checkout: the first directory above this module holding bin/bucketfs.js (this module runs from test/ or dist/test/). */
function checkoutRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'bucketfs.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bin/bucketfs.js not found above the benchmark module');
    dir = up;
  }
  return dir;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isMounted = async (dir: string) => (await fuseMountAt(dir)) !== undefined;

interface ChildSpec {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  dir: string;
  /** Removed after the tool stopped. */
  scratch: string;
  /** A line the tool prints once it serves (besides the mount showing in the mount table). */
  ready?: RegExp;
  /** bucketfs stops on SIGTERM (flush, unmount, exit); rclone on an unmount. */
  stopBy: 'SIGTERM' | 'unmount';
}

async function waitReady(spec: ChildSpec, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${spec.label} exited before mounting:\n${output().slice(-2000)}`);
    if ((spec.ready === undefined || spec.ready.test(output())) && (await isMounted(spec.dir))) return;
    await sleep(50);
  }
  throw new Error(`${spec.label} did not mount in ${READY_TIMEOUT_MS / 1000} s:\n${output().slice(-2000)}`);
}

/** Starts a foreground FUSE tool and resolves once it serves; on failure it is killed and the error carries its output. */
async function startChild(spec: ChildSpec): Promise<ToolMount> {
  const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let down: Promise<void> | undefined;
  const stop = () =>
    (down ??= (async () => {
      if (spec.stopBy === 'SIGTERM') child.kill('SIGTERM');
      else if (await isMounted(spec.dir)) await sh(`fusermount -u -- '${spec.dir}'`);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      if (await isMounted(spec.dir)) await sh(`fusermount -uz -- '${spec.dir}'`);
      live.delete(entry);
      await rm(spec.scratch, { recursive: true, force: true });
    })());
  const entry: LiveMount = { dir: spec.dir, pid: child.pid, stop };
  live.add(entry);
  try {
    await waitReady(spec, child, () => output);
  } catch (e) {
    child.kill('SIGKILL');
    await stop();
    throw e;
  }
  return { dir: spec.dir, ...(child.pid === undefined ? {} : { pid: child.pid }), output: () => output, stop };
}

/** A temp dir holding the tool's mountpoint, cache and home. */
async function scratchDirs(tool: string): Promise<{ root: string; mnt: string; cache: string; home: string }> {
  const root = await mkdtemp(join(tmpdir(), `bucketfs-bench-${tool}-`));
  const dirs = { root, mnt: join(root, 'mnt'), cache: join(root, 'cache'), home: join(root, 'home') };
  for (const dir of [dirs.mnt, dirs.cache, dirs.home]) await mkdir(dir);
  return dirs;
}

export interface BucketfsOptions {
  /** Options every mount gets (shown in the command line). */
  args?: readonly string[];
  /** Write a V8 CPU profile of each daemon here (node --cpu-prof), named after the mount's label. */
  profileDir?: string;
  /** Run each daemon with BUCKETFS_DEBUG=1 and keep its stderr here (<label>.log): it ends with the FUSE operations served. */
  logDir?: string;
}

const bucketfsBin = () => join(checkoutRoot(), 'bin', 'bucketfs.js');

/** The options `bucketfs mount --help` lists (e.g. '--write-mode'), so runs needing one the build lacks are reported, not failed. */
export async function bucketfsMountOptions(): Promise<Set<string>> {
  const help = await sh(`'${process.execPath}' '${bucketfsBin()}' mount --help`, { timeoutMs: 60_000 });
  if (help.code !== 0) throw new Error(`bucketfs mount --help exited ${help.code}: ${help.stderr.slice(-1000)}`);
  return new Set(help.stdout.match(/--[a-z][a-z-]*/g));
}

/** A way of running bucketfs: its row name and the options it always adds (e.g. 'bucketfs async', ['--write-mode', 'async']). */
export interface BucketfsVariant {
  name: string;
  args: readonly string[];
}

export const BUCKETFS_DEFAULT: BucketfsVariant = { name: 'bucketfs', args: [] };

export function bucketfsTool(server: S3Server, bucket: string, options: BucketfsOptions = {}, variant = BUCKETFS_DEFAULT): FuseTool {
  const bin = bucketfsBin();
  const remote = `s3://${bucket}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}`;
  const flags = variant.args.filter((a) => a.startsWith('--'));
  const always = [...(options.args ?? []), ...variant.args];
  return {
    name: variant.name,
    command: `bucketfs mount 's3://${bucket}?endpoint=…&region=${server.region}' MNT --cache-dir EMPTY_DIR${always.map((a) => ` ${a}`).join('')} (credentials in AWS_* env)`,
    needs: flags,
    mount: async (label, extraArgs = []) => {
      const dirs = await scratchDirs('bucketfs');
      const profile = options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir, '--cpu-prof-name', `${label}.cpuprofile`];
      const mounted = await startChild({
        label: `bucketfs (${label})`,
        command: process.execPath,
        args: [...profile, bin, 'mount', remote, dirs.mnt, '--foreground', '--cache-dir', dirs.cache, ...always, ...extraArgs],
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dirs.home,
          AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true',
          ...(options.logDir === undefined ? {} : { BUCKETFS_DEBUG: '1' }),
        },
        dir: dirs.mnt,
        scratch: dirs.root,
        ready: /^bucketfs: mounted .* on /m,
        stopBy: 'SIGTERM',
      });
      const { logDir } = options;
      if (logDir === undefined) return { ...mounted, cacheDir: dirs.cache };
      const stop = async () => {
        await mounted.stop();
        await mkdir(logDir, { recursive: true });
        await writeFile(join(logDir, `${label}.log`), mounted.output());
      };
      return { ...mounted, cacheDir: dirs.cache, stop };
    },
  };
}

/** For rclone's many small uploads (its default is 4); part size and upload concurrency of big files stay at rclone's defaults. */
const RCLONE_TRANSFERS = 16;

export function rcloneTool(server: S3Server, bucket: string): FuseTool {
  const flags = ['--vfs-cache-mode', 'writes', '--transfers', String(RCLONE_TRANSFERS)];
  return {
    name: 'rclone mount',
    command: `rclone mount rgw:${bucket} MNT ${flags.join(' ')} --cache-dir EMPTY_DIR (remote from RCLONE_CONFIG_RGW_* env, provider Ceph)`,
    mount: async (label) => {
      const dirs = await scratchDirs('rclone');
      const mounted = await startChild({
        label: `rclone mount (${label})`,
        command: 'rclone',
        args: ['mount', `rgw:${bucket}`, dirs.mnt, ...flags, '--cache-dir', dirs.cache],
        env: rcloneEnv(server, dirs.home),
        dir: dirs.mnt,
        scratch: dirs.root,
        stopBy: 'unmount',
      });
      return { ...mounted, cacheDir: dirs.cache };
    },
  };
}

/**
 * scenario-foreign's helpers register their clean-up on a tap Test; this
 * stands in for one outside tap, and runs the clean-ups (last first) on stop.
 */
class Teardowns {
  private readonly steps: (() => unknown)[] = [];

  teardown(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await Promise.resolve(step()).catch(() => undefined);
  }
}

export function s3fsTool(server: S3Server, bucket: string): FuseTool {
  return {
    name: 's3fs',
    command: `s3fs ${bucket} MNT -f -o url=${server.endpoint},use_path_request_style,passwd_file=FILE(600),endpoint=${server.region},dbglevel=warn`,
    mount: async (label) => {
      const teardowns = new Teardowns();
      try {
        const m = await s3fsMount(teardowns as unknown as Test, server, bucket);
        const stop = async () => {
          await teardowns.run();
          live.delete(entry);
        };
        // s3fsMount keeps the process to itself; an interrupted run must still be able to kill it.
        const pid = pidWithArgument(m.dir);
        const entry: LiveMount = { dir: m.dir, pid, stop };
        live.add(entry);
        return { dir: m.dir, ...(pid === undefined ? {} : { pid }), output: m.output, stop };
      } catch (e) {
        await teardowns.run();
        throw new Error(`s3fs (${label}) did not mount`, { cause: e });
      }
    },
  };
}
