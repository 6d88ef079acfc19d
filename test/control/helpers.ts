/**
 * What the control tests share: a private runtime dir per test file (so the
 * sockets of concurrent test runs never meet), the bucketfs command line
 * pointed at it, the mount's socket, and a scrape of its metrics.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { runCli, type CliResult } from '../cli/harness.js';
import { sh } from '../mount/harness.js';
import { parsePrometheus, type Sample } from './prometheus.js';

export interface ControlEnv {
  /** XDG_RUNTIME_DIR for the daemon and the commands. */
  runtime: string;
  /** Where the sockets and records are: `<runtime>/bucketfs`. */
  dir: string;
  env: Record<string, string>;
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
}

export async function controlEnv(t: Test, base: Record<string, string> = {}): Promise<ControlEnv> {
  // Short: a Unix socket path holds at most 107 bytes.
  const runtime = await mkdtemp(join(tmpdir(), 'bfs-run-'));
  t.teardown(() => rm(runtime, { recursive: true, force: true }));
  const env = { ...base, XDG_RUNTIME_DIR: runtime };
  return { runtime, dir: join(runtime, 'bucketfs'), env, cli: (args, extraEnv = {}) => runCli(args, { env: { ...env, ...extraEnv } }) };
}

/** The one control socket in the runtime dir. */
export async function onlySocket(c: ControlEnv): Promise<string> {
  const sockets = (await readdir(c.dir)).filter((n) => n.endsWith('.sock'));
  if (sockets.length !== 1) throw new Error(`expected one control socket in ${c.dir}, found ${sockets.join(', ') || 'none'}`);
  return join(c.dir, sockets[0]!);
}

/** GET `path` on the socket with curl, as an operator would. */
export async function curlSocket(socket: string, path: string): Promise<string> {
  const r = await sh(`curl -sS --fail --unix-socket '${socket}' 'http://bucketfs${path}'`);
  if (r.code !== 0) throw new Error(`curl ${path} failed: ${r.stderr}`);
  return r.stdout;
}

export async function scrape(socket: string): Promise<Sample[]> {
  return parsePrometheus(await curlSocket(socket, '/metrics')).samples;
}
