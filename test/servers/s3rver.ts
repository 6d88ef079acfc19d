/**
 * s3rver (a small S3 server written for Node) as a child process on
 * loopback: quick to start, so each test process gets its own, stopped when
 * the process exits (a watchdog stops it if the process dies first).
 *
 * It keeps each object as a file named after its key, and is partial: no
 * ListParts, ListMultipartUploads, AbortMultipartUpload, UploadPartCopy, tag
 * deletion or versioning; no signature check (only the access key id); no
 * EncodingType; copy sources decoded with decodeURI; key segments limited
 * by file names; deletes that empty a folder racing with each other. Test
 * files declare what it lacks as `serverLacks` (see S3RVER_LACKS in
 * test/drivers/s3.test.ts). It does not count CommonPrefixes toward MaxKeys
 * (the s3 backend bounds such pages itself). Node 17+ needs
 * --openssl-legacy-provider, or every truncated ListObjectsV2 answers 500
 * (its continuation tokens use DES).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { recordPid, sleep, startWatchdog, stopHarness, tailFile, waitForS3, type S3Server, type Skipped } from './common.js';

export type { S3Server, Skipped } from './common.js';

/** s3rver's fixed credentials. */
const S3RVER_KEY = 'S3RVER';

/** It starts in well under 2 s; 30 s allows for a loaded machine. */
const START_TIMEOUT_MS = 30_000;

let current: Promise<S3Server | Skipped> | undefined;

/** This process's s3rver, started on first call; every caller in the process shares it. */
export async function useS3rver(): Promise<S3Server | Skipped> {
  current ??= startS3rver();
  return current;
}

async function startS3rver(): Promise<S3Server | Skipped> {
  const bin = s3rverBin();
  if (bin === undefined) return { skipped: 's3rver not installed (it is a devDependency: npm ci)' };
  const dir = mkdtempSync(join(tmpdir(), 'bucketfs-s3rver-'));
  const watchdogPid = startWatchdog(process.pid, dir, [dir]);
  const log = join(dir, 's3rver.out');
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', join(dir, 'data'), '-a', '127.0.0.1', '-p', '0', '-s'], {
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  recordPid(dir, child.pid);
  child.unref();
  let spawnError: string | undefined;
  child.once('error', (error) => (spawnError = error.message));
  const exited = (): string | undefined =>
    child.exitCode !== null || child.signalCode !== null ? `s3rver exited (${child.signalCode ?? child.exitCode})` : spawnError;
  try {
    const server = await announcedServer(log, Date.now() + START_TIMEOUT_MS, exited);
    await waitForS3(server, Date.now() + START_TIMEOUT_MS, exited);
    process.once('exit', () => stopHarness(dir, watchdogPid, [dir]));
    child.once('exit', () => reportCrash(server, log));
    return server;
  } catch (error) {
    const reason = `s3rver did not start: ${error instanceof Error ? error.message : String(error)}\n${tailFile(log)}`;
    stopHarness(dir, watchdogPid, [dir]);
    return { skipped: reason };
  }
}

/**
 * s3rver dies on some requests instead of answering an error (e.g. a key
 * segment longer than the file system's 255-byte name limit: ENAMETOOLONG);
 * its log is removed at exit, so say why now, or tests only see
 * "connection refused".
 */
function reportCrash(server: S3Server, log: string): void {
  process.stderr.write(`s3rver at ${server.endpoint} exited unexpectedly; its log ends:\n${tailFile(log)}\n`);
}

/** s3rver listens on a port the kernel picks (-p 0) and prints it; no port race. */
async function announcedServer(log: string, deadline: number, exited: () => string | undefined): Promise<S3Server> {
  while (Date.now() < deadline && exited() === undefined) {
    const match = /listening on ([\d.]+):(\d+)/.exec(readFileSync(log, 'utf8'));
    if (match !== null) {
      const endpoint = `http://${match[1] ?? '127.0.0.1'}:${match[2] ?? ''}`;
      return { name: 's3rver', endpoint, region: 'us-east-1', accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY };
    }
    await sleep(25);
  }
  throw new Error(exited() ?? 'no "listening on" line in time');
}

function s3rverBin(): string | undefined {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}
