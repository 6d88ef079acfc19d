/**
 * Runs the real `bucketfs` executable (node bin/bucketfs.js, built to dist/)
 * as a child process with a controlled environment, and the checks every
 * command-line test repeats: one stderr line, no secret anywhere, files
 * compared by checksum. Builds dist/ first when it is missing or older than
 * the sources (serialised across test files that start at the same time).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: the nearest directory above this module holding package.json (test/cli/ or dist/test/cli/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = packageRoot();
const BIN = join(ROOT, 'bin', 'bucketfs.js');
const BUILT = join(ROOT, 'dist', 'daemon', 'cli.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  if (!existsSync(BUILT)) return false;
  const sources = Math.max(...['daemon', 'drivers', 'vfs', 'cache'].map((dir) => newestSource(join(ROOT, dir))));
  return statSync(BUILT).mtimeMs >= sources;
}

/** Builds dist/ unless it is current; one build at a time across test processes. */
export async function ensureBuilt(): Promise<void> {
  if (isFresh()) return;
  const lock = join(ROOT, '.tap', 'cli-build.lock');
  await mkdir(dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 3 minutes; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    // tsc still emits when files elsewhere in the tree have type errors; what matters is the CLI's output.
    if (!isFresh()) spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    if (!existsSync(BUILT)) throw new Error('npm run build did not produce dist/daemon/cli.js');
  } finally {
    await rmdir(lock);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to a minimal environment (PATH, HOME in a temp dir, no AWS_/MINIO_/OSS_ variables of the caller). */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** A private HOME so a developer's ~/.config/bucketfs/credentials never leaks into a test. */
let home: string | undefined;

export async function testHome(): Promise<string> {
  home ??= await mkdtemp(join(tmpdir(), 'bucketfs-cli-home-'));
  return home;
}

export async function removeTestHome(): Promise<void> {
  if (home !== undefined) await rm(home, { recursive: true, force: true });
  home = undefined;
}

export async function startCli(args: string[], options: RunOptions = {}): Promise<ChildProcess> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: await testHome(), ...options.env };
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects a started child's output and exit. */
export function finished(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export async function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return finished(await startCli(args, options), options.timeoutMs);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function fileSha256(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** Every file under `dir` as '/'-separated relative path → sha256. */
export async function treeDigest(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, await treeDigest(path, `${prefix}${entry.name}/`));
    else out[`${prefix}${entry.name}`] = await fileSha256(path);
  }
  return out;
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The lines of a stream's text, without the final newline. */
export function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}
