/**
 * The other tools a bucket is shared with, run for real as child processes:
 * s3fs (Debian's s3fs-fuse) and `rclone mount` / `rclone copy`, both pointed
 * at a loopback S3 server. Credentials reach them only through a mode-600
 * file (s3fs) or the environment (rclone), never argv. Every mount is taken
 * down (fusermount -u, then SIGKILL) at teardown.
 */
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Server } from '../servers/common.js';
import { sh } from './harness.js';

export interface ForeignMount {
  dir: string;
  output(): string;
  unmount(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

async function tempDir(t: Test, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `bucketfs-interop-${label}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** PATH and a private HOME only: nothing of the caller's configuration or CA settings reaches the tool. */
function cleanEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C', TZ: 'UTC', ...extra };
}

export function rcloneEnv(server: S3Server, home: string): Record<string, string> {
  return cleanEnv(home, {
    RCLONE_CONFIG_RGW_TYPE: 's3',
    RCLONE_CONFIG_RGW_PROVIDER: 'Ceph',
    RCLONE_CONFIG_RGW_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_RGW_REGION: server.region,
    RCLONE_CONFIG_RGW_ACCESS_KEY_ID: server.accessKeyId,
    RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY: server.secretAccessKey,
  });
}

async function isMountpoint(dir: string): Promise<boolean> {
  return (await sh(`mountpoint -q '${dir}'`)).code === 0;
}

async function waitMounted(dir: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (await isMountpoint(dir)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Starts a foreground FUSE tool and waits for its mount; it is unmounted and stopped at teardown. */
async function foreignMount(t: Test, label: string, command: string, args: (dir: string) => string[], env: Record<string, string>): Promise<ForeignMount> {
  const dir = await tempDir(t, `${label}-mnt`);
  const child = spawn(command, args(dir), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let down: Promise<void> | undefined;
  const unmount = () =>
    (down ??= (async () => {
      if (await isMountpoint(dir)) await sh(`fusermount -u '${dir}' || fusermount -uz '${dir}'`);
      const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) child.kill('SIGKILL');
      await exited;
    })());
  t.teardown(unmount);
  if (!(await waitMounted(dir, child))) {
    await unmount();
    throw new Error(`${command} did not mount: ${output.slice(-2000)}`);
  }
  return { dir, output: () => output, unmount };
}

/** s3fs mounting `bucket[:/prefix]` from the loopback server (path-style URLs, the server's region for SigV4). */
export async function s3fsMount(t: Test, server: S3Server, bucketPath: string): Promise<ForeignMount> {
  const home = await tempDir(t, 's3fs-home');
  const passwd = join(home, 'passwd-s3fs');
  await writeFile(passwd, `${server.accessKeyId}:${server.secretAccessKey}\n`, { mode: 0o600 });
  await chmod(passwd, 0o600);
  const options = [`url=${server.endpoint}`, 'use_path_request_style', `passwd_file=${passwd}`, `endpoint=${server.region}`, 'dbglevel=warn'];
  return foreignMount(t, 's3fs', 's3fs', (dir) => [bucketPath, dir, '-f', ...options.flatMap((o) => ['-o', o])], cleanEnv(home));
}

/** `rclone mount` of `rgw:path`, read-only, credentials from the environment. */
export async function rcloneMount(t: Test, server: S3Server, path: string): Promise<ForeignMount> {
  const home = await tempDir(t, 'rclone-home');
  const cache = await tempDir(t, 'rclone-cache');
  const args = (dir: string) => ['mount', `rgw:${path}`, dir, '--read-only', '--cache-dir', cache, '--vfs-cache-mode', 'writes'];
  return foreignMount(t, 'rclone', 'rclone', args, rcloneEnv(server, home));
}

/** `rclone copy LOCAL rgw:path` (symlinks are skipped by rclone, with a notice). Not through `sh`: its environment must stay clean. */
export async function rcloneCopy(t: Test, server: S3Server, local: string, path: string): Promise<void> {
  const home = await tempDir(t, 'rclone-home');
  const child = spawn('rclone', ['copy', local, `rgw:${path}`], { env: rcloneEnv(server, home), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`rclone copy exited ${String(code)}: ${stderr.slice(-2000)}`);
}
