/**
 * The loopback S3 servers the other tests rely on: each one starts, serves
 * the basic calls through the raw AWS SDK, refuses wrong credentials, and
 * leaves no process or temp dir behind when its owner stops or dies.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { startRgwCluster, stopRgwCluster } from './ceph-cluster.js';
import { livePids, s3Client, sleep, type S3Server, type Skipped } from './common.js';
import { NOT_INSTALLED, startRgw, useRgw } from './rgw.js';
import { useS3rver } from './s3rver.js';

interface Harness {
  name: string;
  use: () => Promise<S3Server | Skipped>;
  /** Credentials the server must refuse. s3rver checks only the access key id: it does not verify SigV4 signatures. */
  wrong: (server: S3Server) => S3Server;
}

const harnesses: Harness[] = [
  { name: 'Ceph RGW', use: useRgw, wrong: (server) => ({ ...server, secretAccessKey: `${server.secretAccessKey}-wrong` }) },
  { name: 's3rver', use: useS3rver, wrong: (server) => ({ ...server, accessKeyId: 'NOSUCHKEY' }) },
];

for (const { name, use, wrong } of harnesses) {
  t.test(name, async (t) => {
    const started = performance.now();
    const server = await use();
    if ('skipped' in server) return reportSkip(t, name, server.skipped);
    t.comment(`${name} ready in ${((performance.now() - started) / 1000).toFixed(1)} s at ${server.endpoint}`);
    const bucket = await basicCalls(t, server);
    await refused(t, wrong(server), bucket);
  });
}

t.test('a Ceph cluster is stopped by its owner, or by the watchdog when the owner dies', async (t) => {
  const rgw = await useRgw();
  if ('skipped' in rgw) return reportSkip(t, 'Ceph RGW lifecycle', rgw.skipped);
  const stopped = await startRgwCluster(process.pid);
  t.equal(livePids(stopped.dir, stopped.pids).length, 3, 'mon, osd and radosgw run');
  stopRgwCluster(stopped);
  t.same(await survivors(stopped.dir, stopped.pids), [], 'stop kills every daemon');
  t.notOk(existsSync(stopped.dir), 'stop removes the cluster dir');

  const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => owner.kill('SIGKILL'));
  const orphaned = await startRgwCluster(owner.pid ?? 0);
  owner.kill('SIGKILL');
  t.same(await survivors(orphaned.dir, orphaned.pids), [], 'the owner dying kills every daemon');
  t.ok(await removedSoon(orphaned.dir), 'and removes the cluster dir');
});

t.test('servers started by a process are gone when it exits', async (t) => {
  const rgw = await useRgw();
  if ('skipped' in rgw) return reportSkip(t, 'private Ceph RGW at exit', rgw.skipped);
  const scratch = mkdtempSync(join(tmpdir(), 'bucketfs-servers-test-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const output = await runChild(scratch);
  t.match(output, /^rgw http:\/\/127\.0\.0\.1:\d+\ns3rver http:\/\/127\.0\.0\.1:\d+\n$/, 'the child got both servers');
  t.same(await processesMentioning(scratch), [], 'no process of the child is left');
  t.same(readdirSync(scratch).filter((name) => name.startsWith('bucketfs-')), [], 'no temp dir of the child is left');
});

t.test('a gateway that cannot run is reported as skipped, with the reason', async (t) => {
  const rgw = await useRgw();
  if ('skipped' in rgw) return reportSkip(t, 'Ceph RGW skip reasons', rgw.skipped);
  const fakes = mkdtempSync(join(tmpdir(), 'bucketfs-fake-bin-'));
  const realPath = process.env['PATH'] ?? '';
  t.teardown(() => {
    process.env['PATH'] = realPath;
    rmSync(fakes, { recursive: true, force: true });
  });
  process.env['PATH'] = fakes;
  t.same(await startRgw(process.pid), { owner: process.pid, skipped: NOT_INSTALLED }, 'missing programs');

  writeFileSync(join(fakes, 'radosgw'), '#!/bin/sh\necho "fake radosgw: cannot bind" >&2\nexit 3\n', { mode: 0o755 });
  process.env['PATH'] = `${fakes}:${realPath}`;
  const failed = await startRgw(process.pid);
  t.match(failed, { skipped: /radosgw.*exit 3[^]*fake radosgw: cannot bind/ }, 'a daemon that dies: which one, and its log');
});

/** Create bucket, put, ranged get, head, list; returns the bucket. */
async function basicCalls(t: Test, server: S3Server): Promise<string> {
  const client = s3Client(server);
  t.teardown(() => client.destroy());
  const Bucket = `servers-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket }));
  const body = 'hello, loopback S3';
  for (const Key of ['dir/a.txt', 'dir/sub/b.txt', 'top.txt']) {
    await client.send(new PutObjectCommand({ Bucket, Key, Body: body, Metadata: { mode: '33188' } }));
  }
  const ranged = await client.send(new GetObjectCommand({ Bucket, Key: 'dir/a.txt', Range: 'bytes=7-14' }));
  t.equal(await ranged.Body?.transformToString(), 'loopback', 'ranged get returns the bytes asked for');
  t.equal(ranged.ContentRange, `bytes 7-14/${body.length}`, 'with the content range');
  const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'dir/a.txt' }));
  t.same(head.Metadata, { mode: '33188' }, 'user metadata round-trips');
  const listed = await client.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/', Delimiter: '/' }));
  t.same(listed.Contents?.map((o) => o.Key), ['dir/a.txt'], 'list returns keys under the prefix');
  t.same(listed.CommonPrefixes?.map((p) => p.Prefix), ['dir/sub/'], 'and the sub-prefixes');
  return Bucket;
}

/** Wrong credentials are refused with 403 (on an existing bucket: s3rver answers 404 for a missing one first). */
async function refused(t: Test, wrong: S3Server, Bucket: string): Promise<void> {
  const client = s3Client(wrong);
  t.teardown(() => client.destroy());
  const error = await client.send(new ListObjectsV2Command({ Bucket })).catch((e: unknown) => e);
  t.ok(error instanceof S3ServiceException, 'wrong credentials are refused');
  t.equal((error as S3ServiceException).$metadata.httpStatusCode, 403, 'with 403');
}

function reportSkip(t: Test, name: string, reason: string): void {
  console.log(`SKIPPED: ${name}: ${reason}`);
  if (process.env['CI'] === 'true') t.fail(`${name} skipped under CI: ${reason}`);
  else t.pass(name, { skip: reason.split('\n')[0] ?? reason });
}

/** Pids (of those given) still running up to 5 s after a kill: SIGKILL is not instant, and the watchdog polls every 0.5 s. */
async function survivors(dir: string, pids: number[]): Promise<number[]> {
  for (let waited = 0; waited < 5_000 && livePids(dir, pids).length > 0; waited += 100) await sleep(100);
  return livePids(dir, pids);
}

async function removedSoon(path: string): Promise<boolean> {
  for (let waited = 0; waited < 5_000 && existsSync(path); waited += 100) await sleep(100);
  return !existsSync(path);
}

/** A child process that starts a private RGW and an s3rver with TMPDIR=`scratch`, prints their endpoints and exits. */
async function runChild(scratch: string): Promise<string> {
  const rgw = new URL('./rgw.js', import.meta.url).href;
  const s3rver = new URL('./s3rver.js', import.meta.url).href;
  const script = `import { useRgw } from ${JSON.stringify(rgw)};
import { useS3rver } from ${JSON.stringify(s3rver)};
const r = await useRgw(); const s = await useS3rver();
console.log('rgw', r.endpoint ?? r.skipped); console.log('s3rver', s.endpoint ?? s.skipped);`;
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    env: { ...process.env, TMPDIR: scratch },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return output;
}

/** Running processes whose command line mentions `text` (inspection only). */
async function processesMentioning(text: string): Promise<string[]> {
  const scan = (): string[] =>
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .flatMap((pid) => {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          return cmdline.includes(text) ? [`${pid} ${cmdline.replaceAll('\0', ' ')}`] : [];
        } catch {
          return [];
        }
      });
  for (let waited = 0; waited < 2_000 && scan().length > 0; waited += 100) await sleep(100);
  return scan();
}
