/**
 * Crash tests of the async write mode with the real daemon, over a local
 * directory and Ceph RGW: the daemon is killed with SIGKILL (a) right after
 * close acknowledged a 200 MB file, (b) while its multipart upload is in
 * progress, (c) while a file is still being written (not acknowledged), and
 * (d) between appends to a large object (acknowledged appends, a truncate,
 * then an append never closed: the versions share one snapshot file).
 * A second daemon on the same cache directory replays the journal; after it
 * stops, the bucket holds exactly the acknowledged bytes (sha256), never a
 * partial object, and no multipart upload is left behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { mount, mountTargets, sh, type MountTarget } from './harness.js';

const MB = 1024 * 1024;
const ASYNC = ['--write-mode', 'async'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const scratch = await mkdtemp(join(tmpdir(), 'bucketfs-crash-'));
t.teardown(async () => {
  await sh(`grep -o ' ${scratch}/[^ ]*' /proc/self/mountinfo | xargs -r -n1 fusermount -uz --`);
  await sh(`rm -rf --one-file-system '${scratch}'`);
});

const source = join(scratch, 'source.bin');
await sh(`head -c ${200 * MB} /dev/urandom > '${source}'`);
const sourceSha = await fileSha(source);

async function fileSha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** The bucket as the test sees it, beside the daemon. */
async function bucketOf(target: MountTarget) {
  const remote = await openRemote(target.remote, { env: target.env });
  const { container } = remote;
  const backend = container.driver.backend;
  return {
    close: () => remote.close(),
    /** sha256 of the object, or undefined when there is none. */
    async sha(key: string): Promise<string | undefined> {
      const info = await container.head(key).catch(() => undefined);
      if (info === undefined) return undefined;
      const hash = createHash('sha256');
      for (let at = 0; at < info.size; at += 32 * MB) hash.update(await container.getRange(key, { start: at, end: Math.min(info.size, at + 32 * MB) }));
      return hash.digest('hex');
    },
    uploads: () => backend.listMultipartUploads(container.name),
    put: (key: string, body: Buffer) => container.put(key, body),
  };
}

async function newDirs(name: string): Promise<{ dir: string; cacheDir: string }> {
  const dir = await mkdtemp(join(scratch, `${name}-mnt-`));
  const cacheDir = await mkdtemp(join(scratch, `${name}-cache-`));
  return { dir, cacheDir };
}

async function waitFor(what: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await sleep(10);
  }
  return false;
}

/** Mounts again on the same cache directory, checks what the mount serves, stops it (it drains the journal), checks the bucket. */
async function restartAndCheck(t: Test, target: MountTarget, dirs: { dir: string; cacheDir: string }, expected: Record<string, string | undefined>): Promise<void> {
  const again = await mount(target.remote, { ...dirs, env: target.env, args: ASYNC });
  for (const [name, sha] of Object.entries(expected)) {
    const seen = await sh(`sha256sum '${join(dirs.dir, name)}'`);
    if (sha === undefined) t.equal(seen.code, 1, `${name} does not exist on the restarted mount`);
    else t.equal(seen.stdout.split(' ')[0], sha, `the restarted mount serves ${name} with the acknowledged bytes`);
  }
  await again.unmount();
  t.same(await again.exit, { code: 0, signal: null }, `the restarted daemon uploaded everything and exited 0 (stderr: ${again.stderr()})`);
  const bucket = await bucketOf(target);
  try {
    for (const [name, sha] of Object.entries(expected)) t.equal(await bucket.sha(name), sha, `the bucket holds exactly the acknowledged ${name}`);
    t.same(await bucket.uploads(), [], 'no multipart upload is left behind');
  } finally {
    await bucket.close();
  }
  t.same(await readdir(join(dirs.cacheDir, 'staging')), [], 'no snapshot is left in the cache');
}

async function killAfterClose(t: Test, target: MountTarget): Promise<void> {
  const dirs = await newDirs('ack');
  const first = await mount(target.remote, { ...dirs, env: target.env, args: ASYNC });
  const copy = await sh(`cp '${source}' '${dirs.dir}/acked'`);
  t.equal(copy.code, 0, 'close acknowledged the 200 MB file');
  process.kill(first.pid, 'SIGKILL');
  await first.kill9();
  const bucket = await bucketOf(target);
  const landed = (await bucket.sha('acked')) === sourceSha;
  await bucket.close();
  // RGW takes seconds for 200 MB; the local backend can finish in the moment between close and the kill.
  if (target.name === 'rgw') t.notOk(landed, 'the daemon died before the upload finished');
  else t.comment(landed ? 'the upload had finished before the kill' : 'the daemon died before the upload finished');
  await restartAndCheck(t, target, dirs, { acked: sourceSha });
}

async function killDuringMultipart(t: Test, target: MountTarget): Promise<void> {
  const dirs = await newDirs('mpu');
  const first = await mount(target.remote, { ...dirs, env: target.env, args: ASYNC });
  t.equal((await sh(`cp '${source}' '${dirs.dir}/big'`)).code, 0, 'close acknowledged the 200 MB file');
  const bucket = await bucketOf(target);
  try {
    const started = await waitFor(async () => (await bucket.uploads()).some((u) => u.key === 'big'), 30_000);
    t.ok(started, 'its multipart upload is in progress');
    process.kill(first.pid, 'SIGKILL');
    await first.kill9();
    const landed = (await bucket.sha('big')) === sourceSha;
    if (target.name === 'rgw') t.notOk(landed, 'killed before the upload completed');
    else t.comment(landed ? 'the upload completed before the kill' : 'killed before the upload completed');
  } finally {
    await bucket.close();
  }
  await restartAndCheck(t, target, dirs, { big: sourceSha });
}

async function killWhileWriting(t: Test, target: MountTarget): Promise<void> {
  const dirs = await newDirs('write');
  const old = randomBytes(MB + 5);
  const oldSha = createHash('sha256').update(old).digest('hex');
  const setup = await bucketOf(target);
  await setup.put('old', old);
  await setup.close();
  const first = await mount(target.remote, { ...dirs, env: target.env, args: ASYNC });
  // Two writers that never get to close: one overwrites an existing object in place, one makes a new file.
  // (No O_TRUNC: truncating by path is itself acknowledged, as in the sync mode.) They write over
  // their first 400 MiB again and again until the daemon goes: never done before the kill, however slow the machine.
  const writer = (name: string) =>
    sh(`python3 -c 'import os, itertools; fd = os.open("${dirs.dir}/${name}", os.O_WRONLY | os.O_CREAT); [os.pwrite(fd, bytes(1 << 20), (i % 400) << 20) for i in itertools.count()]'`);
  const writers = [writer('old'), writer('fresh')];
  const staged = await waitFor(async () => {
    const names = await readdir(join(dirs.cacheDir, 'staging')).catch(() => []);
    const sizes = await Promise.all(names.map((n) => stat(join(dirs.cacheDir, 'staging', n)).then((s) => s.size, () => 0)));
    return sizes.filter((size) => size > 20 * MB).length >= 2;
  }, 30_000);
  t.ok(staged, 'both files are being written');
  process.kill(first.pid, 'SIGKILL');
  await first.kill9();
  const results = await Promise.all(writers);
  t.ok(results.every((r) => r.code !== 0), 'the writers saw the daemon go away');
  await restartAndCheck(t, target, dirs, { old: oldSha, fresh: undefined });
}

async function killBetweenAppends(t: Test, target: MountTarget): Promise<void> {
  const dirs = await newDirs('append');
  const base = randomBytes(64 * MB);
  const setup = await bucketOf(target);
  await setup.put('log', base);
  await setup.close();
  const first = await mount(target.remote, { ...dirs, env: target.env, args: ASYNC });
  const file = join(dirs.dir, 'log');
  const tails = [randomBytes(1024), randomBytes(1024), randomBytes(1024)];
  const appendTail = (tail: Buffer) => sh(`printf '%s' '${tail.toString('hex')}' >> '${file}'`);
  for (const tail of tails.slice(0, 2)) t.equal((await appendTail(tail)).code, 0, 'an append was acknowledged');
  // Into the bytes the last version acknowledged: that snapshot is copied, not changed.
  const cut = base.length + 2048 + 1000;
  t.equal((await sh(`truncate -s ${cut} '${file}'`)).code, 0, 'a truncate after the appends was acknowledged');
  t.equal((await appendTail(tails[2] as Buffer)).code, 0, 'an append after the truncate was acknowledged');
  const hex = (tail: Buffer) => Buffer.from(tail.toString('hex'));
  const model = Buffer.concat([Buffer.concat([base, ...tails.slice(0, 2).map(hex)]).subarray(0, cut), hex(tails[2] as Buffer)]);
  // An appender that never gets to close: its bytes were never acknowledged.
  const writer = sh(`python3 -c 'import os; fd = os.open("${file}", os.O_WRONLY | os.O_APPEND); [os.write(fd, bytes(1 << 20)) for _ in range(400)]'`);
  const growing = await waitFor(async () => {
    const names = await readdir(join(dirs.cacheDir, 'staging')).catch(() => []);
    const sizes = await Promise.all(names.map((n) => stat(join(dirs.cacheDir, 'staging', n)).then((s) => s.size, () => 0)));
    return sizes.some((size) => size > model.length + 8 * MB);
  }, 30_000);
  t.ok(growing, 'the unacknowledged appends are being written');
  process.kill(first.pid, 'SIGKILL');
  await first.kill9();
  t.not((await writer).code, 0, 'the writer saw the daemon go away');
  await restartAndCheck(t, target, dirs, { log: createHash('sha256').update(model).digest('hex') });
}

const targets = await mountTargets(t);
for (const target of targets) {
  if ('skipped' in target || !target.persistent) continue;
  await t.test(`${target.name}: kill -9 right after close acknowledged 200 MB: the restart uploads exactly those bytes`, (t) => killAfterClose(t, target));
  await t.test(`${target.name}: kill -9 during the multipart upload: the restart aborts it and uploads again`, (t) => killDuringMultipart(t, target));
  await t.test(`${target.name}: kill -9 while files are written (not acknowledged): the bucket keeps the old object or nothing`, (t) => killWhileWriting(t, target));
  await t.test(`${target.name}: kill -9 between appends to a 64 MB object: the restart uploads exactly the acknowledged appends`, (t) => killBetweenAppends(t, target));
}
