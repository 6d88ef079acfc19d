/**
 * The `bucketfs mount` daemon's life, as a real child process over the real
 * VFS: the ready line, SIGTERM flushing a file still open for writing before
 * unmounting (exit 0), kill -9 leaving no stale mount and an immediate
 * remount, a stale mount cleared, `bucketfs unmount`, and every start-up
 * failure being one line with its own exit code and nothing mounted.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openRemote } from '../../drivers/remote.js';
import { fuseMountAt } from '../../vfs/fuse-adapter.js';
import { exists, lines, removeTestHome, runCli, type CliResult } from '../cli/harness.js';
import { mount, mountTargets, sh, type MountTarget } from './harness.js';

const scratch = await mkdtemp(join(tmpdir(), 'bucketfs-lifecycle-'));
t.teardown(async () => {
  // Never recurse into a mount: every one under scratch should be gone by now, and rm stays on this file system.
  await sh(`grep -o ' ${scratch}/[^ ]*' /proc/self/mountinfo | xargs -r -n1 fusermount -uz --`);
  await sh(`rm -rf --one-file-system '${scratch}'`);
  await removeTestHome();
});

const payload = randomBytes(3 * 1024 * 1024 + 17);
const payloadFile = join(scratch, 'payload.bin');
await writeFile(payloadFile, payload);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gone(dir: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while ((await fuseMountAt(dir)) !== undefined) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function newDir(name: string): Promise<string> {
  const dir = join(scratch, `${name}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir);
  return dir;
}

/** The object's bytes, read straight from the bucket (not through a mount). */
async function bucketSha(target: MountTarget, key: string): Promise<string> {
  const remote = await openRemote(target.remote, { env: target.env });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await remote.container.openObject(`${remote.prefix}${key}`)) chunks.push(chunk as Buffer);
    return sha256(Buffer.concat(chunks));
  } finally {
    await remote.close();
  }
}

/** A shell that writes the payload through a descriptor it keeps open (the file stays dirty) until killed. */
async function holdOpenForWriting(path: string): Promise<() => void> {
  const child = spawn('bash', ['-c', `exec 3>'${path}'; cat '${payloadFile}' >&3; echo written; exec sleep 300`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  return () => child.kill('SIGKILL');
}

async function sigtermFlushes(t: Test, target: MountTarget): Promise<void> {
  const m = await mount(target.remote, { env: target.env });
  t.teardown(() => m.unmount());
  t.match(m.stderr(), new RegExp(`^bucketfs: mounted \\S+ on ${m.dir}$`, 'm'), 'the ready line names the remote and the mountpoint');
  const cp = await sh(`cp '${payloadFile}' '${m.dir}/closed.bin' && mkdir '${m.dir}/sub' && echo note > '${m.dir}/sub/note.txt'`);
  t.equal(cp.code, 0, cp.stderr);
  const stopWriter = await holdOpenForWriting(`${m.dir}/open.bin`);
  process.kill(m.pid, 'SIGTERM');
  const exit = await m.exit;
  stopWriter();
  t.same(exit, { code: 0, signal: null }, `exit 0 after SIGTERM (stderr: ${m.stderr()})`);
  t.match(m.stderr(), /stopping \(SIGTERM\): flushing open files/);
  t.match(m.stderr(), new RegExp(`unmounted ${m.dir}`));
  t.ok(await gone(m.dir, 1_000), 'the mount is gone');
  if (!target.persistent) return;
  t.equal(await bucketSha(target, 'closed.bin'), sha256(payload), 'a closed file is in the bucket');
  t.equal(await bucketSha(target, 'open.bin'), sha256(payload), 'a file still open for writing was flushed before unmounting');
  t.equal(await bucketSha(target, 'sub/note.txt'), sha256(Buffer.from('note\n')));
}

async function killAndRemount(t: Test, target: MountTarget): Promise<void> {
  const dir = await newDir('kill9');
  const cacheDir = await newDir('kill9-cache');
  const first = await mount(target.remote, { env: target.env, dir, cacheDir });
  t.equal((await sh(`echo before > '${dir}/before.txt'`)).code, 0);
  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  t.ok(await gone(dir, 3_000), 'auto_unmount removed the mount of the killed daemon');
  t.equal((await sh(`ls -A '${dir}'`)).stdout, '', 'the mountpoint is a plain, readable, empty directory again');
  await first.kill9();
  const second = await mount(target.remote, { env: target.env, dir, cacheDir });
  t.teardown(() => second.unmount());
  t.notMatch(second.stderr(), /stale/, 'nothing stale to clear');
  const ls = await sh(`ls '${dir}'`);
  t.equal(ls.code, 0, ls.stderr);
  if (target.persistent) t.match(ls.stdout, /^before\.txt$/m, 'the remount serves the bucket, with what was written before the kill');
  else t.equal(ls.stdout, '', 'the remount serves a new, empty in-memory bucket');
  const unmounted = await runCli(['unmount', dir, '--cache-dir', cacheDir]);
  t.equal(unmounted.code, 0, `bucketfs unmount (${unmounted.stderr})`);
  t.same(await Promise.race([second.exit, sleep(100).then(() => 'still running')]), { code: 0, signal: null }, 'unmount waited for the daemon, which exited 0');
  t.ok(await gone(dir, 0), 'and the mount is gone');
}

const targets = await mountTargets(t);
for (const target of targets) {
  if ('skipped' in target) continue;
  await t.test(`${target.name}: SIGTERM flushes a file still open for writing, unmounts, exits 0`, (t) => sigtermFlushes(t, target));
  if (target.name !== 'rgw') await t.test(`${target.name}: kill -9 leaves no stale mount; remount; bucketfs unmount`, (t) => killAndRemount(t, target));
}

/**
 * close(2) returns before the kernel sends the file's release: a SIGTERM at
 * once used to close the cache under that release ("database connection is
 * not open"). The stop now waits for requests in flight before closing.
 */
t.test('SIGTERM right after closing a 50 MB file: exit 0, the object intact (3 times)', async (t) => {
  const local = targets.find((x): x is MountTarget => x.name === 'local' && 'remote' in x);
  if (local === undefined) throw new Error('the local target is always there');
  const big = randomBytes(50 * 1024 * 1024);
  const bigFile = join(scratch, 'big.bin');
  await writeFile(bigFile, big);
  for (let round = 1; round <= 3; round++) {
    const m = await mount(local.remote, { env: local.env });
    t.teardown(() => m.unmount());
    const written = await sh(`cp '${bigFile}' '${m.dir}/big-${round}.bin' && kill -TERM ${m.pid}`);
    t.equal(written.code, 0, written.stderr);
    t.same(await m.exit, { code: 0, signal: null }, `round ${round}: exit 0 (stderr: ${m.stderr()})`);
    t.notMatch(m.stderr(), /not open|error/i, `round ${round}: no error in the log`);
    t.equal(await bucketSha(local, `big-${round}.bin`), sha256(big), `round ${round}: the object is intact`);
  }
});

t.test('a stale mount (daemon and auto_unmount watcher killed) is cleared by the next mount', async (t) => {
  const dir = await newDir('stale');
  const remote = `memory://stale-${randomBytes(3).toString('hex')}`;
  const first = await mount(remote, { dir });
  const watcher = await sh(`pgrep -P ${first.pid} -f auto_unmount`);
  t.match(watcher.stdout, /^\d+\n$/, 'libfuse runs one auto_unmount watcher per mount');
  await sh(`kill -9 ${watcher.stdout.trim()}`);
  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  t.match((await sh(`stat '${dir}'`)).stderr, /Transport endpoint is not connected/, 'the mount is stale');
  const again = await mount(remote, { dir });
  // In this order: the first daemon's clean-up must not find (and force off) the second's mount.
  t.teardown(async () => {
    await again.unmount();
    await first.kill9();
  });
  t.match(again.stderr(), /^bucketfs: warning: cleared a stale mount on .* left by a daemon that died/m);
  t.equal((await sh(`touch '${dir}/x' && ls '${dir}'`)).stdout, 'x\n', 'the new mount serves');
});

/** One stderr line, `code`, nothing on stdout. */
function failsWith(t: Test, result: CliResult, code: number, pattern: RegExp): void {
  t.equal(result.code, code, `exit ${code} (stderr: ${result.stderr})`);
  t.equal(lines(result.stderr).length, 1, 'exactly one stderr line');
  t.match(result.stderr, pattern);
  t.equal(result.stdout, '');
}

t.test('start-up failures: one line, their own exit code, nothing mounted, no cache dir', async (t) => {
  const dir = await newDir('bad');
  const cacheDir = join(scratch, 'never-created');
  const mountCli = (remote: string, mountpoint: string, env: Record<string, string> = {}) => runCli(['mount', remote, mountpoint, '--cache-dir', cacheDir], { env });
  failsWith(t, await mountCli('notaurl', dir), 2, /^bucketfs: invalid remote 'notaurl': not a URL/);
  failsWith(t, await mountCli('ftp://host/x', dir), 2, /unknown scheme 'ftp:'/);
  failsWith(t, await mountCli(`file://${scratch}/no-such-bucket`, dir), 3, /^bucketfs: cannot mount file:\/\/.*no-such-bucket: the bucket does not exist$/m);
  failsWith(t, await mountCli('memory://m', join(scratch, 'no-such-dir')), 3, /mountpoint .*no-such-dir does not exist/);
  failsWith(t, await mountCli('memory://m', payloadFile), 5, /mountpoint .*payload\.bin is not a directory/);
  failsWith(t, await mountCli('memory://m', scratch), 5, /mountpoint .* is not empty/);
  failsWith(t, await runCli(['mount', 'memory://m', dir, '--file-mode', 'rw']), 2, /invalid mode 'rw'/);
  const rgw = targets.find((x): x is MountTarget => x.name === 'rgw' && 'remote' in x);
  if (rgw !== undefined) {
    const missing = rgw.remote.replace(/^s3:\/\/[^?]+/, 's3://no-such-bucket-mount');
    failsWith(t, await mountCli(missing, dir, rgw.env), 3, /^bucketfs: cannot mount s3:\/\/no-such-bucket-mount\/: the bucket does not exist$/m);
    const denied = await mountCli(rgw.remote, dir, { ...rgw.env, AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' });
    failsWith(t, denied, 4, /check the credentials/);
  }
  t.equal(await fuseMountAt(dir), undefined, 'nothing was mounted');
  t.notOk(await exists(cacheDir), 'no cache dir was made');
});

t.test('FUSE unavailable (/dev/fuse missing): one line naming the fix, exit 6', async (t) => {
  if ((await sh('command -v unshare')).code !== 0) {
    console.log('SKIPPED: mount without FUSE: unshare (util-linux) is not installed');
    t.pass('skipped');
    return;
  }
  const dir = await newDir('nofuse');
  // A private mount namespace with an empty /dev: the machine's /dev is untouched.
  const r = await sh(`unshare -m bash -c 'mount -t tmpfs none /dev && exec node bin/bucketfs.js mount memory://m ${dir}'`);
  t.equal(r.code, 6, r.stderr);
  t.equal(lines(r.stderr).length, 1);
  t.match(r.stderr, /^bucketfs: FUSE is not available: \/dev\/fuse is missing; load the module \(modprobe fuse\)/);
});

t.test('a second mount on a live mountpoint, or of a cache dir in use, is refused', async (t) => {
  const m = await mount(`memory://busy-${randomBytes(3).toString('hex')}`);
  t.teardown(() => m.unmount());
  const other = await newDir('other');
  const onLive = await runCli(['mount', 'memory://x', m.dir, '--cache-dir', join(scratch, 'c-live')]);
  t.not(onLive.code, 0);
  t.equal(lines(onLive.stderr).length, 1);
  t.match(onLive.stderr, /is already mounted by bucketfs#memory:\/\/busy-/);
  const sharedCache = await runCli(['mount', 'memory://x', other, '--cache-dir', m.cacheDir]);
  t.not(sharedCache.code, 0);
  t.match(sharedCache.stderr, new RegExp(`cache dir ${m.cacheDir} is in use by bucketfs process ${m.pid}`));
  t.equal(await fuseMountAt(other), undefined);
  t.ok(await fuseMountAt(m.dir), 'the first mount is untouched');
});

t.test('bucketfs unmount: busy and not-mounted directories are refused with one line', async (t) => {
  const notMounted = await runCli(['unmount', scratch]);
  t.not(notMounted.code, 0);
  t.match(notMounted.stderr, /^bucketfs: .* is not a FUSE mount$/m);
  const m = await mount(`memory://unmount-${randomBytes(3).toString('hex')}`);
  t.teardown(() => m.unmount());
  await sh(`echo x > '${m.dir}/f'`);
  const reader = spawn('bash', ['-c', `exec 3<'${m.dir}/f'; exec sleep 300`], { stdio: 'ignore' });
  await sleep(200);
  const busy = await runCli(['unmount', m.dir]);
  t.not(busy.code, 0);
  t.equal(lines(busy.stderr).length, 1);
  t.match(busy.stderr, /it is busy/);
  t.ok(await fuseMountAt(m.dir), 'still mounted');
  reader.kill('SIGKILL');
  await new Promise((r) => reader.once('exit', r));
  const ok = await runCli(['unmount', m.dir, '--cache-dir', m.cacheDir]);
  t.equal(ok.code, 0, ok.stderr);
  t.same(await m.exit, { code: 0, signal: null });
});

t.test('--read-only mounts read-only', async (t) => {
  const m = await mount(`memory://ro-${randomBytes(3).toString('hex')}`, { args: ['--read-only'] });
  t.teardown(() => m.unmount());
  t.match((await sh(`touch '${m.dir}/x'`)).stderr, /Read-only file system/);
  t.match((await sh(`grep ' ${m.dir} ' /proc/self/mountinfo`)).stdout, / ro,/, 'the kernel knows it is read-only');
});
